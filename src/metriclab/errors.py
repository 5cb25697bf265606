"""Errors a user can act on.

A :class:`ConfigError` carries one line: what was wrong, the value seen, and the fix. The training
entry point prints that line (no traceback) and exits non-zero. Raised inside a constructor that
Hydra's ``instantiate`` calls, it reaches the entry point wrapped in Hydra's
``InstantiationException``; :func:`user_mistake` finds it in the chain of causes.
"""

from __future__ import annotations


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
