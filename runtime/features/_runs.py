"""Split a signal with gaps (NaN, inf) into its finite runs, so detectors never bridge a gap."""

from __future__ import annotations

import numpy as np

__all__ = ["finite_runs"]


def finite_runs(x: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of finite samples at least ``min_len`` long."""
    finite = np.isfinite(x)
    if finite.all():
        return [(0, x.size)] if x.size >= min_len else []
    edges = np.diff(np.concatenate(([0], finite.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b - a >= min_len]
