"""Split a signal with gaps (NaN, inf) into its finite runs, so detectors never bridge a gap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from runtime.features._errors import SignalError
from runtime.features._validate import as_1d_float, check_fs

__all__ = ["detect_in_finite_runs", "finite_runs"]

#: Shortest finite stretch a beat detector is run on.
MIN_RUN_S = 2.0


def finite_runs(x: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of finite samples at least ``min_len`` long."""
    finite = np.isfinite(x)
    if finite.all():
        return [(0, x.size)] if x.size >= min_len else []
    edges = np.diff(np.concatenate(([0], finite.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b - a >= min_len]


def detect_in_finite_runs(
    x: np.ndarray,
    fs: float,
    detect_run: Callable[[np.ndarray, float], np.ndarray],
    *,
    min_fs: float,
    kind: str,
    why: str,
) -> np.ndarray:
    """Validate a beat detector's input, then run ``detect_run`` on each finite stretch.

    Returns increasing sample indices into ``x``; a gap (NaN, inf) is never bridged.
    """
    fs = check_fs(fs)
    x = as_1d_float(x)
    if fs < min_fs:
        raise SignalError(
            f"The argument 'fs' must be at least {min_fs:g} Hz for {kind} beat detection; "
            f"{fs} is too low ({why})."
        )
    if x.size < MIN_RUN_S * fs:
        raise SignalError(
            f"The signal is {x.size / fs:.2f} s long ({x.size} samples at {fs:g} Hz); "
            f"beat detection needs ≥ {MIN_RUN_S:g} s. Pass a longer recording."
        )
    parts = [detect_run(x[a:b], fs) + a for a, b in finite_runs(x, int(MIN_RUN_S * fs))]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
