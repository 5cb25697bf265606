"""What every command shares: a Hydra app per command, its one-line errors and exit status.

Each command ``scripts/NAME.py`` is a Hydra app whose primary config is ``configs/NAME.yaml``
(``python scripts/NAME.py --help`` prints it). The command's logic is ``run(cfg)`` in
``metriclab.commands.<module>``; this module gives it the shared edges:

- :func:`check_command_line` refuses, before Hydra starts, a ``key=value`` whose key the primary
  config does not have (one ``error:`` line with the closest key, exit status 2);
- :func:`run_config` calls ``run(cfg)`` and turns a :class:`~metriclab.errors.ConfigError` into
  one ``error:`` line on stderr and exit status 2;
- :func:`main` composes the same config in-process (Hydra's compose API, the same override
  grammar) and runs it: what ``scripts/NAME.py`` does, callable from Python and tests.

The primary configs set ``hydra.run.dir: .`` and ``hydra.output_subdir: null``, so a command
leaves no ``outputs/`` folder; what it writes is what its own settings name.

A command that reopens a training run (``export.py``; its config has a ``run_overrides: []``
setting, :data:`RUN_OVERRIDES`) also takes any ``key=value`` whose key is a setting of
``train.py`` (``data.root=DIR`` when the data moved, ``data=cub``): :func:`check_command_line`
gathers those tokens, as written, into ``run_overrides=[...]``, and the command applies them to
the run's saved config (:func:`metriclab.deployment.loading.open_run`). :func:`options` gives the
command its settings as a dict, each typed like its default in the YAML file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from metriclab.console import quiet_third_party
from metriclab.errors import ConfigError, closest

#: The repository's (and the installed package's) ``configs/`` folder.
CONFIGS = Path(__file__).resolve().parents[1] / "configs"

EXIT_CONFIG = 2
#: The training command, whose settings a command that reopens a run also takes.
TRAIN = "train"
#: The setting that holds a reopened run's config overrides (see the module docstring).
RUN_OVERRIDES = "run_overrides"
#: What a bool setting takes as true and as false.
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")

Run = Callable[[DictConfig], Any]


def settings(config_name: str) -> list[str]:
    """The top-level keys of ``configs/<config_name>.yaml`` and the config groups it selects."""
    cfg = OmegaConf.load(CONFIGS / f"{config_name}.yaml")
    keys = [str(k) for k in cfg if k not in ("hydra", "defaults")]
    for entry in cfg.get("defaults", []):
        if OmegaConf.is_dict(entry) or isinstance(entry, dict):
            for group in entry:
                name = str(group).removeprefix("optional ").removeprefix("override ")
                if not name.startswith("hydra/") and name not in keys:
                    keys.append(name)
    return keys


def defaults(config_name: str) -> dict[str, Any]:
    """The settings of ``configs/<config_name>.yaml`` with their defaults (``hydra`` and
    ``defaults`` left out): what :func:`options` gives for an empty command line."""
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIGS / f"{config_name}.yaml"))
    return {k: v for k, v in cfg.items() if k not in ("hydra", "defaults")}


def reopens_run(config_name: str) -> bool:
    """Whether the command takes overrides of a training run's config (:data:`RUN_OVERRIDES`)."""
    return RUN_OVERRIDES in settings(config_name)


def run_setting(config_name: str, key: str) -> bool:
    """``key`` (dotted) overrides the reopened run's config: not a setting of the command, a
    setting of ``train.py``, and the command reopens a run."""
    first = key.split(".")[0]
    return (
        first not in settings(config_name) and reopens_run(config_name) and first in settings(TRAIN)
    )


def unparsable(token: str, argv: Sequence[str]) -> str | None:
    """Why Hydra would refuse ``token`` (its override grammar; a sweep ``a,b`` without
    ``-m``), or ``None``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        override = OverridesParser.create().parse_overrides([token])[0]
    except HydraException as exc:
        why = str(exc).splitlines()[0]
        return f"{token}: cannot parse it ({why}); quote the value, e.g. key='a b'"
    if override.is_sweep_override() and not {"-m", "--multirun"} & set(argv):
        return f"{token}: a list of values is a sweep (pass -m) or needs quotes, e.g. key='a,b'"
    return None


def unknown_setting(config_name: str, argv: Sequence[str]) -> str | None:
    """The error line for the first token that is not ``key=value`` with a key of the config
    (a dotted key is checked by its first part; ``hydra...`` and ``-...`` tokens pass), or that
    Hydra cannot parse. A command that reopens a run also takes the keys of ``train.py``."""
    keys = settings(config_name)
    for token in argv:
        if token.startswith("-") or token.startswith("hydra"):
            continue
        key, sep, _ = token.lstrip("+~").partition("=")
        if not sep:
            return f"expected key=value, got {token!r}; e.g. {keys[0]}=..."
        if key.split(".")[0] not in keys and not run_setting(config_name, key):
            also = " nor of train.py (the run's config)" if reopens_run(config_name) else ""
            return (
                f"{key}: no such setting of {config_name}.py{also}; the settings are "
                f"{', '.join(keys)}" + closest(key, keys)
            )
        problem = unparsable(token, argv)
        if problem:
            return problem
    return None


def quoted(token: str) -> str:
    """``token`` as one single-quoted string of Hydra's override grammar."""
    return "'" + token.replace("\\", "\\\\").replace("'", "\\'") + "'"


def gather_run_overrides(config_name: str, argv: Sequence[str]) -> list[str]:
    """``argv`` with the tokens that override the reopened run's config (:func:`run_setting`)
    gathered, as written, into one ``run_overrides=[...]`` token at the end."""
    own, run = [], []
    for token in argv:
        key, sep, _ = token.lstrip("+~").partition("=")
        plain = sep and not token.startswith(("-", "hydra"))
        (run if plain and run_setting(config_name, key) else own).append(token)
    if not run:
        return own
    return [*own, f"{RUN_OVERRIDES}=[{','.join(quoted(t) for t in run)}]"]


def check_command_line(config_name: str, argv: Sequence[str]) -> list[str]:
    """Exit with one ``error:`` line (status 2) for an unknown setting, before Hydra runs;
    else ``argv`` as Hydra should read it (:func:`gather_run_overrides`)."""
    message = unknown_setting(config_name, argv)
    if message:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    return gather_run_overrides(config_name, argv)


def options(cfg: DictConfig, config_name: str) -> dict[str, Any]:
    """The command's settings as a dict (``hydra`` left out), each typed like its default in
    ``configs/<config_name>.yaml``: a bool is ``true``/``false`` (or yes/no, on/off, 1/0), an int
    an integer, a float a number; a ``null`` or text default takes any value (a number as text,
    e.g. ``threshold=0.5`` or ``out=2024``). A value of another type raises
    :class:`ConfigError` (``key=value: expected a float``)."""
    values = OmegaConf.to_container(cfg, resolve=True)
    values.pop("hydra", None)
    for key, default in defaults(config_name).items():
        if key in values:
            values[key] = typed(key, values[key], default)
    return values


def typed(key: str, value: Any, default: Any) -> Any:
    """``value`` of setting ``key`` converted to the type of ``default``; see :func:`options`."""
    text = str(value).lower()
    if isinstance(default, bool):
        if text not in TRUE + FALSE:
            raise ConfigError(f"{key}={value}: expected true or false")
        return text in TRUE
    if isinstance(default, int | float) and not isinstance(value, int | float):
        raise ConfigError(f"{key}={value}: expected a {type(default).__name__}")
    if isinstance(default, int) and (isinstance(value, bool) or value != int(value)):
        raise ConfigError(f"{key}={value}: expected a {type(default).__name__}")
    if isinstance(default, int | float):
        return type(default)(value)
    return str(value) if isinstance(value, int | float) else value  # a path or a word: text


def run_config(cfg: DictConfig, run: Run) -> int:
    """``run(cfg)``; a :class:`ConfigError` becomes one ``error:`` line and status 2."""
    quiet_third_party()
    try:
        run(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def compose(config_name: str, argv: Sequence[str]) -> DictConfig:
    """``configs/<config_name>.yaml`` with the ``key=value`` overrides ``argv``, as Hydra would
    compose it for ``scripts/<config_name>.py`` (a bad override raises :class:`ConfigError`)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        try:
            return hydra_compose(config_name=config_name, overrides=list(argv))
        except (HydraException, OmegaConfBaseException) as exc:
            message = " ".join(str(exc).split())
            raise ConfigError(f"{message}; see python scripts/{config_name}.py --help") from None


def main(config_name: str, argv: Sequence[str], run: Run) -> int:
    """Run the command ``config_name`` on ``argv`` in this process; the exit status."""
    message = unknown_setting(config_name, argv)
    if message:
        print(f"error: {message}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        cfg = compose(config_name, gather_run_overrides(config_name, argv))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return run_config(cfg, run)
