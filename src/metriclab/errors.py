"""Errors a user can act on.

A :class:`ConfigError` carries one line: what was wrong, the value seen, and the fix. The training
entry point prints that line (no traceback) and exits non-zero. Raised inside a constructor that
Hydra's ``instantiate`` calls, it reaches the entry point wrapped in Hydra's
``InstantiationException``; :func:`user_mistake` finds it in the chain of causes.
"""

from __future__ import annotations

import difflib
import re


class ConfigError(ValueError):
    """A user mistake in the configuration or the input data, reported as one actionable line."""


def user_mistake(exc: BaseException | None) -> ConfigError | None:
    """The :class:`ConfigError` that ``exc`` is, or was raised from (``None``: not a mistake)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ConfigError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def closest(name: str, options: list[str]) -> str:
    """``"; did you mean X?"`` for the option nearest to ``name``, or ``""``."""
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of ``exc``'s chain (``__cause__``, else ``__context__``)."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def import_failure_line(exc: BaseException) -> str | None:
    """``cannot import X (for full_key): Type: message ...`` for Hydra's ``Error locating
    target`` (whose message hides the cause), else ``None``."""
    match = re.match(r"Error locating target '([^']+)'", str(exc))
    if match is None:
        return None
    root = root_cause(exc)
    full_key = re.search(r"full_key: (\S+)", str(exc))
    where = f" (the _target_ of {full_key[1]})" if full_key else ""
    message = " ".join(str(root).split()) or "(no message)"
    return (
        f"cannot import {match[1]}{where}: {type(root).__name__}: {message}; fix the module or "
        "the installation (e.g. torch and torchvision versions that match); HYDRA_FULL_ERROR=1 "
        "shows the traceback"
    )
