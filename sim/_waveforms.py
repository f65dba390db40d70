"""ECG and PPG waveforms rendered from beat times (R-peak times in seconds).

ECG, in µV (as biopotential boards such as the Cyton report it): each beat is a sum of
Gaussian waves, P (+150 µV, ≈160 ms before R), Q (−120 µV), R (+1000 µV at the beat time),
S (−250 µV), T (+300 µV, ≈270 ms after R at 60 bpm), with P and T timing scaled by √RR
(Bazett-like), plus slow baseline wander and white noise.

PPG, in arbitrary units (positive = more blood volume): each beat gives a systolic peak
``pulse_arrival_s`` after the R peak (rise faster than fall), then a smaller diastolic wave,
with the dicrotic notch between them; plus breathing-rate baseline wander and white noise.
"""

from __future__ import annotations

import numpy as np

from sim._check import check_non_negative, check_positive

# (amplitude µV, offset s at RR = 1 s, width s, offset and width scale with √RR?)
_ECG_WAVES = (
    (150.0, -0.16, 0.025, True),
    (-120.0, -0.028, 0.010, False),
    (1000.0, 0.0, 0.012, False),
    (-250.0, 0.030, 0.011, False),
    (300.0, 0.27, 0.045, True),
)


def _local_rr_s(beats: np.ndarray) -> np.ndarray:
    if beats.size < 2:
        return np.ones(beats.size)
    rr = np.diff(beats)
    return np.clip(np.concatenate([rr[:1], rr]), 0.3, 2.0)


def _n_samples(beats: np.ndarray, fs: float, duration_s: float | None) -> int:
    if duration_s is None:
        duration_s = (beats[-1] + 1.0) if beats.size else 0.0
    return int(round(check_non_negative("duration_s", duration_s) * fs))


def render_ecg(
    beat_times_s: np.ndarray,
    fs: float,
    duration_s: float | None = None,
    *,
    r_amplitude_uv: float = 1000.0,
    wander_uv: float = 30.0,
    noise_uv: float = 10.0,
    seed: int | np.random.Generator | np.random.SeedSequence | None = 0,
) -> np.ndarray:
    """ECG in µV at ``fs`` Hz with an R peak at each beat time; see the module docstring.

    ``duration_s`` defaults to one second past the last beat. Amplitudes scale with
    ``r_amplitude_uv``; ``wander_uv`` and ``noise_uv`` set the baseline wander (0.15 Hz) and
    white noise RMS.
    """
    fs = check_positive("fs", fs)
    beats = np.asarray(beat_times_s, dtype=float)
    n = _n_samples(beats, fs, duration_s)
    scale = check_non_negative("r_amplitude_uv", r_amplitude_uv) / 1000.0
    out = np.zeros(n)
    half = int(0.6 * fs) + 1
    for t_r, rr in zip(beats, _local_rr_s(beats), strict=True):
        i0 = max(int(t_r * fs) - half, 0)
        i1 = min(int(t_r * fs) + half + 1, n)
        if i1 <= i0:
            continue
        dt = np.arange(i0, i1) / fs - t_r
        k = np.sqrt(rr)
        for amp, offset, width, scaled in _ECG_WAVES:
            mu, sd = (offset * k, width * k) if scaled else (offset, width)
            out[i0:i1] += amp * scale * np.exp(-0.5 * ((dt - mu) / sd) ** 2)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    out += wander_uv * np.sin(2 * np.pi * 0.15 * t + rng.uniform(0, 2 * np.pi))
    out += noise_uv * rng.standard_normal(n)
    return out


def render_ppg(
    beat_times_s: np.ndarray,
    fs: float,
    duration_s: float | None = None,
    *,
    pulse_arrival_s: float = 0.25,
    amplitude: float = 1000.0,
    offset: float = 0.0,
    wander: float = 50.0,
    noise: float = 5.0,
    seed: int | np.random.Generator | np.random.SeedSequence | None = 0,
) -> np.ndarray:
    """PPG (arbitrary units) at ``fs`` Hz, systolic peak ``pulse_arrival_s`` after each beat.

    ``amplitude`` is the systolic peak height above baseline; ``offset`` a DC level;
    ``wander`` and ``noise`` the breathing-rate baseline wander (0.25 Hz) and white noise RMS.
    """
    fs = check_positive("fs", fs)
    check_non_negative("pulse_arrival_s", pulse_arrival_s)
    beats = np.asarray(beat_times_s, dtype=float)
    n = _n_samples(beats, fs, duration_s)
    out = np.full(n, float(offset))
    half = int(1.2 * fs) + 1
    for t_r, rr in zip(beats, _local_rr_s(beats), strict=True):
        t_peak = t_r + pulse_arrival_s
        i0 = max(int(t_peak * fs) - half, 0)
        i1 = min(int(t_peak * fs) + half + 1, n)
        if i1 <= i0:
            continue
        dt = np.arange(i0, i1) / fs - t_peak
        k = np.sqrt(rr)
        sd = np.where(dt < 0, 0.07 * k, 0.10 * k)  # fast upstroke, slower fall
        wave = np.exp(-0.5 * (dt / sd) ** 2)
        wave += 0.4 * np.exp(-0.5 * ((dt - 0.32 * k) / (0.07 * k)) ** 2)  # diastolic wave
        out[i0:i1] += amplitude * wave
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    out += wander * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi))
    out += noise * rng.standard_normal(n)
    return out
