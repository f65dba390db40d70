"""Test signals synthesised with numpy: EEG with chosen band gains, pulse trains from RR.

These are written for the tests (not sim/): each one states exactly what it contains, so a
test can assert the direction an estimate must move.
"""

from __future__ import annotations

import numpy as np


def pink_noise(rng: np.random.Generator, shape: tuple[int, int], fs: float) -> np.ndarray:
    """1/f (power) noise of unit variance per row, by spectral shaping of white noise."""
    n = shape[-1]
    spectrum = np.fft.rfft(rng.normal(size=shape), axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spectrum *= 1.0 / np.sqrt(np.maximum(f, 0.5))
    x = np.fft.irfft(spectrum, n=n, axis=-1)
    x -= x.mean(axis=-1, keepdims=True)
    return x / x.std(axis=-1, keepdims=True)


def narrowband(
    rng: np.random.Generator, shape: tuple[int, int], fs: float, centre_hz: float, sd_hz: float
) -> np.ndarray:
    """Gaussian-spectrum noise around ``centre_hz`` (an oscillation that waxes and wanes),
    unit variance per row."""
    n = shape[-1]
    f = np.fft.rfftfreq(n, 1.0 / fs)
    gain = np.exp(-0.5 * ((f - centre_hz) / sd_hz) ** 2)
    x = np.fft.irfft(np.fft.rfft(rng.normal(size=shape), axis=-1) * gain, n=n, axis=-1)
    return x / x.std(axis=-1, keepdims=True)


def eeg_with_gains(
    seed: int,
    fs: float,
    segments: list[tuple[float, float, float, float]],
    n_channels: int = 8,
) -> np.ndarray:
    """EEG in µV: 1/f background (8 µV RMS) plus θ (6 Hz), α (10 Hz) and β (20 Hz)
    oscillations whose RMS amplitudes are set per segment.

    ``segments`` is a list of ``(duration_s, theta_uv, alpha_uv, beta_uv)``.
    """
    rng = np.random.default_rng(seed)
    n = int(round(sum(s[0] for s in segments) * fs))
    shape = (n_channels, n)
    background = 8.0 * pink_noise(rng, shape, fs)
    theta = narrowband(rng, shape, fs, 6.0, 1.0)
    alpha = narrowband(rng, shape, fs, 10.0, 1.0)
    beta = narrowband(rng, shape, fs, 20.0, 3.0)
    gains = np.zeros((3, n))
    start = 0
    for duration_s, theta_uv, alpha_uv, beta_uv in segments:
        stop = start + int(round(duration_s * fs))
        gains[:, start:stop] = np.array([theta_uv, alpha_uv, beta_uv])[:, None]
        start = stop
    return background + gains[0] * theta + gains[1] * alpha + gains[2] * beta


def rr_series(
    rng: np.random.Generator, duration_s: float, mean_ms: float, rsa_ms: float, jitter_ms: float
) -> np.ndarray:
    """RR intervals (ms) covering ``duration_s``: a mean, a 0.25 Hz respiratory modulation of
    ``rsa_ms`` amplitude and Gaussian jitter."""
    out: list[float] = []
    t = 0.0
    while t < duration_s * 1000.0:
        rr = mean_ms + rsa_ms * np.sin(2 * np.pi * 0.25 * t / 1000.0) + rng.normal(0, jitter_ms)
        out.append(rr)
        t += rr
    return np.asarray(out)


def pulse_train(
    beat_times_s: np.ndarray, fs: float, n: int, kind: str, rng: np.random.Generator
) -> np.ndarray:
    """A PPG-like (systolic bump + dicrotic wave) or ECG-like (narrow QRS + T wave) signal
    with a beat at each of ``beat_times_s`` (the PPG peak / R peak), plus a little noise."""
    t = np.arange(n) / fs
    x = np.zeros(n)
    for bt in beat_times_s:
        lo, hi = int(max(0, (bt - 0.5) * fs)), int(min(n, (bt + 0.8) * fs))
        tt = t[lo:hi] - bt
        if kind == "ppg":
            systolic = np.exp(-0.5 * (tt / 0.08) ** 2)
            x[lo:hi] += systolic + 0.4 * np.exp(-0.5 * ((tt - 0.3) / 0.1) ** 2)
        else:
            x[lo:hi] += np.exp(-0.5 * (tt / 0.012) ** 2) + 0.25 * np.exp(
                -0.5 * ((tt - 0.25) / 0.05) ** 2
            )
    return x + rng.normal(0, 0.02, n)


def heart_signal(
    seed: int, fs: float, kind: str, segments: list[tuple[float, float, float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """A PPG or ECG pulse train whose RR intervals follow ``segments`` of
    ``(duration_s, mean_ms, rsa_ms, jitter_ms)``; returns (signal, rr_ms)."""
    rng = np.random.default_rng(seed)
    rr = np.concatenate([rr_series(rng, *segment) for segment in segments])
    beats_s = 0.5 + np.cumsum(rr) / 1000.0
    n = int(round(sum(s[0] for s in segments) * fs))
    return pulse_train(beats_s[beats_s < n / fs], fs, n, kind, rng), rr


def scale_bands(x: np.ndarray, fs: float, low_gain: float, beta_gain: float) -> np.ndarray:
    """``x`` with its 4–13 Hz (θ+α) power × ``low_gain`` and its 13–30 Hz (β) power ×
    ``beta_gain``: the engagement index β/(α+θ) of every channel × beta_gain / low_gain."""
    spectrum = np.fft.rfft(x, axis=-1)
    f = np.fft.rfftfreq(x.shape[-1], 1.0 / fs)
    gain = np.ones_like(f)
    gain[(f >= 4.0) & (f < 13.0)] = np.sqrt(low_gain)
    gain[(f >= 13.0) & (f < 30.0)] = np.sqrt(beta_gain)
    return np.fft.irfft(spectrum * gain, n=x.shape[-1], axis=-1)


def rsa_for_rmssd(rmssd_ms: float, mean_rr_ms: float, jitter_ms: float) -> float:
    """Amplitude of :func:`rr_series`'s 0.25 Hz modulation that gives the RR series the
    RMSSD ``rmssd_ms``: a sine sampled once a beat has a mean squared successive difference
    2A²·sin²(π·f·RR), and the jitter adds 2σ²."""
    gain = 2 * np.sin(np.pi * 0.25 * mean_rr_ms / 1000.0) ** 2
    return float(np.sqrt(max(rmssd_ms**2 - 2 * jitter_ms**2, 0.0) / gain))
