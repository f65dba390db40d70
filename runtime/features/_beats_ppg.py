"""PPG beat detection with Elgendi's two moving averages (Elgendi et al. 2013, PLoS ONE).

Steps: zero-phase band-pass 0.5–8 Hz, clip below zero, square, moving average over a
systolic peak (111 ms) against one over a beat (667 ms) plus an offset; blocks where the
first exceeds the second and last at least 111 ms hold one systolic peak each, taken at the
block's maximum; peaks closer than 0.3 s keep the larger.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfiltfilt

from runtime.features._runs import detect_in_finite_runs

__all__ = ["detect_beats_ppg"]

_PEAK_WINDOW_S = 0.111
_BEAT_WINDOW_S = 0.667
_BEAT_OFFSET = 0.02
_REFRACTORY_S = 0.3
_BAND_HZ = (0.5, 8.0)
#: Shortest finite run searched for beats, in seconds (and shortest signal accepted).


@lru_cache(maxsize=32)
def _bandpass(fs: float) -> np.ndarray:
    high = min(_BAND_HZ[1], 0.45 * fs)
    return butter(2, [_BAND_HZ[0], high], btype="bandpass", fs=fs, output="sos")


def _detect_run(x: np.ndarray, fs: float) -> np.ndarray:
    sos = _bandpass(fs)
    padlen = min(x.size - 1, 3 * (2 * len(sos) + 1))
    y = sosfiltfilt(sos, x - np.median(x), padlen=padlen)
    sq = np.square(np.clip(y, 0.0, None))
    n_peak = max(1, int(round(_PEAK_WINDOW_S * fs)))
    n_beat = max(1, int(round(_BEAT_WINDOW_S * fs)))
    ma_peak = uniform_filter1d(sq, n_peak, mode="nearest")
    ma_beat = uniform_filter1d(sq, n_beat, mode="nearest")
    blocks = ma_peak > ma_beat + _BEAT_OFFSET * float(np.mean(sq))
    edges = np.diff(np.concatenate(([0], blocks.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    refractory = int(round(_REFRACTORY_S * fs))
    peaks: list[int] = []
    for a, b in zip(starts, stops, strict=True):
        if b - a < n_peak:
            continue
        p = int(a + np.argmax(y[a:b]))
        if peaks and p - peaks[-1] < refractory:
            if y[p] > y[peaks[-1]]:
                peaks[-1] = p
            continue
        peaks.append(p)
    return np.asarray(peaks, dtype=np.int64)


def detect_beats_ppg(x: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of systolic peaks in a PPG signal.

    Parameters
    ----------
    x : array, shape (n_samples,)
        One PPG channel, any units; NaN/inf mark gaps (no beat spans a gap).
    fs : float
        Sampling rate, in Hz (at least 20 Hz).

    Returns
    -------
    beats : int64 array
        Increasing sample indices of the beats (into ``x``).
    """
    return detect_in_finite_runs(
        x,
        fs,
        _detect_run,
        min_fs=20.0,
        kind="PPG",
        why="the 0.5–8 Hz pulse band and 111 ms blocks need finer sampling",
    )
