"""Heart rate variability from cleaned RR intervals."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.interpolate import interp1d
from scipy.signal import welch

#: Baevsky's stress index and LF/HF need at least this much data (SIGNALS.md).
LONG_WINDOW_S = 120.0


@dataclass(frozen=True)
class HrvMetrics:
    """Time-domain HRV (ms, bpm, %) and, for windows ≥ 120 s, Baevsky SI and LF/HF."""

    hr_bpm: float
    rmssd_ms: float
    sdnn_ms: float
    pnn50_pct: float
    n_beats: int
    n_rr: int
    baevsky_si: float | None = None
    lf_hf: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if v is None else float(v) if isinstance(v, float) else v)
            for k, v in asdict(self).items()
        }


def compute_hrv(
    rr_ms: np.ndarray, keep: np.ndarray | None = None, *, window_s: float | None = None
) -> HrvMetrics:
    """HR, RMSSD, SDNN, pNN50 from RR intervals in ms.

    ``keep`` masks rejected intervals: successive differences use only pairs of adjacent
    kept intervals, so a rejected interval never creates a false jump. Raises ValueError
    with fewer than 3 kept intervals.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    keep = np.ones(rr.shape, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    kept = rr[keep]
    if kept.size < 3:
        raise ValueError(f"HRV needs at least 3 clean RR intervals; got {kept.size}")
    pairs = keep[1:] & keep[:-1]
    diffs = np.diff(rr)[pairs]
    if diffs.size == 0:
        raise ValueError("HRV needs at least one pair of adjacent clean RR intervals")
    span_s = float(kept.sum() / 1000.0) if window_s is None else window_s
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
    """AMo / (2 · Mo · MxDMn), 50 ms bins, Mo and MxDMn in s, AMo in %."""
    bins = np.arange(rr.min(), rr.max() + 50.0, 50.0)
    if bins.size < 2:
        return None
    counts, edges = np.histogram(rr, bins=bins)
    mode_s = float(edges[np.argmax(counts)] + 25.0) / 1000.0
    amo = 100.0 * counts.max() / rr.size
    spread_s = float(rr.max() - rr.min()) / 1000.0
    return None if spread_s == 0 else amo / (2.0 * mode_s * spread_s)


def _lf_hf(rr: np.ndarray, keep: np.ndarray) -> float | None:
    """LF (0.04–0.15 Hz) / HF (0.15–0.4 Hz) of the RR series resampled at 4 Hz."""
    times = np.cumsum(rr) / 1000.0
    t, values = times[keep], rr[keep]
    if t.size < 10:
        return None
    grid = np.arange(t[0], t[-1], 0.25)
    if grid.size < 64:
        return None
    series = interp1d(t, values, kind="cubic")(grid)
    freqs, psd = welch(series - series.mean(), fs=4.0, nperseg=min(256, grid.size))
    df = freqs[1] - freqs[0]
    lf = psd[(freqs >= 0.04) & (freqs < 0.15)].sum() * df
    hf = psd[(freqs >= 0.15) & (freqs < 0.4)].sum() * df
    return None if hf <= 0 else float(lf / hf)
