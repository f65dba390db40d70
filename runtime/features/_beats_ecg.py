"""ECG R-peak detection in the style of Pan & Tompkins (1985, IEEE TBME 32:230).

QRS energy: zero-phase band-pass 5–15 Hz, derivative, square, 150 ms moving-window
integration. Candidate peaks of that energy (at least 200 ms apart) are classified by the
adaptive thresholds of the original (signal and noise levels updated per peak, threshold at
a quarter of the way from noise to signal), with T-wave rejection (a peak within 360 ms of
the last QRS whose slope is under half of that QRS's slope) and search-back at half the
threshold when no QRS came for 1.66 mean RR. Each QRS is then located as the extreme, of the
dominant polarity, of a lightly filtered ECG (0.5–40 Hz) within ±100 ms, so that the beat
time is the R peak itself, not the energy envelope.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, find_peaks, sosfiltfilt

from runtime.features._runs import detect_in_finite_runs

__all__ = ["detect_beats_ecg"]

_QRS_BAND_HZ = (5.0, 15.0)
_CLEAN_BAND_HZ = (0.5, 40.0)
_MWI_S = 0.15
_REFRACTORY_S = 0.2
_T_WAVE_S = 0.36
_SEARCH_S = 0.1
_LEARN_S = 2.0


@lru_cache(maxsize=32)
def _filters(fs: float) -> tuple[np.ndarray, np.ndarray]:
    qrs = butter(2, _QRS_BAND_HZ, btype="bandpass", fs=fs, output="sos")
    high = min(_CLEAN_BAND_HZ[1], 0.45 * fs)
    clean = butter(2, [_CLEAN_BAND_HZ[0], high], btype="bandpass", fs=fs, output="sos")
    return qrs, clean


def _filt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    padlen = min(x.size - 1, 3 * (2 * len(sos) + 1))
    return sosfiltfilt(sos, x, padlen=padlen)


def _classify(mwi: np.ndarray, slope: np.ndarray, cand: np.ndarray, fs: float) -> list[int]:
    """Pan–Tompkins decision rules over candidate energy peaks; returns accepted ones."""
    heights = mwi[cand]
    learn = cand < int(_LEARN_S * fs)
    first = heights[learn] if learn.any() else heights[:1]
    spki = float(first.max()) / 3.0
    npki = float(np.mean(mwi[: int(_LEARN_S * fs)])) / 2.0
    t_wave = int(_T_WAVE_S * fs)
    accepted: list[int] = []
    accepted_slope: list[float] = []
    rr: list[int] = []
    last_checked = 0  # index into cand: peaks before it were already decided
    for k, p in enumerate(cand):
        thr1 = npki + 0.25 * (spki - npki)
        # Search-back: no QRS for 1.66 mean RR -> best skipped peak above half the threshold.
        if accepted and len(rr) >= 2:
            rr_mean = float(np.mean(rr[-8:]))
            if p - accepted[-1] > 1.66 * rr_mean:
                lo = accepted[-1] + int(_REFRACTORY_S * fs)
                window = [j for j in range(last_checked, k) if lo < cand[j] < p]
                if window:
                    j = max(window, key=lambda j: heights[j])
                    if heights[j] > 0.5 * thr1:
                        rr.append(int(cand[j]) - accepted[-1])
                        accepted.append(int(cand[j]))
                        accepted_slope.append(float(slope[cand[j]]))
                        spki = 0.25 * float(heights[j]) + 0.75 * spki
                        thr1 = npki + 0.25 * (spki - npki)
        last_checked = k
        h = float(heights[k])
        if h <= thr1 or (accepted and p - accepted[-1] < int(_REFRACTORY_S * fs)):
            npki = 0.125 * h + 0.875 * npki
            continue
        if accepted and p - accepted[-1] < t_wave and slope[p] < 0.5 * accepted_slope[-1]:
            npki = 0.125 * h + 0.875 * npki
            continue
        if accepted:
            rr.append(int(p) - accepted[-1])
        accepted.append(int(p))
        accepted_slope.append(float(slope[p]))
        spki = 0.125 * h + 0.875 * spki
    return accepted


def _detect_run(x: np.ndarray, fs: float) -> np.ndarray:
    qrs_sos, clean_sos = _filters(fs)
    x = x - np.median(x)
    bp = _filt(qrs_sos, x)
    deriv = np.gradient(bp)
    mwi = uniform_filter1d(deriv * deriv, max(1, int(round(_MWI_S * fs))), mode="nearest")
    slope = uniform_filter1d(np.abs(deriv), max(1, int(round(0.05 * fs))), mode="nearest")
    cand, _ = find_peaks(mwi, distance=max(1, int(round(_REFRACTORY_S * fs))))
    if cand.size == 0:
        return np.empty(0, dtype=np.int64)
    qrs = _classify(mwi, slope, cand, fs)
    if not qrs:
        return np.empty(0, dtype=np.int64)
    clean = _filt(clean_sos, x)
    half = max(1, int(round(_SEARCH_S * fs)))
    windows = [(max(0, p - half), min(x.size, p + half + 1)) for p in qrs]
    # Dominant polarity: is the larger excursion of a typical QRS up or down?
    ups = np.array([clean[a:b].max() for a, b in windows])
    downs = np.array([-clean[a:b].min() for a, b in windows])
    sign = 1.0 if np.median(ups) >= np.median(downs) else -1.0
    r_peaks = [a + int(np.argmax(sign * clean[a:b])) for a, b in windows]
    r = np.unique(np.asarray(r_peaks, dtype=np.int64))
    if r.size > 1:  # two energy peaks on one QRS can land on the same R: keep one
        keep = np.concatenate(([True], np.diff(r) >= int(_REFRACTORY_S * fs)))
        r = r[keep]
    return r


def detect_beats_ecg(x: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of R peaks in an ECG signal.

    Parameters
    ----------
    x : array, shape (n_samples,)
        One ECG lead, any units and polarity; NaN/inf mark gaps (no beat spans a gap).
    fs : float
        Sampling rate, in Hz (at least 50 Hz; 250 Hz or more is better).

    Returns
    -------
    beats : int64 array
        Increasing sample indices of the R peaks (into ``x``).
    """
    return detect_in_finite_runs(
        x, fs, _detect_run, min_fs=50.0, kind="ECG", why="the 5–15 Hz QRS band"
    )
