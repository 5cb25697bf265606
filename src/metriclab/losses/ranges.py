"""Valid ranges of the loss and miner hyper-parameters, refused in one line where they are set.

Every constructor of :mod:`metriclab.losses` and :mod:`metriclab.miners` checks its numbers with
these helpers, so a value that would train a junk model (a negative scale, a margin that makes
every pair easy) stops the run before anything is built, with one line naming the key as the
user types it, the value seen, what the number means in its paper, and a value to use::

    loss.gamma=-1.0: the Circle loss scale γ must be > 0 (Sun et al. 2020 use 80 for
    fine-grained retrieval, 256 for faces); set loss.gamma=80

Keys are ``loss.<name>`` in losses and ``miner.<name>`` in miners; a wrapper loss (``xbm``,
``joint_ce``, ``matryoshka``) builds its inner loss inside :func:`inner_loss_keys`, which
rewrites them to ``loss.metric.<name>``.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator

from metriclab.errors import ConfigError


def _number(key: str, value: object, what: str, fix: object) -> float:
    """``value`` as a finite float, or a :class:`ConfigError` naming ``key``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise ConfigError(f"{key}={value}: {what} must be a finite number; set {key}={fix}")
    return number


def check_range(
    key: str,
    value: object,
    what: str,
    fix: object,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    note: str = "",
) -> float:
    """``value`` as a float if it lies in the interval ``low .. high``, else a ConfigError.

    ``low_open`` / ``high_open`` exclude the bound; ``None`` leaves that side unbounded. The
    error line is ``"{key}={value}: {what} must be {rule} ({note}); set {key}={fix}"``.
    """
    number = _number(key, value, what, fix)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        if high is None:
            rule = f"{'>' if low_open else '>='} {low:g}"
        elif low is None:
            rule = f"{'<' if high_open else '<='} {high:g}"
        else:
            rule = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(
            f"{key}={value}: {what} must be {rule}"
            + (f" ({note})" if note else "")
            + f"; set {key}={fix}"
        )
    return number


def positive(key: str, value: object, what: str, fix: object, note: str = "") -> float:
    """``value > 0`` (a scale, a temperature), else a ConfigError."""
    return check_range(key, value, what, fix, low=0.0, low_open=True, note=note)


def non_negative(key: str, value: object, what: str, fix: object, note: str = "") -> float:
    """``value >= 0`` (a margin, a weight), else a ConfigError."""
    return check_range(key, value, what, fix, low=0.0, note=note)


def at_least(key: str, value: object, minimum: int, what: str, fix: object) -> int:
    """``value`` as an int ``>= minimum`` (a size, a count), else a ConfigError."""
    number = _number(key, value, what, fix)
    if number != int(number) or number < minimum:
        raise ConfigError(
            f"{key}={value}: {what} must be a whole number >= {minimum}; set {key}={fix}"
        )
    return int(number)


_LOSS_KEY = re.compile(r"(?<![\w./])loss\.(?!metric\.)")


@contextlib.contextmanager
def inner_loss_keys(prefix: str = "loss.metric.") -> Iterator[None]:
    """Re-raise a ConfigError of the wrapped loss with its keys as the user types them:
    ``loss.gamma`` -> ``loss.metric.gamma`` (``loss@loss.metric=circle loss.metric.gamma=80``)."""
    try:
        yield
    except ConfigError as exc:
        raise ConfigError(_LOSS_KEY.sub(prefix, str(exc))) from None
