"""``python scripts/export.py ckpt_path=PATH [gallery=test|DIR] [out=DIR]``: ship a checkpoint.

The settings are ``configs/export.yaml`` (:func:`run` takes them composed, :func:`main` composes
them from ``key=value`` tokens); any ``key=value`` of ``train.py`` overrides the run's saved
config (``data.root=DIR`` when the data moved), see :mod:`metriclab.commands.app`.

Writes into ``RUN_DIR/export/`` (or ``out=DIR``):

- ``embedder.pt``: the embedding model as TorchScript (``torch.jit.trace``), images
  ``[B, C, S, S]`` (normalised as ``index.json``'s ``transform`` says) -> embeddings ``[B, D]``;
- ``embedder.onnx``: the same as ONNX (input ``images``, output ``embeddings``, dynamic batch);
- ``index.faiss`` + ``index.json``: an exact cosine index over the gallery, with each row's
  image path and label (see :mod:`metriclab.deployment.index`). ``gallery=`` is a split of the run's
  data (in-memory images such as digits are written as PNGs under ``gallery/<label>/``) or a
  folder of images (labelled by their class sub-folder, if any).

Both exported models are run on gallery images and must give the checkpoint's embeddings within
``atol`` (default 1e-4); ONNX is checked with onnxruntime (onnx, onnxruntime and onnxscript are
core dependencies; without them ``onnx=true`` is refused before anything is written).

Nothing but an export is ever replaced: the export is written into a sibling folder
(``.NAME.new-*``) and moved into place only when complete. An ``out=`` folder that holds files is
refused unless it is a previous export (its ``index.json`` names the ``metriclab-index`` format);
a previous export is swapped out atomically (renamed aside, the new one renamed in, the old one
removed), and whatever it held besides what an export writes (``retrieval/``, ``predictions/``,
a user's notes) is moved into the new one. A ``gallery/`` holding files the previous export did
not write is refused, so no user file is ever deleted.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from metriclab.commands import app
from metriclab.deployment.bundle import calibrate_bundle, calibration_settings, save_centroids
from metriclab.deployment.embedding import (
    ImageFiles,
    embed,
    eval_transform,
    folder_labels,
    item_names,
    list_images,
    transform_spec,
)
from metriclab.deployment.index import FORMAT, IndexMeta, save_index
from metriclab.deployment.loading import (
    Run,
    build_eval_datamodule,
    load_model,
    load_torchscript,
    onnx_embedder,
    open_run,
)
from metriclab.errors import ConfigError

CONFIG = "export"
#: The settings (``configs/export.yaml``) with their defaults.
OPTIONS: dict[str, Any] = app.defaults(CONFIG)
KINDS, CODES = ("flat", "ivf", "hnsw"), ("fp32", "fp16", "int8", "binary", "binary+rescore")


SPLITS = ("train", "val", "test", "query", "gallery")
#: What an export writes at the top of its folder (anything else in a previous export is kept).
EXPORT_NAMES = (
    "embedder.pt",
    "embedder.onnx",
    "index.faiss",
    "index.json",
    "vectors.npy",
    "centroids.npy",
    "gallery",
)
#: The packages ``onnx=true`` needs (torch.onnx.export imports onnxscript, the check onnxruntime).
ONNX_MODULES = ("onnx", "onnxruntime", "onnxscript")
#: Printed by an export without ``calibrate=``: predict.py then rejects nothing.
NO_THRESHOLD = (
    "note: no open-set threshold: predict.py will answer every query with a class (none is "
    "unknown); to reject unknown classes export with calibrate=DIR (held-out images in class "
    "sub-folders, strangers included; docs/classification.md)"
)


def check_onnx_installed() -> None:
    """Import what ``onnx=true`` needs; a missing package is one line naming the pip command."""
    for name in ONNX_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(
                f"onnx=true needs the {name} package, which cannot be imported ({exc}); "
                "pip install onnx onnxruntime onnxscript (or pip install -e . again), "
                "or pass onnx=false"
            ) from None


def is_export(folder: Path) -> bool:
    """``folder/index.json`` exists and names the format :func:`save_index` writes."""
    try:
        meta = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and str(meta.get("format", "")).startswith(FORMAT.split("/")[0])


def foreign_gallery_files(folder: Path) -> list[Path]:
    """Files under ``folder/gallery`` that the export in ``folder`` did not write (not among
    its ``index.json`` paths), first few only."""
    gallery = folder / "gallery"
    if not gallery.is_dir():
        return []
    paths = json.loads((folder / "index.json").read_text(encoding="utf-8")).get("paths", [])
    ours = {os.path.realpath(p) for p in paths}
    # a path recorded relative (out= given relative) is matched by its gallery/<class>/<file> end
    ours_relative = {Path(p).parts[-3:] for p in paths if not os.path.isabs(p)}
    foreign = []
    for top, _, names in os.walk(gallery):
        for name in names:
            path = Path(top, name)
            tail = ("gallery", *path.relative_to(gallery).parts)
            if os.path.realpath(path) not in ours and tail not in ours_relative:
                foreign.append(path)
        if len(foreign) >= 3:
            break
    return sorted(foreign)[:3]


def check_out(out: Path) -> bool:
    """Refuse an ``out=`` that metriclab must not write into; ``True`` when it is a previous
    export to replace. Checked before anything is written."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={out} is a file, not a folder; pass a new or empty folder")
    if not out.is_dir() or not any(out.iterdir()):
        return False
    if not is_export(out):
        raise ConfigError(
            f"out={out} holds files and is not a previous export (no index.json of "
            f"format {FORMAT}); nothing was written: pass a new or empty folder"
        )
    foreign = foreign_gallery_files(out)
    if foreign:
        raise ConfigError(
            f"out={out} is a previous export, but its gallery/ holds {foreign[0]}, which the "
            "export did not write; move such files out of gallery/ (or pass another out=)"
        )
    return True


def swap_in(new: Path, out: Path) -> None:
    """Move the complete export ``new`` to ``out``: a previous export there is renamed aside,
    ``new`` renamed in, what the old one held besides an export's files moved over, the rest
    removed. Each step is a rename on one file system, so ``out`` is never half-written."""
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    new.rename(out)
    for entry in old.iterdir():  # retrieval/, predictions/, anything the user put there
        if entry.name not in EXPORT_NAMES and not (out / entry.name).exists():
            entry.rename(out / entry.name)
    shutil.rmtree(old)


def export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Trace ``model`` on ``example [B, C, S, S]`` and save it (``torch.jit.load`` reads it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notice, shape-dependent branches
        traced = torch.jit.trace(model, example, check_trace=False)
        traced.save(str(path))
    return path


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export ``model`` to ONNX with a dynamic batch axis (the TorchScript-based exporter, which
    needs no extra package; the torch.export-based one where that is all torch offers)."""
    names = {"input_names": ["images"], "output_names": ["embeddings"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}},
                dynamo=False,
                **names,
            )
        except (TypeError, RuntimeError, NotImplementedError):  # no legacy exporter left
            batch = torch.export.Dim("batch")
            torch.onnx.export(
                model, (example,), str(path), dynamic_shapes=({0: batch},), dynamo=True, **names
            )
    return path


def max_difference(reference: torch.nn.Module, candidate, images: torch.Tensor) -> float:
    """``max |reference(images) - candidate(images)|`` over all entries."""
    with torch.inference_mode():
        return float((reference(images) - candidate(images)).abs().max())


def gallery_dataset(run: Run, source: str, spec: dict, out: Path, final: Path | None = None):
    """``(dataset, paths, labels, class_names)`` of ``gallery=source``: a split name (``train``,
    ``val``, ``test``, ``query``, ``gallery``) or else a folder (``./test`` for one named so).
    In-memory images are written under ``out/gallery`` and named by where they will be once the
    export is moved to ``final`` (default ``out``)."""
    if source not in SPLITS:
        files = list_images(source)
        labels, names = folder_labels(files, source)
        return (
            ImageFiles(files, labels, eval_transform(spec), spec["channels"], "gallery"),
            files,
            labels,
            names,
        )
    datamodule = build_eval_datamodule(run.cfg)
    if source not in datamodule.datasets:
        raise ConfigError(
            f"gallery={source}: the data has no {source} split (it has "
            f"{', '.join(datamodule.datasets)}); pass one of those or an image folder"
        )
    dataset = datamodule.datasets[source]
    labels = dataset.labels
    originals = dict(zip(labels.tolist(), dataset.split.labels.tolist(), strict=True))
    names = [str(originals.get(c, c)) for c in range(int(labels.max()) + 1)]  # the data's ids
    paths = item_names(dataset, source)
    if isinstance(dataset.split.items, np.ndarray):  # in-memory images: write them as PNGs
        where = [Path("gallery", names[y], f"{i:06d}.png") for i, y in enumerate(labels)]
        paths = [str((final or out) / rel) for rel in where]
        for i, rel in enumerate(where):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            dataset.image(i).save(out / rel)
    return dataset, paths, labels, names


def chosen_point(run: Run, options: dict[str, Any]) -> dict[str, Any]:
    """``index=auto``: the highest-R@1 point of ``frontier.json`` within the budgets (fewer bytes,
    then faster, on ties), as ``IndexMeta.index`` with what was measured for it."""
    path = Path(options["frontier"] or run.run_dir / "frontier" / "frontier.json")
    if not path.is_file():
        raise ConfigError(
            f"index=auto picks from measured operating points, but there is no {path}; run "
            f"python scripts/frontier.py ckpt_path={run.ckpt} first (or pass frontier=FILE)"
        )
    points = json.loads(path.read_text(encoding="utf-8"))["points"]
    budget_b, budget_ms = options["max_bytes_per_vector"], options["max_ms_per_query"]
    fits = [
        p
        for p in points
        if (not budget_b or p["bytes_per_vector"] <= budget_b)
        and (not budget_ms or p["ms_per_query"] <= budget_ms)
    ]
    if not fits:
        cheapest = min(points, key=lambda p: p["bytes_per_vector"])
        fastest = min(points, key=lambda p: p["ms_per_query"])
        raise ConfigError(
            f"no measured point fits max_bytes_per_vector={budget_b:g} and max_ms_per_query="
            f"{budget_ms:g} (the smallest is {cheapest['bytes_per_vector']:g} bytes, the fastest "
            f"{fastest['ms_per_query']:.3f} ms); raise a budget"
        )
    best = max(fits, key=lambda p: (p["recall@1"], -p["bytes_per_vector"], -p["ms_per_query"]))
    full = max(p["dims"] for p in points)
    exact = next(p for p in points if (p["dims"], p["code"], p["index"]) == (full, "fp32", "flat"))
    params = dict(token.split("=") for token in best["params"].split()) if best["params"] else {}
    return {
        "dims": best["dims"],
        "code": best["code"],
        "index": best["index"],
        "params": {k: int(v) for k, v in params.items()},
        "chosen_from": str(path),
        "budget": {"max_bytes_per_vector": budget_b, "max_ms_per_query": budget_ms},
        "measured": {
            k: best[k]
            for k in ("recall@1", "map@r", "bytes_per_vector", "ms_per_query")
            if k in best
        },
        "exact": {k: exact[k] for k in ("recall@1", "map@r", "bytes_per_vector") if k in exact},
    }


def index_spec(run: Run, options: dict[str, Any], size: int, n: int) -> dict[str, Any]:
    """``IndexMeta.index`` from the options (``{}``: exact fp32 flat over all dimensions)."""
    if options["index"] == "auto":
        return chosen_point(run, options)
    kind, code, dims = str(options["index"]), str(options["code"]), int(options["dims"]) or size
    if kind not in KINDS:
        raise ConfigError(f"index={kind}: use {', '.join(KINDS)} or auto")
    if code not in CODES and not (code.startswith("pq") and code[2:].isdigit()):
        raise ConfigError(f"code={code}: use {', '.join(CODES)} or pq<m> (e.g. pq16)")
    if not 1 <= dims <= size:
        raise ConfigError(f"dims={dims}: the embedding has {size} dimensions; use 1..{size}")
    if code.startswith("pq") and dims % int(code[2:]):
        raise ConfigError(f"code={code}: {int(code[2:])} sub-vectors must divide dims={dims}")
    if code.startswith("binary") and kind != "flat":
        raise ConfigError(f"code={code} is searched exhaustively (Hamming); use index=flat")
    params: dict[str, int] = {}
    if kind == "ivf":
        params = {
            "nlist": options["nlist"] or max(1, round(4 * n**0.5)),
            "nprobe": options["nprobe"],
        }
        params["nlist"] = min(params["nlist"], max(1, n // 39))
    elif kind == "hnsw":
        params = {"M": options["hnsw_m"], "efSearch": options["ef_search"]}
    if code == "binary+rescore":
        params = {"rescore": options["rescore"]}
    if (kind, code, dims) == ("flat", "fp32", size):
        return {}
    return {"dims": dims, "code": code, "index": kind, "params": params}


def export_run(run: Run, options: dict[str, Any]) -> tuple[Path, IndexMeta]:
    """Export the models and the gallery index of ``run``; see the module docstring."""
    out = Path(options["out"]) if options["out"] else run.run_dir / "export"
    if options["onnx"]:
        check_onnx_installed()
    check_out(out)
    model = load_model(run, "cpu")
    size = int(model.embedding_size)
    point = index_spec(run, options, size, 0)  # a mistake is refused before anything is written
    if options.get("calibrate"):
        calibration_settings(options)  # the same for the calibration options
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        meta = _write_export(run, options, model, point, staging, out)
        check_out(out)  # nothing changed there meanwhile
        swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # a failed export leaves nothing behind
    return out, meta


def _write_export(
    run: Run, options: dict[str, Any], model, point: dict, out: Path, final: Path
) -> IndexMeta:
    """Write the whole export into ``out`` (a staging folder), its paths naming ``final``."""
    size = int(model.embedding_size)
    spec = transform_spec(run.cfg.data)
    source = str(options["gallery"])
    dataset, paths, labels, names = gallery_dataset(run, source, spec, out, final)
    if options["index"] != "auto":  # IVF cells sized by the gallery
        point = index_spec(run, options, size, len(paths))
    sample = torch.stack([dataset[i][0] for i in range(min(16, len(dataset)))])
    models = {"torchscript": export_torchscript(model, sample[:2], out / "embedder.pt").name}
    check = {
        "torchscript": max_difference(model, load_torchscript(out / models["torchscript"]), sample)
    }
    if options["onnx"]:
        models["onnx"] = export_onnx(model, sample[:2], out / "embedder.onnx").name
        check["onnx"] = max_difference(model, onnx_embedder(out / models["onnx"]), sample)
    for name, diff in check.items():
        if not diff <= options["atol"]:
            raise ConfigError(
                f"the {name} export differs from the checkpoint by {diff:.2e} > atol="
                f"{options['atol']}; this backbone does not trace faithfully, export without it"
            )
    emb, _ = embed(model, dataset, options["batch_size"], "cpu", 0, options["progress"], "gallery")
    meta = IndexMeta(
        paths=list(paths),
        labels=[int(y) for y in labels],
        class_names=names,
        models=models,
        transform=spec,
        embedding_size=int(emb.shape[1]),
        source=str(options["gallery"]),
        checkpoint=str(run.ckpt),
        check=check,
        index=point,
    )
    save_index(out, emb, meta)
    save_centroids(out, emb, meta)  # for classifier=centroid (scripts/predict.py)
    if options.get("calibrate"):
        meta = calibrate_bundle(out, model, options)
    return meta


def run(cfg: DictConfig) -> None:
    """Export the run of ``cfg.ckpt_path`` (its saved config with ``cfg.run_overrides``) and
    print what was written."""
    options = app.options(cfg, CONFIG)
    reopened = open_run(options["ckpt_path"], options["run_overrides"])
    out, meta = export_run(reopened, options)
    diffs = ", ".join(f"{k} max |diff| {v:.1e}" for k, v in meta.check.items())
    print(f"exported {', '.join(meta.models.values())} ({diffs}) to {out}")
    print(f"index: {len(meta.paths)} images of gallery={meta.source}, D={meta.embedding_size}")
    if meta.index:
        p = meta.index
        params = " ".join(f"{k}={v}" for k, v in p["params"].items())
        print(f"operating point: {p['dims']}-d {p['code']} {p['index']} {params}".rstrip())
        if "measured" in p:
            m, e = p["measured"], p["exact"]
            print(
                f"measured on the run's test split: R@1 {m['recall@1']:.4f} at "
                f"{m['bytes_per_vector']:g} bytes/vector, {m['ms_per_query']:.3f} ms/query "
                f"(exact search: R@1 {e['recall@1']:.4f} at {e['bytes_per_vector']:g} bytes)"
            )
    if meta.classifier:  # calibrate=DIR
        c, (name, value) = meta.classifier, next(iter(meta.classifier["target"].items()))
        got = c["calibration"]
        print(
            f"threshold {c['threshold']:.4f} for {c['method']} ("
            + (f"k={c['k']}" if c["method"] == "knn" else f"temperature={c['temperature']:g}")
            + (
                " chosen of auto by calibration answers: "
                + ", ".join(f"T={t} {n}" for t, n in c["choices"].items())
                if "choices" in c
                else ""
            )
            + f") at target_{name}="
            f"{value:g}: precision {got['precision']:.3f}, coverage {got['coverage']:.3f} on "
            f"{got['n_queries']} calibration queries ({got['n_unknown']} of unknown classes)"
        )
        if got.get("n_accepted", 100) < 100:  # the binomial error of the precision: > 2 points
            print(
                f"warning: the target is met on only {got['n_accepted']} calibration answers; "
                "precision on new queries may differ by several points (add calibration images)"
            )
    else:
        print(NO_THRESHOLD)


def main(argv: list[str]) -> int:
    """``python scripts/export.py ARGV`` in this process; the exit status (2 with one ``error:``
    line for a user mistake)."""
    return app.main(CONFIG, argv, run)
