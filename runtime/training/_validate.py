"""Argument checks shared by the training side; every error names the argument and the fix.

``runtime.errors`` imports the drivers package (and with it BrainFlow), which a training job
should not pay for at import time, so :class:`~runtime.errors.ConfigError` is imported only
when an error is actually raised.
"""

from __future__ import annotations

import math
from typing import NoReturn


def raise_config_error(message: str) -> NoReturn:
    """Raise :class:`runtime.errors.ConfigError` with ``message``."""
    from runtime.errors import ConfigError

    raise ConfigError(message)


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an int ≥ 1, or a ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise_config_error(
            f"The argument '{name}' must be a strictly positive integer. {value!r} is invalid."
        )
    return value


def check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
) -> float:
    """``value`` as a finite float in [low, high] (or (low, high]), or a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise_config_error(f"The argument '{name}' must be a finite number. {value!r} is invalid.")
    number = float(value)
    too_low = low is not None and (number < low if low_inclusive else number <= low)
    too_high = high is not None and number > high
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        bounds = (
            f"{left}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        )
        raise_config_error(
            f"The argument '{name}' must lie in {bounds}. {value!r} is invalid; "
            f"pass a value inside that range."
        )
    return number
