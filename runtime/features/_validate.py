"""Shared input checks: each error names the argument, shows the value and says the fix."""

from __future__ import annotations

import math

import numpy as np

from runtime.errors import ConfigError
from runtime.features._errors import SignalError

__all__ = ["as_1d_float", "as_2d_float", "check_estimator_fs", "check_fs"]


def check_fs(fs: float, name: str = "fs") -> float:
    """Return ``fs`` as a float after checking it is a finite, strictly positive rate in Hz."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise SignalError(
            f"The argument '{name}' must be a sampling rate in Hz (a positive number); "
            f"{fs!r} is invalid."
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise SignalError(
            f"The argument '{name}' must be a finite, strictly positive sampling rate in Hz; "
            f"{fs!r} is invalid."
        )
    return value


def as_2d_float(data: object, name: str = "data") -> np.ndarray:
    """``data`` as a float64 array of shape (n_channels, n_samples); 1-D becomes one channel."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 1:
        return arr[np.newaxis, :]
    if arr.ndim != 2:
        raise SignalError(
            f"The argument '{name}' must be shaped (n_channels, n_samples) or (n_samples,); "
            f"got shape {arr.shape}."
        )
    return arr


def as_1d_float(data: object, name: str = "x") -> np.ndarray:
    """``data`` as a 1-D float64 array (one channel)."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise SignalError(
            f"The argument '{name}' must be one channel shaped (n_samples,); got shape "
            f"{arr.shape}. Pass one row, e.g. data[channel]."
        )
    return arr


def check_estimator_fs(fs: object) -> float:
    """A streaming estimator's nominal rate in Hz; ConfigError naming ``fs`` otherwise."""
    if isinstance(fs, bool) or not isinstance(fs, int | float | np.integer | np.floating):
        raise ConfigError(f"fs must be a positive sampling rate in Hz; got {fs!r}")
    if not (math.isfinite(float(fs)) and float(fs) > 0):
        raise ConfigError(f"fs must be a positive sampling rate in Hz; got {fs!r}")
    return float(fs)
