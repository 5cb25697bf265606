"""``key=value`` command lines for the scripts, and their one-line errors.

Each script declares its options with defaults; a token whose key is an option sets it (typed
like its default), any other ``key=value`` token is passed on as a config override (``eval.py``)
or refused (scripts without a config).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from metriclab.console import quiet_third_party
from metriclab.errors import ConfigError

TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def _typed(key: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() not in TRUE + FALSE:
            raise ConfigError(f"{key}={text}: expected true or false")
        return text.lower() in TRUE
    if isinstance(default, int | float) and not isinstance(default, bool):
        try:
            return type(default)(text)
        except ValueError:
            raise ConfigError(f"{key}={text}: expected a {type(default).__name__}") from None
    return None if text.lower() in ("null", "none", "") and default is None else text


def parse_options(
    argv: Sequence[str], defaults: dict[str, Any], allow_overrides: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """``(options, overrides)`` from ``key=value`` tokens; see the module docstring."""
    options, overrides = dict(defaults), []
    for token in argv:
        key, sep, text = token.partition("=")
        if not sep:
            raise ConfigError(f"expected key=value, got {token!r}; e.g. {next(iter(defaults))}=...")
        if key in defaults:
            options[key] = _typed(key, text, defaults[key])
        elif allow_overrides:
            overrides.append(token)
        else:
            raise ConfigError(f"unknown option {key!r}; the options are {', '.join(defaults)}")
    return options, overrides


def usage(defaults: dict[str, Any], allow_overrides: bool = False) -> str:
    """The script's own docstring (its ``__main__`` module's) and its options with defaults."""
    script = sys.modules.get("__main__")
    text = (getattr(script, "__doc__", None) or "").strip()
    options = "\n".join(
        f"  {key}={'' if value is None else value}" for key, value in defaults.items()
    )
    extra = "\n  any other key=value overrides the run's saved config" if allow_overrides else ""
    return f"{text}\n\noptions (key=value, defaults shown):\n{options}{extra}".lstrip()


def run_command(
    main: Callable[[dict[str, Any], list[str]], Any],
    argv: Sequence[str],
    defaults: dict[str, Any],
    allow_overrides: bool = False,
) -> int:
    """Parse ``argv``, run ``main(options, overrides)``; a :class:`ConfigError` becomes
    ``error: ...`` on stderr and exit status 2."""
    quiet_third_party()
    if any(token in ("-h", "--help", "help") for token in argv):
        print(usage(defaults, allow_overrides))
        return 0
    try:
        options, overrides = parse_options(argv, defaults, allow_overrides)
        main(options, overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
