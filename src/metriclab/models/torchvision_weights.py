"""Loading ImageNet weights into a torchvision model: downloaded, or from a local file.

Every failure is a :class:`~metriclab.errors.ConfigError` with one line that says what failed and
how to fix it (most often: the machine is offline, set ``backbone.weights_path``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from metriclab.errors import ConfigError


def _one_line(err: BaseException) -> str:
    """``"TypeName: message"`` squeezed onto one line."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def weights_file_name(name: str) -> tuple[str, str]:
    """The ``(file name, url)`` of torchvision's default ImageNet weights for model ``name``."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    return Path(urlparse(weights.url).path).name, weights.url


def download_state_dict(name: str) -> dict[str, torch.Tensor]:
    """Fetch torchvision's default ImageNet weights of ``name`` (``...Weights.DEFAULT``).

    Uses torch hub's cache (``$TORCH_HOME/hub/checkpoints``), so a file already there loads with
    no network. Raises a one-line :class:`ConfigError` naming ``backbone.weights_path`` when the
    download fails.
    """
    weights = torchvision.models.get_model_weights(name).DEFAULT
    file_name, url = weights_file_name(name)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except OSError as err:  # URLError, HTTPError, socket and SSL errors are all OSErrors
        raise ConfigError(
            f"Could not download the ImageNet weights of {name} ({_one_line(err)}); this machine "
            f"seems offline: fetch {file_name} ({url}) elsewhere and set "
            f"backbone.weights_path=/path/to/{file_name}, or set backbone.pretrained=false"
        ) from err
    except RuntimeError as err:  # a hash mismatch or a truncated file in the hub cache
        raise ConfigError(
            f"The downloaded ImageNet weights of {name} are broken ({_one_line(err)}); delete "
            f"{file_name} from {torch.hub.get_dir()}/checkpoints and retry, or set "
            f"backbone.weights_path=/path/to/{file_name}"
        ) from err


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict saved with ``torch.save(model.state_dict(), path)``.

    A checkpoint that wraps it under ``"state_dict"`` or ``"model"`` is unwrapped, and a
    ``"module."`` prefix (from ``DataParallel``) is removed.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"backbone.weights_path={path} does not exist; give the path of a torchvision weights "
            "file (e.g. resnet50-11ad3fa6.pth) or set backbone.weights_path=null"
        )
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and unpickling-policy errors have no common base
        raise ConfigError(
            f"Could not read backbone.weights_path={path} as a PyTorch state dict "
            f"({_one_line(err)}); save one with torch.save(model.state_dict(), path)"
        ) from err
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ConfigError(
            f"backbone.weights_path={path} holds a {type(state).__name__}, not a state dict of "
            "tensors; save one with torch.save(model.state_dict(), path)"
        )
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)


def load_into(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    name: str,
    source: str,
    ignored: tuple[str, ...] = (),
) -> None:
    """Load ``state`` into torchvision model ``name``, skipping keys that start with ``ignored``.

    ``ignored`` names the parts the backbone drops (the classifier, auxiliary heads): their keys
    may be absent from ``state`` or have any shape. Any other missing, unexpected or mis-shaped
    key raises a one-line :class:`ConfigError` that names ``source`` (where the weights came from).
    """
    kept = {k: v for k, v in state.items() if not k.startswith(ignored)} if ignored else state
    hint = f"give weights of torchvision.models.{name} (e.g. {weights_file_name(name)[0]})"
    try:
        result = model.load_state_dict(kept, strict=False)
    except RuntimeError as err:
        details = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = details[1] if len(details) > 1 else _one_line(err)
        raise ConfigError(f"The weights in {source} do not fit {name} ({reason}); {hint}") from err
    missing = [
        k
        for k in result.missing_keys
        if not k.startswith(ignored) and not k.endswith("num_batches_tracked")
    ]
    unexpected = [k for k in result.unexpected_keys if not k.startswith(ignored)]
    if missing or unexpected:
        raise ConfigError(
            f"The weights in {source} do not fit {name}: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}) and {len(unexpected)} unexpected keys (e.g. {unexpected[:3]}); "
            f"{hint}"
        )
