"""Every way a model is loaded: a trained run reopened, or an exported embedder.

- **A run** (README.md lists its files) holds ``.hydra/config.yaml`` and ``checkpoints/*.ckpt``;
  :func:`open_run` finds both from a checkpoint path, applies command-line overrides to the saved
  config (``data=cub`` swaps a whole config group, ``data.root=DIR`` sets one value) and
  :func:`load_model` rebuilds the embedding model and loads the checkpoint's weights
  (``torch.load(..., weights_only=True)``: no code in the file is run);
  :func:`build_eval_datamodule` reads its data, :func:`pick_device` says where it runs.
- **An export** (``scripts/export.py``'s folder): :func:`load_embedder` opens the embedder
  ``index.json`` names, TorchScript (:func:`load_torchscript`) or ONNX (:func:`onnx_embedder`),
  as an ``images [B, C, S, S] -> embeddings [B, D]`` callable on the CPU.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from metriclab.build import build_model
from metriclab.data import MetricDataModule
from metriclab.errors import ConfigError
from metriclab.models import EmbeddingModel
from metriclab.runs.checkpoints import load_checkpoint

if TYPE_CHECKING:
    from metriclab.deployment.index import IndexMeta

#: An exported embedder: ``images [B, C, S, S] -> embeddings [B, D]``.
Embedder = Callable[[torch.Tensor], torch.Tensor]

#: The configs shipped inside the package (``src/metriclab/configs`` links to the checkout's
#: ``configs/``; a wheel holds a copy): group overrides such as ``data=cub`` are read from here.
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class Run:
    """A checkpoint file, the run directory it belongs to and the run's config."""

    ckpt: Path
    run_dir: Path
    cfg: DictConfig


def find_run_dir(ckpt: Path) -> Path:
    """The nearest folder at or above the checkpoint's folder that holds ``.hydra/config.yaml``."""
    for folder in [ckpt.parent, *ckpt.parent.parents]:
        if (folder / ".hydra" / "config.yaml").is_file():
            return folder
    raise ConfigError(
        f"no .hydra/config.yaml found above checkpoint {ckpt}; pass a checkpoint inside a "
        "training run directory (RUN_DIR/checkpoints/best.ckpt)"
    )


def open_run(ckpt_path: str | None, overrides: Sequence[str] = (), configs: Path = CONFIGS) -> Run:
    """Find the run of ``ckpt_path`` and load its saved config with ``overrides`` applied.

    ``paths.output_dir`` is set to the run directory (the saved value is Hydra's run-time one).
    """
    if not ckpt_path:
        raise ConfigError("no checkpoint given; pass ckpt_path=RUN_DIR/checkpoints/best.ckpt")
    ckpt = Path(ckpt_path).expanduser()
    if ckpt.is_dir() and (ckpt / "checkpoints" / "best.ckpt").is_file():
        ckpt = ckpt / "checkpoints" / "best.ckpt"  # a run directory: its best checkpoint
    if not ckpt.is_file():
        raise ConfigError(
            f"ckpt_path={ckpt_path}: no checkpoint file there; pass an existing .ckpt file, "
            "e.g. outputs/runs/DATE/TIME/checkpoints/best.ckpt"
        )
    ckpt = ckpt.resolve()
    run_dir = find_run_dir(ckpt)
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    cfg = apply_overrides(cfg, overrides, configs)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    return Run(ckpt=ckpt, run_dir=run_dir, cfg=cfg)


def apply_overrides(cfg: DictConfig, overrides: Sequence[str], configs: Path) -> DictConfig:
    """``group=name`` (a file ``configs/<group>/<name>.yaml``) replaces ``cfg[group]`` with that
    config; any other ``key=value`` (or ``+key=value``) sets one value, typed as Hydra types it."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(f"cannot parse override: {str(exc).splitlines()[0]}") from None
    groups, values = [], []
    for override in parsed:
        key, value = override.key_or_group, override.value()
        if "." not in key and (configs / key).is_dir():
            if not (isinstance(value, str) and (configs / key / f"{value}.yaml").is_file()):
                names = sorted(p.stem for p in (configs / key).glob("*.yaml"))
                raise ConfigError(
                    f"{key}={value}: no config {configs / key}/{value}.yaml; "
                    f"choose one of {', '.join(names)}"
                )
            groups.append((key, value))
        else:
            values.append((key, value))
    if groups:  # first the group choices, then single values (as Hydra orders them)
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
            fresh = compose("train", overrides=[f"{k}={v}" for k, v in groups])
        GlobalHydra.instance().clear()
        with open_dict(cfg):
            for key, _ in groups:
                cfg[key] = fresh[key]
    with open_dict(cfg):
        for key, value in values:
            OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def load_model(run: Run, device: str | torch.device = "cpu") -> EmbeddingModel:
    """The run's embedding model with the checkpoint's weights, in eval mode on ``device``."""
    checkpoint = load_checkpoint(run.ckpt)  # one ConfigError line for a bad or unsafe file
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else {}
    weights = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    model = build_model(run.cfg)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected or not weights:
        first = (list(missing) or list(unexpected) or ["no model.* weights"])[0]
        raise ConfigError(
            f"checkpoint {run.ckpt} does not fit the model of {run.run_dir}/.hydra/config.yaml "
            f"({len(missing)} missing, {len(unexpected)} unexpected weights, e.g. {first}); "
            "evaluate it with the run directory that wrote it and no backbone/head overrides"
        )
    return model.to(device).eval()


def build_eval_datamodule(cfg: DictConfig) -> MetricDataModule:
    """The run's datamodule with every split read, but no training batch sampler (its
    classes-per-batch checks concern training only: evaluating a 2-class split is fine)."""
    datamodule = instantiate(cfg.data, sampler=None, seed=cfg.get("seed", 0))
    datamodule.setup("test")
    return datamodule


def pick_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} but CUDA is not available; use device=cpu")
    return torch.device(device)


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    """A saved TorchScript embedder, on the CPU, in eval mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
        return torch.jit.load(str(path), map_location="cpu").eval()


def onnx_embedder(path: Path) -> Embedder:
    """``images [B, C, S, S] -> embeddings [B, D]`` through onnxruntime (CPU)."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "onnxruntime is not installed; pip install onnxruntime (or pip install -e . again)"
        ) from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda images: torch.from_numpy(session.run(None, {name: images.cpu().numpy()})[0])


def load_embedder(folder: Path, meta: IndexMeta, kind: str) -> Embedder:
    """The exported model ``kind`` (``torchscript`` or ``onnx``) of an index folder as
    ``images -> embeddings``; a kind the export lacks is one line naming those it has."""
    if kind not in meta.models:
        raise ConfigError(
            f"model={kind}: the index has only {', '.join(meta.models)}; choose one of those"
        )
    path = folder / meta.models[kind]
    return onnx_embedder(path) if kind == "onnx" else load_torchscript(path)
