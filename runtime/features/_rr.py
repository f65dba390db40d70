"""RR intervals from beats, and their cleaning (range, running median, successive change).

Cleaning returns a mask rather than a shorter array, so that successive differences (RMSSD,
pNN50) are only taken between two kept intervals that were adjacent in time. The rules
follow the idea of Kubios-style artifact correction (Lipponen & Tarvainen 2019) and Malik's
20 % successive-change rule: an interval far from its neighbours is an artifact (missed,
extra or misplaced beat), not heart-rate variability, and it is rejected, not interpolated.
"""

from __future__ import annotations

import numpy as np

from runtime.features._errors import SignalError
from runtime.features._validate import check_fs

__all__ = ["clean_rr", "compute_rr_ms"]


def compute_rr_ms(
    beats: np.ndarray, fs: float, *, missing: np.ndarray | None = None
) -> np.ndarray:
    """RR intervals, in ms, between consecutive beat sample indices.

    ``missing`` (bool per sample of the signal the beats index into) marks unusable
    samples; an interval spanning one is NaN, since a beat may be hidden in the gap.
    """
    fs = check_fs(fs)
    b = np.asarray(beats, dtype=np.int64)
    if b.ndim != 1:
        raise SignalError(f"The argument 'beats' must be 1-D sample indices; got {b.shape}.")
    if b.size < 2:
        return np.empty(0, dtype=np.float64)
    rr = np.diff(b).astype(np.float64) * (1000.0 / fs)
    if missing is not None:
        cum = np.concatenate(([0], np.cumsum(np.asarray(missing, dtype=bool))))
        rr[cum[b[1:]] - cum[b[:-1] + 1] > 0] = np.nan
    return rr


def clean_rr(
    rr_ms: np.ndarray,
    *,
    min_rr_ms: float = 300.0,
    max_rr_ms: float = 2000.0,
    max_deviation: float = 0.25,
    max_successive_change: float = 0.2,
    median_beats: int = 11,
) -> np.ndarray:
    """Mask of the RR intervals to keep.

    An interval is kept when it is finite, lies in [``min_rr_ms``, ``max_rr_ms``], is within
    ``max_deviation`` (a fraction) of the running median of the plausible intervals around
    it (``median_beats`` wide, centred), and within ``max_successive_change`` of the interval
    before it (Malik's rule: a misplaced beat makes a short and a long interval, and both
    go), and has a kept neighbour (a lone survivor inside a burst of artifacts is dropped).
    The rejected count is ``(~mask).sum()``.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    if rr.ndim != 1:
        raise SignalError(f"The argument 'rr_ms' must be 1-D; got shape {rr.shape}.")
    if median_beats < 3:
        raise SignalError(
            f"The argument 'median_beats' must be at least 3; {median_beats!r} is invalid."
        )
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(rr) & (rr >= min_rr_ms) & (rr <= max_rr_ms)
    if keep.sum() < 3:
        return keep
    plausible = np.where(keep, rr, np.nan)
    half = median_beats // 2
    padded = np.pad(plausible, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    median = _nanmedian_rows(windows)
    with np.errstate(invalid="ignore"):
        keep &= np.abs(rr - median) <= max_deviation * median
        jumps = np.abs(np.diff(rr)) > max_successive_change * rr[:-1]
    keep[1:] &= ~jumps
    # A lone survivor between rejected intervals sits inside a burst of artifacts, where a
    # plausible-looking value is as likely chance as a heartbeat: drop it too.
    left = np.concatenate(([False], keep[:-1]))
    right = np.concatenate((keep[1:], [False]))
    keep &= left | right
    return keep


def _nanmedian_rows(windows: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN; NaN for an all-NaN row (without numpy's warning)."""
    out = np.full(windows.shape[0], np.nan)
    has = ~np.all(np.isnan(windows), axis=1)
    if has.any():
        out[has] = np.nanmedian(windows[has], axis=1)
    return out
