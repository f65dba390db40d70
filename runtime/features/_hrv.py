"""Heart-rate variability from RR intervals (SIGNALS.md formulas).

Time domain always: HR = 60000 / mean RR, RMSSD = √mean(ΔRR²) over adjacent kept pairs,
SDNN = std(RR, ddof=1), pNN50 = % of those |ΔRR| > 50 ms. Baevsky's stress index and LF/HF
only for windows of at least 120 s; LF/HF is reported as a feature, never as the stress
index (it does not measure sympathovagal balance: Billman 2013).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import welch

from runtime.features._errors import SignalError

__all__ = ["LONG_WINDOW_S", "HrvMetrics", "compute_hrv"]

#: Baevsky's stress index and LF/HF need at least this much data, in seconds.
LONG_WINDOW_S = 120.0
_SI_BIN_MS = 50.0
_RESAMPLE_HZ = 4.0
_LF_HZ = (0.04, 0.15)
_HF_HZ = (0.15, 0.4)


@dataclass(frozen=True)
class HrvMetrics:
    """HRV of one window: bpm, ms and %.

    ``n_beats`` counts the beats the intervals came from (intervals + 1, kept or not);
    ``n_rr`` the intervals kept. ``baevsky_si`` (AMo% / (2·Mo·MxDMn): Mo the median RR
    and MxDMn the RR range, in s; AMo the % of RR within ±25 ms of Mo) and ``lf_hf``
    (0.04–0.15 Hz over 0.15–0.4 Hz power of the RR series
    resampled at 4 Hz) are None for windows shorter than :data:`LONG_WINDOW_S`.
    """

    hr_bpm: float
    rmssd_ms: float
    sdnn_ms: float
    pnn50_pct: float
    n_beats: int
    n_rr: int
    baevsky_si: float | None = None
    lf_hf: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (Python floats and ints, None for missing)."""
        return {
            k: (None if v is None else int(v) if k.startswith("n_") else float(v))
            for k, v in asdict(self).items()
        }


def compute_hrv(
    rr_ms: np.ndarray, keep: np.ndarray | None = None, *, window_s: float | None = None
) -> HrvMetrics:
    """HR, RMSSD, SDNN, pNN50 (and Baevsky SI, LF/HF when long) from RR intervals in ms.

    Parameters
    ----------
    rr_ms : array, shape (n_intervals,)
        RR intervals in ms, in order. NaN entries are never kept.
    keep : bool array, optional
        Intervals to use (from :func:`clean_rr`); successive differences use only pairs of
        adjacent kept intervals, so a rejected interval never creates a false jump.
    window_s : float, optional
        Length of the window the intervals come from, in seconds (default: the sum of the
        kept intervals); decides whether the long-window metrics are computed.

    Raises
    ------
    SignalError
        With fewer than 3 kept intervals or no adjacent kept pair.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    if rr.ndim != 1:
        raise SignalError(f"The argument 'rr_ms' must be 1-D; got shape {rr.shape}.")
    keep = np.ones(rr.shape, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if keep.shape != rr.shape:
        raise SignalError(
            f"The argument 'keep' must match rr_ms's shape {rr.shape}; got {keep.shape}."
        )
    keep = keep & np.isfinite(rr) & (rr > 0)
    kept = rr[keep]
    if kept.size < 3:
        raise SignalError(
            f"HRV needs at least 3 clean RR intervals; got {kept.size}. Use a longer or "
            "cleaner recording."
        )
    pairs = keep[1:] & keep[:-1]
    diffs = (rr[1:] - rr[:-1])[pairs]
    if diffs.size == 0:
        raise SignalError("HRV needs at least one pair of adjacent clean RR intervals")
    span_s = float(kept.sum() / 1000.0) if window_s is None else float(window_s)
    long_enough = span_s >= LONG_WINDOW_S
    return HrvMetrics(
        hr_bpm=60000.0 / float(kept.mean()),
        rmssd_ms=float(np.sqrt(np.mean(diffs**2))),
        sdnn_ms=float(np.std(kept, ddof=1)),
        pnn50_pct=float(100.0 * np.mean(np.abs(diffs) > 50.0)),
        n_beats=int(rr.size + 1),
        n_rr=int(kept.size),
        baevsky_si=_baevsky(kept) if long_enough else None,
        lf_hf=_lf_hf(rr, keep) if long_enough else None,
    )


def _baevsky(rr: np.ndarray) -> float | None:
    """AMo / (2 · Mo · MxDMn) with Kubios's conventions.

    Mo = median RR (s), AMo = % of intervals in the 50 ms bin centred on Mo, MxDMn = range
    of RR (s). (Kubios reports the square root of this value; we report the index itself.)
    """
    spread_s = float(rr.max() - rr.min()) / 1000.0
    if spread_s == 0:
        return None
    mode_ms = float(np.median(rr))
    amo_pct = 100.0 * np.count_nonzero(np.abs(rr - mode_ms) < _SI_BIN_MS / 2) / rr.size
    return amo_pct / (2.0 * (mode_ms / 1000.0) * spread_s)


def _lf_hf(rr: np.ndarray, keep: np.ndarray) -> float | None:
    """LF / HF power of the kept RR series, cubic-spline resampled at 4 Hz, Welch (Hann)."""
    # Beat times need every interval's duration; an unusable one counts as the median.
    durations = np.where(np.isfinite(rr) & (rr > 0), rr, np.median(rr[keep]))
    times = np.cumsum(durations) / 1000.0
    t, values = times[keep], rr[keep]
    if t.size < 10:
        return None
    grid = np.arange(t[0], t[-1], 1.0 / _RESAMPLE_HZ)
    if grid.size < 64:
        return None
    series = CubicSpline(t, values)(grid)
    nperseg = min(256, grid.size)
    freqs, psd = welch(series, fs=_RESAMPLE_HZ, window="hann", nperseg=nperseg,
                       noverlap=nperseg // 2, detrend="linear")
    df = freqs[1] - freqs[0]
    lf = psd[(freqs >= _LF_HZ[0]) & (freqs < _LF_HZ[1])].sum() * df
    hf = psd[(freqs >= _HF_HZ[0]) & (freqs < _HF_HZ[1])].sum() * df
    return None if not hf > 0 else float(lf / hf)
