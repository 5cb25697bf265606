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

from metriclab.commands.args import run_command
from metriclab.deployment.embedding import embed_tensors
from metriclab.deployment.frontier import OperatingPoint, measure, pareto
from metriclab.deployment.loading import (
    Run,
    build_eval_datamodule,
    load_model,
    open_run,
    pick_device,
)
from metriclab.errors import ConfigError
from metriclab.runs.report import write_json_atomic

OPTIONS: dict[str, Any] = {
    "ckpt_path": None,  # the checkpoint (or a run directory: its checkpoints/best.ckpt)
    "dims": "",  # prefixes, e.g. 64,128,512 (default: the loss's Matryoshka dims, else full)
    "device": "auto",  # where the model embeds: auto, cpu, cuda
    "threads": 0,  # FAISS threads (0: FAISS's default)
    "out": None,  # output folder (default RUN_DIR/frontier)
    "progress": True,
    "tensorboard": True,  # also log the chart and the points to RUN_DIR/tensorboard/frontier
}
COLUMNS = ("recall@1", "recall@8", "map@r")


def parse_dims(text: str, run: Run, full: int) -> tuple[int, ...]:
    """``dims=64,128`` -> ``(64, 128)``; empty: the run's Matryoshka prefixes, else ``(full,)``."""
    if text.strip():
        try:
            dims = tuple(sorted({int(t) for t in text.replace(" ", "").split(",") if t}))
        except ValueError:
            raise ConfigError(
                f"dims={text}: expected sizes separated by commas, e.g. dims=64,128"
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
            f"dims={text}: {bad[0]} is not a prefix of the {full}-d embedding; use 1..{full}"
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


def chart(points: list[OperatingPoint], front: list[OperatingPoint], title: str) -> bytes:
    """PNG bytes: R@1 against bytes per vector, one line per code/index, the front in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[OperatingPoint]] = {}
    for p in points:
        label = f"{p.code} {p.index}" + "".join(f" {k}={v}" for k, v in p.params.items())
        series.setdefault(label, []).append(p)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, max(2, len(series))))
    for (label, group), color in zip(series.items(), colors, strict=False):
        group = sorted(group, key=lambda p: p.bytes_per_vector)
        ax.plot(
            [p.bytes_per_vector for p in group],
            [p.metrics["recall@1"] for p in group],
            marker="o",
            markersize=3,
            linewidth=1,
            color=color,
            label=label,
        )
    best = sorted(front, key=lambda p: p.bytes_per_vector)
    ax.plot(
        [p.bytes_per_vector for p in best],
        [p.metrics["recall@1"] for p in best],
        color="black",
        linewidth=2,
        drawstyle="steps-post",
        label="Pareto front",
    )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per vector (log scale)")
    ax.set_ylabel("Recall@1")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


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
        part: embed_tensors(
            model,
            datamodule.datasets[part],
            datamodule.eval_batch_size,
            device,
            datamodule.num_workers,
            options["progress"],
            part,
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
    png = chart(points, front, title)
    (out / "frontier.png").write_bytes(png)
    if options["tensorboard"]:
        log_tensorboard(run.run_dir / "tensorboard" / "frontier", png, points)
    return points, out


def _main(options: dict[str, Any], overrides: list[str]) -> None:
    run = open_run(options["ckpt_path"], overrides)
    points, out = frontier_run(run, options)
    print(markdown(points, pareto(points)))
    print(f"wrote {out / 'frontier.md'}, frontier.csv, frontier.json, frontier.png")


def main(argv: list[str]) -> int:
    """The command (``key=value`` options of :data:`OPTIONS`; other tokens override the run's
    config, e.g. ``data.root=DIR``). Exit status 2 with one ``error:`` line for a mistake."""
    return run_command(_main, argv, OPTIONS, allow_overrides=True)
