"""``python scripts/frontier.py ckpt_path=PATH [options]``: every operating point of a model.

Embeds the run's test split (as ``scripts/eval.py``), then measures each prefix x code x index
of :mod:`metriclab.deployment.frontier` on it: Recall@K, R-precision, MAP@R, bytes per vector,
build seconds, milliseconds per query, and the fraction of exact-search R@1 kept. Writes into
``RUN_DIR/frontier/`` (or ``out=DIR``):

- ``frontier.md`` (the table, Pareto points marked ``*``), ``frontier.csv``, ``frontier.json``;
- ``frontier.png``: R@1 against bytes per vector (log scale), one line per code/index, the
  Pareto front in black;
- TensorBoard: the chart as image ``frontier/r1_vs_bytes`` and one scalar per point, in
  ``RUN_DIR/tensorboard/frontier`` (``tensorboard --logdir RUN_DIR``).

``scripts/export.py index=auto`` reads ``frontier.json`` to pick the index it writes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from metriclab.commands import app
from metriclab.deployment.embedding import embed
from metriclab.deployment.frontier import OperatingPoint, measure, pareto
from metriclab.deployment.loading import (
    Run,
    build_eval_datamodule,
    load_model,
    open_run,
    pick_device,
)
from metriclab.errors import ConfigError
from metriclab.pictures.curves import recall_vs_bytes
from metriclab.runs.report import write_json_atomic

#: The command's primary config, ``configs/frontier.yaml`` (its settings and their defaults).
CONFIG = "frontier"
COLUMNS = ("recall@1", "recall@8", "map@r")


def parse_dims(value: list[int] | str | None, run: Run, full: int) -> tuple[int, ...]:
    """``dims=[64,128]`` (or the text ``'64,128'``, or ``64``) -> ``(64, 128)``; ``null``: the
    run's Matryoshka prefixes, else ``(full,)``."""
    listed = isinstance(value, list | tuple)
    shown = f"[{','.join(map(str, value))}]" if listed else value
    parts = list(value) if listed else str(value or "").replace(" ", "").split(",")
    parts = [p for p in parts if str(p).strip()]
    if parts:
        try:
            dims = tuple(sorted({int(str(p)) for p in parts}))
        except ValueError:
            raise ConfigError(
                f"dims={shown}: expected embedding sizes, e.g. dims=[64,128]"
            ) from None
    else:
        loss = run.cfg.get("loss") or {}
        if "MatryoshkaLoss" in str(loss.get("_target_", "")):
            from metriclab.losses.matryoshka import prefix_dims

            dims = tuple(prefix_dims(loss.get("dims"), full))
        else:
            dims = (full,)
    bad = [d for d in dims if not 1 <= d <= full]
    if bad:
        raise ConfigError(
            f"dims={shown}: {bad[0]} is not a prefix of the {full}-d embedding; use 1..{full}"
        )
    return dims


def markdown(points: list[OperatingPoint], front: list[OperatingPoint]) -> str:
    """The table: one row per point, Pareto points (R@1 vs bytes) marked ``*``."""
    head = (
        "| dims | code | index | params | bytes/vector | R@1 | R@8 | MAP@R | kept R@1 "
        "| ms/query | build s | front |"
    )
    lines = [head, "|" + "---|" * 12]
    for p in points:
        m = p.metrics
        cells = [
            p.dims,
            p.code,
            p.index,
            " ".join(f"{k}={v}" for k, v in p.params.items()),
            f"{p.bytes_per_vector:g}",
            *(f"{m.get(c, float('nan')):.4f}" for c in COLUMNS),
            f"{100 * p.kept:.1f}%",
            f"{p.ms_per_query:.3f}",
            f"{p.build_s:.2f}",
            "*" if p in front else "",
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def log_tensorboard(folder: Path, png: bytes, points: list[OperatingPoint]) -> None:
    """The chart as an image and each point's R@1 as a scalar (step = bytes per vector)."""
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    with SummaryWriter(str(folder)) as writer:
        writer.add_image("frontier/r1_vs_bytes", image, dataformats="HWC")
        for p in points:
            tag = f"frontier/{p.code}_{p.index}" + "".join(f"_{k}{v}" for k, v in p.params.items())
            writer.add_scalar(tag, p.metrics["recall@1"], global_step=int(p.bytes_per_vector))


def frontier_run(run: Run, options: dict[str, Any]) -> tuple[list[OperatingPoint], Path]:
    """Embed the run's test split, measure every point, write the outputs."""
    datamodule = build_eval_datamodule(run.cfg)
    parts = datamodule.test_splits
    device = pick_device(options["device"])
    model = load_model(run, device)
    size = int(getattr(model, "embedding_size", 0) or run.cfg.head.embedding_size)
    dims = parse_dims(options["dims"], run, size)  # checked before the embedding pass
    embedded = {
        part: embed(
            model,
            datamodule.datasets[part],
            datamodule.eval_batch_size,
            device,
            datamodule.num_workers,
            options["progress"],
            part,
            on_device=True,
        )
        for part in parts
    }
    (query, q_labels), (gallery, g_labels) = embedded[parts[0]], embedded[parts[-1]]
    query, q_labels = query.cpu().numpy(), q_labels.cpu().numpy()
    if len(parts) == 1:
        gallery = g_labels = None
    else:
        gallery, g_labels = gallery.cpu().numpy(), g_labels.cpu().numpy()
    points = measure(
        query, q_labels, gallery, g_labels, dims=dims, threads=options["threads"] or None
    )
    front = pareto(points)
    out = Path(options["out"]) if options["out"] else run.run_dir / "frontier"
    out.mkdir(parents=True, exist_ok=True)
    (out / "frontier.md").write_text(markdown(points, front) + "\n", encoding="utf-8")
    rows = [p.row() | {"pareto": p in front} for p in points]
    with open(out / "frontier.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_json_atomic(
        out / "frontier.json",
        {"ckpt": str(run.ckpt), "split": "+".join(parts), "points": rows},
    )
    title = f"{run.ckpt.parent.parent.name}: {run.cfg.data.get('name', 'data')} {'+'.join(parts)}"
    png = recall_vs_bytes(points, front, title)
    (out / "frontier.png").write_bytes(png)
    if options["tensorboard"]:
        log_tensorboard(run.run_dir / "tensorboard" / "frontier", png, points)
    return points, out


def run(cfg: DictConfig) -> list[OperatingPoint]:
    """The command on its composed config (``configs/frontier.yaml``): reopen the run with
    ``run_overrides`` applied, measure and write every point, print the table."""
    options = app.options(cfg, CONFIG)
    reopened = open_run(options["ckpt_path"], options["run_overrides"])
    points, out = frontier_run(reopened, options)
    print(markdown(points, pareto(points)))
    print(f"wrote {out / 'frontier.md'}, frontier.csv, frontier.json, frontier.png")
    return points


def main(argv: list[str]) -> int:
    """``python scripts/frontier.py ARGV`` in this process (see
    :func:`metriclab.commands.app.main`); exit status 2 with one ``error:`` line for a mistake."""
    return app.main(CONFIG, argv, run)
