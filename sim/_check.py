"""Shared argument checks: each error names the argument, shows the value and says the fix."""

from __future__ import annotations

import math

from sim._errors import SimError


def check_positive(name: str, value: float, *, error: type[SimError] = SimError) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise error(f"'{name}' must be a positive number; {value!r} is not a number.") from None
    if not math.isfinite(out) or out <= 0:
        raise error(f"'{name}' must be a finite number > 0; {value!r} is invalid.")
    return out


def check_non_negative(name: str, value: float, *, error: type[SimError] = SimError) -> float:
    """Return ``value`` as a float if it is finite and >= 0, else raise naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise error(f"'{name}' must be a number >= 0; {value!r} is not a number.") from None
    if not math.isfinite(out) or out < 0:
        raise error(f"'{name}' must be a finite number >= 0; {value!r} is invalid.")
    return out


def check_int(name: str, value: int, *, minimum: int = 0, error: type[SimError] = SimError) -> int:
    """Return ``value`` if it is an int (not bool) >= ``minimum``, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise error(f"'{name}' must be an integer >= {minimum}; {value!r} is invalid.")
    return value


def check_fs(name: str, fs: float, *, minimum_hz: float) -> float:
    """Check a sampling rate in Hz against the lowest rate the signal model can represent."""
    out = check_positive(name, fs)
    if out < minimum_hz:
        raise SimError(
            f"'{name}' must be >= {minimum_hz:g} Hz for this signal; {fs!r} Hz is too low "
            "to hold its frequency content (use the board's nominal rate)."
        )
    return out

