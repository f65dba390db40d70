"""Beat detection (PPG: Elgendi 2013; ECG: Pan–Tompkins style) and RR cleaning."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt


def _bandpass(x: np.ndarray, fs: float, low_hz: float, high_hz: float) -> np.ndarray:
    high_hz = min(high_hz, 0.45 * fs)
    sos = butter(2, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")
    return sosfiltfilt(sos, x)


def _moving_average(x: np.ndarray, n: int) -> np.ndarray:
    n = max(1, int(n))
    return np.convolve(x, np.ones(n) / n, mode="same")


def _check_signal(x: np.ndarray, fs: float, min_s: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"signal must be 1-D; got shape {x.shape}")
    if fs <= 0 or not np.isfinite(fs):
        raise ValueError(f"fs must be a positive number of Hz; got {fs!r}")
    if x.size < min_s * fs:
        raise ValueError(f"signal is {x.size / fs:.1f} s long; beat detection needs ≥ {min_s} s")
    return np.nan_to_num(x - np.nanmedian(x), nan=0.0, posinf=0.0, neginf=0.0)


def detect_beats_ppg(x: np.ndarray, fs: float) -> np.ndarray:
    """Systolic peaks of a PPG signal (sample indices), Elgendi's two moving averages.

    Band-pass 0.5–8 Hz, clip below zero, square; a block of interest is where the 111 ms
    moving average exceeds the 667 ms one plus an offset (β = 0.02 of the mean); blocks
    shorter than 111 ms are dropped; the peak is the maximum inside each block; peaks
    closer than 0.3 s to the previous one are dropped.
    """
    x = _check_signal(x, fs, 2.0)
    filtered = _bandpass(x, fs, 0.5, 8.0)
    squared = np.clip(filtered, 0, None) ** 2
    ma_peak = _moving_average(squared, round(0.111 * fs))
    ma_beat = _moving_average(squared, round(0.667 * fs))
    above = ma_peak > ma_beat + 0.02 * float(np.mean(squared))
    edges = np.diff(above.astype(np.int8), prepend=0, append=0)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    min_len = round(0.111 * fs)
    beats: list[int] = []
    refractory = round(0.3 * fs)
    for start, end in zip(starts, ends, strict=True):
        if end - start < min_len:
            continue
        peak = start + int(np.argmax(filtered[start:end]))
        if beats and peak - beats[-1] < refractory:
            if filtered[peak] > filtered[beats[-1]]:
                beats[-1] = peak
            continue
        beats.append(peak)
    return np.asarray(beats, dtype=np.int64)


def detect_beats_ecg(x: np.ndarray, fs: float) -> np.ndarray:
    """R peaks of an ECG signal (sample indices), Pan–Tompkins style.

    Band-pass 5–15 Hz, derivative, square, 150 ms moving-window integration; candidate
    QRS complexes are integrator peaks at least 0.25 s apart above a threshold halfway
    between the signal and noise peak levels; each R peak is the largest absolute
    band-passed deflection within ±75 ms of its complex.
    """
    x = _check_signal(x, fs, 2.0)
    filtered = _bandpass(x, fs, 5.0, 15.0)
    integrated = _moving_average(np.gradient(filtered) ** 2, round(0.15 * fs))
    candidates, _ = find_peaks(integrated, distance=max(1, round(0.25 * fs)))
    if candidates.size == 0:
        return candidates.astype(np.int64)
    heights = integrated[candidates]
    signal_level = float(np.percentile(heights, 90))
    noise_level = float(np.percentile(integrated, 50))
    threshold = noise_level + 0.25 * (signal_level - noise_level)
    qrs = candidates[heights > threshold]
    polarity = 1.0 if np.percentile(filtered, 99.5) >= -np.percentile(filtered, 0.5) else -1.0
    half = max(1, round(0.075 * fs))
    beats = []
    for c in qrs:
        lo, hi = max(0, c - half), min(x.size, c + half + 1)
        beats.append(lo + int(np.argmax(polarity * filtered[lo:hi])))
    return np.unique(np.asarray(beats, dtype=np.int64))


def clean_rr(
    rr_ms: np.ndarray,
    *,
    min_rr_ms: float = 300.0,
    max_rr_ms: float = 2000.0,
    max_deviation: float = 0.25,
    max_successive_change: float = 0.2,
    median_beats: int = 11,
) -> np.ndarray:
    """Mask of RR intervals to keep.

    An interval is kept when it lies in [``min_rr_ms``, ``max_rr_ms``], within
    ``max_deviation`` of the running median of the plausible intervals around it
    (Kubios-style idea, simplified), and within ``max_successive_change`` of the interval
    before it (Malik's 20 % rule: a misplaced beat makes a short and a long interval, and
    both go). A missed or extra beat is rejected, not interpolated.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    keep = np.isfinite(rr) & (rr >= min_rr_ms) & (rr <= max_rr_ms)
    if keep.sum() < 3:
        return keep
    plausible = rr.copy()
    plausible[~keep] = np.nan
    half = median_beats // 2
    padded = np.pad(plausible, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, median_beats)
    with np.errstate(all="ignore"):
        median = np.nanmedian(windows, axis=1)
    keep &= np.abs(rr - median) <= max_deviation * median
    jumps = np.abs(np.diff(rr)) > max_successive_change * rr[:-1]
    keep[1:] &= ~jumps
    return keep
