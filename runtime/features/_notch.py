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
#: Columns of one trial's design: sin, cos, and both times centred time.
_N_TERMS = 4


def _trial(fs: float, n: int, freq_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design matrix (n, 4) of a line at ``freq_hz``, its pseudo-inverse (4, n) and its
    Gram matrix / n (4, 4): the fitted line's mean power is ``coef @ gram @ coef``."""
    t = np.arange(n) / fs
    centred = (t - t.mean()) / max(t[-1] - t[0], 1e-12)
    s, c = np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t)
    design = np.stack([s, c, centred * s, centred * c], axis=1)
    return design, np.linalg.pinv(design), design.T @ design / n


@lru_cache(maxsize=8)
def _projectors(
    fs: float, n: int, line_freq_hz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every trial frequency's projector, stacked (read-only): designs (n_trials, n, 4),
    pseudo-inverses (n_trials·4, n), so one product fits all trials, and Gram matrices
    (n_trials, 4, 4)."""
    trials = [_trial(fs, n, float(line_freq_hz + o)) for o in _OFFSETS_HZ]
    designs = np.stack([design for design, _, _ in trials])
    pinvs = np.concatenate([pinv for _, pinv, _ in trials], axis=0)
    grams = np.stack([gram for _, _, gram in trials])
    for array in (designs, pinvs, grams):
        array.setflags(write=False)
    return designs, pinvs, grams


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
    n_channels, n = centred.shape
    if line_freq_hz >= fs / 2 or n < 8 or n_channels == 0:
        return centred, np.zeros(n_channels)
    # Score every trial frequency from its (n_channels, 4) coefficients alone (all trials
    # in one product), then build only the winning line of each channel: the full
    # (n_channels, n) line per trial was most of the cost at 64 channels and 1 kHz.
    designs, pinvs, grams = _projectors(float(fs), n, float(line_freq_hz))
    coefs = (centred @ pinvs.T).reshape(n_channels, len(grams), _N_TERMS)
    powers = np.einsum("cki,kij,ckj->kc", coefs, grams, coefs)
    best = np.argmax(powers, axis=0)
    if (best == best[0]).all():  # usually one trial frequency wins on every channel
        best_line = coefs[:, best[0]] @ designs[best[0]].T
    else:
        best_line = np.zeros_like(centred)
        for k in np.unique(best):
            rows = best == k
            best_line[rows] = coefs[rows, k] @ designs[k].T
    # In place, on arrays made here: fewer window-sized temporaries keep the estimate's
    # working set in cache.
    cleaned = np.subtract(centred, best_line, out=centred)
    line_power = powers[best, np.arange(n_channels)]
    rest_power = np.mean(np.square(cleaned, out=best_line), axis=-1)
    ratio = np.divide(line_power, rest_power, out=np.zeros_like(line_power), where=rest_power > 0)
    return cleaned, ratio
