"""Welch band powers and the engagement index β/(α+θ).

A band ``(lo, hi)`` holds the frequency bins with ``lo <= f < hi`` (half-open, every band
including the last), so adjacent bands share no bin and the default five partition
[1, 45) Hz. Power is the sum of the density over those bins times the bin width (rectangle
rule): with a one-sided Hann-windowed density this is Parseval's sum, so a sine of amplitude
A whose main lobe lies inside a band puts A²/2 in it. Units are the signal's squared (µV²).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import as_strided
from scipy.signal import get_window

from runtime.features._errors import SignalError
from runtime.features._validate import check_fs

__all__ = [
    "BANDS",
    "BAND_NAMES",
    "DEFAULT_BANDS",
    "compute_band_powers",
    "compute_engagement_index",
    "compute_psd",
    "integrate_bands",
]

#: Frequency bands in Hz, each half-open ``[low, high)``: δ, θ, α, β, γ.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}
#: The same mapping under the name the signal functions use as their default.
DEFAULT_BANDS = BANDS
#: Column order of :func:`compute_band_powers` with the default bands.
BAND_NAMES: tuple[str, ...] = tuple(BANDS)
#: Fewest samples for a spectrum.
MIN_SAMPLES = 8
_TINY = 1e-30


@lru_cache(maxsize=32)
def _density_window(nperseg: int, fs: float) -> np.ndarray:
    """Periodic Hann window of ``nperseg`` samples times sqrt(1 / (fs·Σw²)), read-only.

    Squared magnitudes of its FFT are then densities in units²/Hz. Σw² is summed in order
    and divided by the sampling interval, as ``scipy.signal.welch`` does, so the spectra
    agree with it to rounding (bit for bit with fewer than 8 segments).
    """
    window = get_window("hann", nperseg)
    window = window * (1 / np.sqrt(sum(window**2) / (1 / fs)))
    window.setflags(write=False)
    return window


def compute_psd(
    data: np.ndarray, fs: float, *, segment_s: float = 2.0, overlap: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD along the last axis: Hann window, constant detrend, mean of segments.

    Segments are ``round(segment_s * fs)`` samples (fewer if the data is shorter, never
    fewer than 8), with ``round(overlap * nperseg)`` shared; trailing samples that do not
    fill a segment are left out. Returns ``(freqs_hz, psd)``, psd in units²/Hz, one-sided
    (every bin but DC and Nyquist doubled). The numbers of ``scipy.signal.welch`` with
    ``window="hann"``, ``detrend="constant"``, ``scaling="density"``, ``average="mean"``
    (to rounding), at a third of its cost: its per-call overhead dominated a 4 s window.
    """
    fs = check_fs(fs)
    if not 0.0 <= overlap < 1.0:
        raise SignalError(f"The argument 'overlap' must be in [0, 1); {overlap!r} is invalid.")
    if not segment_s > 0:
        raise SignalError(f"The argument 'segment_s' must be > 0 s; {segment_s!r} is invalid.")
    data = np.asarray(data, dtype=np.float64)
    n = data.shape[-1] if data.ndim else 0
    if n < MIN_SAMPLES:
        raise SignalError(
            f"The argument 'data' has {n} samples along its last axis; a spectrum needs at "
            f"least {MIN_SAMPLES}."
        )
    nperseg = max(MIN_SAMPLES, min(int(round(segment_s * fs)), n))
    noverlap = int(round(nperseg * overlap))
    if noverlap >= nperseg:
        raise SignalError(
            f"The argument 'overlap' ({overlap!r}) leaves no step between {nperseg}-sample "
            "segments; use a smaller overlap."
        )
    step = nperseg - noverlap
    n_segments = (n - noverlap) // step
    segments = as_strided(
        data,
        shape=(*data.shape[:-1], n_segments, nperseg),
        strides=(*data.strides[:-1], step * data.strides[-1], data.strides[-1]),
        writeable=False,
    )
    segments = segments - segments.mean(axis=-1, keepdims=True)
    segments *= _density_window(nperseg, fs)
    spectra = scipy.fft.rfft(segments, axis=-1)
    psd = (spectra.real**2 + spectra.imag**2).mean(axis=-2)
    psd[..., 1 : -1 if nperseg % 2 == 0 else None] *= 2
    return scipy.fft.rfftfreq(nperseg, 1 / fs), psd


@lru_cache(maxsize=64)
def _band_matrix(freqs_key: bytes, bands: tuple[tuple[object, float, float], ...]) -> np.ndarray:
    """(n_freqs, n_bands) read-only matrix, 1 where ``low <= f < high``, else 0, for the
    frequencies packed in ``freqs_key``."""
    freqs = np.frombuffer(freqs_key, dtype=np.float64)
    matrix = np.zeros((freqs.size, len(bands)))
    for j, (name, low, high) in enumerate(bands):
        if not low < high:
            raise SignalError(
                f"The band {name!r} must have low < high in Hz; got ({low:g}, {high:g}). "
                "Swap the edges."
            )
        matrix[(freqs >= low) & (freqs < high), j] = 1.0
    matrix.setflags(write=False)
    return matrix


def integrate_bands(
    freqs: np.ndarray, psd: np.ndarray, bands: Mapping[str, tuple[float, float]] = BANDS
) -> np.ndarray:
    """Sum density × bin width over the bins ``low <= f < high``; shape (..., n_bands).

    The bins of each band are found once per frequency grid and set of bands, and summed
    in one matrix product (a sixth of the cost of a masked sum per band).
    """
    df = float(freqs[1] - freqs[0])
    key = np.ascontiguousarray(freqs, dtype=np.float64).tobytes()
    spec = tuple((name, float(low), float(high)) for name, (low, high) in bands.items())
    matrix = _band_matrix(key, spec)
    psd = np.asarray(psd)
    with np.errstate(invalid="ignore", over="ignore"):
        out = (psd @ matrix) * df
    if not np.isfinite(out).all():
        # 0 × inf is NaN: a non-finite density must only reach the bands that hold it (and
        # an overflow warns as before).
        in_band = matrix.T > 0
        out = np.stack([psd[..., mask].sum(axis=-1) * df for mask in in_band], axis=-1)
    return out


def compute_band_powers(
    data: np.ndarray,
    fs: float,
    *,
    segment_s: float = 2.0,
    overlap: float = 0.5,
    bands: Mapping[str, tuple[float, float]] = BANDS,
) -> np.ndarray:
    """Absolute power of each band, per channel, from Welch's density.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples) or (n_samples,)
        The signal (µV for EEG).
    fs : float
        Sampling rate, in Hz.
    segment_s : float
        Welch segment length, in seconds (2 s gives 0.5 Hz bins).
    overlap : float
        Fraction of a segment shared with the next, in [0, 1).
    bands : mapping name -> (low_hz, high_hz)
        Half-open bands ``[low, high)``; default :data:`BANDS` (δ θ α β γ).

    Returns
    -------
    powers : array, shape (n_channels, n_bands), or (n_bands,) for 1-D input
        Power in signal units² (µV²), columns in the order of ``bands``.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim not in (1, 2):
        raise SignalError(
            f"The argument 'data' must be 1-D or (n_channels, n_samples); got shape {data.shape}."
        )
    if data.shape[-1] < MIN_SAMPLES:
        raise SignalError(
            f"The argument 'data' has {data.shape[-1]} samples; band powers need at least "
            f"{MIN_SAMPLES} (and segment_s·fs = {segment_s * fs:g} for full resolution)."
        )
    freqs, psd = compute_psd(data, fs, segment_s=segment_s, overlap=overlap)
    return integrate_bands(freqs, psd, bands)


def compute_engagement_index(powers: np.ndarray) -> np.ndarray:
    """Pope's engagement index β / (α + θ) from band powers in :data:`BAND_NAMES` order.

    ``powers`` is (..., 5); returns (...,). Finite for finite non-negative input (a zero
    denominator is floored at a tiny positive number).
    """
    powers = np.asarray(powers, dtype=np.float64)
    if powers.shape[-1] != len(BAND_NAMES):
        raise SignalError(
            f"The argument 'powers' must have {len(BAND_NAMES)} columns {BAND_NAMES}; got "
            f"shape {powers.shape}. Compute it with the default bands."
        )
    theta, alpha, beta = powers[..., 1], powers[..., 2], powers[..., 3]
    return beta / np.maximum(alpha + theta, _TINY)
