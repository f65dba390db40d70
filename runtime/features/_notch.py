"""Mains hum removed from each EEG window before its spectrum, by sinusoidal regression.

A least-squares fit of sin/cos with linearly varying amplitude is subtracted from each
channel, at whichever frequency within ±0.2 Hz of nominal (0.05 Hz grid; the amplitude
terms absorb the rest) explains most power, since the grid's frequency drifts: a notch
with no edge transients, which an IIR notch filtered forward-backward over a 4 s window
has (its ringing lasts ≈ Q / (π·f0) ≈ 0.2 s at each end), and no dent in the neighbouring
bins (the regression removes only what is coherent with the line). The removed component's
power over what is left is the channel's line-noise ratio, at no extra spectral cost.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["remove_line_noise"]

#: Mains frequency offsets tried, in Hz (grids drift by up to ±0.2 Hz).
_OFFSETS_HZ = np.linspace(-0.2, 0.2, 9)


@lru_cache(maxsize=64)
def _projector(fs: float, n: int, line_freq_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design matrix (n, 4) of the line component, its pseudo-inverse (4, n) and its
    Gram matrix / n (4, 4): the fitted line's mean power is ``coef @ gram @ coef``."""
    t = np.arange(n) / fs
    centred = (t - t.mean()) / max(t[-1] - t[0], 1e-12)
    s, c = np.sin(2 * np.pi * line_freq_hz * t), np.cos(2 * np.pi * line_freq_hz * t)
    design = np.stack([s, c, centred * s, centred * c], axis=1)
    pinv = np.linalg.pinv(design)
    gram = design.T @ design / n
    for array in (design, pinv, gram):
        array.setflags(write=False)
    return design, pinv, gram


def remove_line_noise(
    window: np.ndarray, fs: float, line_freq_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Remove the ``line_freq_hz`` component from each row of a finite (n_channels, n) window.

    Returns ``(cleaned, line_ratio)``: the mean-removed window without the line component
    (a new array) and, per channel, the removed power over the remaining power (0 for a
    channel with nothing left). A line frequency at or above Nyquist is not removed.
    """
    window = np.atleast_2d(np.asarray(window, dtype=np.float64))
    centred = window - window.mean(axis=-1, keepdims=True)
    n = centred.shape[-1]
    if line_freq_hz >= fs / 2 or n < 8:
        return centred, np.zeros(centred.shape[0])
    # Score every trial frequency from its (n_channels, 4) coefficients alone, then build
    # only the winning line of each channel: the full (n_channels, n) line per trial was
    # most of the cost at 64 channels and 1 kHz.
    projectors = [_projector(float(fs), n, float(line_freq_hz + o)) for o in _OFFSETS_HZ]
    coefs = [centred @ pinv.T for _, pinv, _ in projectors]
    powers = np.stack(
        [
            np.einsum("ci,ij,cj->c", coef, gram, coef)
            for coef, (_, _, gram) in zip(coefs, projectors, strict=True)
        ]
    )
    best = np.argmax(powers, axis=0)
    best_line = np.zeros_like(centred)
    for k in np.unique(best):
        rows = best == k
        best_line[rows] = coefs[k][rows] @ projectors[k][0].T
    cleaned = centred - best_line
    line_power = powers[best, np.arange(centred.shape[0])]
    rest_power = np.mean(np.square(cleaned), axis=-1)
    ratio = np.divide(line_power, rest_power, out=np.zeros_like(line_power), where=rest_power > 0)
    return cleaned, ratio
