"""Errors a user can act on.

A :class:`ConfigError` carries one line: what was wrong, the value seen, and the fix. The training
entry point prints that line (no traceback) and exits non-zero.
"""


class ConfigError(ValueError):
    """A user mistake in the configuration or the input data, reported as one actionable line."""
