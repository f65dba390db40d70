"""Coloured Gaussian noise by spectral shaping: the building block of every simulated signal."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft


def shaped_noise(
    rng: np.random.Generator,
    n_rows: int,
    n_samples: int,
    fs: float,
    psd: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Gaussian noise ``(n_rows, n_samples)`` whose one-sided PSD is ``psd(f)`` (units²/Hz).

    White noise is shaped in the frequency domain. With unit white variance, multiplying the
    rFFT bins by ``sqrt(psd(f) * fs / 2)`` gives a series whose expected variance is
    ``∫ psd(f) df`` over 0..fs/2, so expected band powers are known analytically. ``psd`` may
    return one row per output row (shape ``(n_rows, n_freqs)``) or one shared row.
    """
    n_fft = scipy.fft.next_fast_len(max(n_samples, 2), real=True)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / fs)
    white = rng.standard_normal((n_rows, n_fft))
    spectrum = scipy.fft.rfft(white, axis=-1)
    gain = np.sqrt(np.clip(psd(freqs), 0.0, None) * fs / 2.0)
    spectrum *= gain
    spectrum[..., 0] = 0.0  # no DC: offsets are added explicitly where wanted
    return scipy.fft.irfft(spectrum, n=n_fft, axis=-1)[:, :n_samples]


def burst_envelope(
    rng: np.random.Generator, n_rows: int, n_samples: int, fs: float, depth: float, rate_hz: float
) -> np.ndarray:
    """A positive, slowly varying gain with mean square 1: log-normal bursts of ``depth``.

    ``z`` is low-pass Gaussian noise (Gaussian spectrum of width ``rate_hz``) scaled to unit
    variance; ``exp(depth·z − depth²)`` then has expected square 1, so multiplying a signal by
    it makes the signal bursty without changing its expected power.
    """
    if depth <= 0:
        return np.ones((n_rows, n_samples))
    z = shaped_noise(rng, n_rows, n_samples, fs, lambda f: np.exp(-0.5 * (f / rate_hz) ** 2))
    z /= z.std(axis=-1, keepdims=True)
    return np.exp(depth * z - depth**2)
