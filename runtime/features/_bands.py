"""Welch band powers and the engagement index β/(α+θ)."""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

#: Frequency bands in Hz, half-open [low, high) except the last edge (see compute_band_powers).
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}
BAND_NAMES = tuple(BANDS)


def compute_psd(
    data: np.ndarray, fs: float, *, segment_s: float = 2.0, overlap: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD (Hann window, constant detrend, density in units²/Hz) along the last axis."""
    nperseg = max(8, min(int(round(segment_s * fs)), data.shape[-1]))
    return welch(
        data,
        fs=fs,
        window="hann",
        nperseg=nperseg,
        noverlap=int(round(nperseg * overlap)),
        detrend="constant",
        scaling="density",
        axis=-1,
    )


def integrate_bands(
    freqs: np.ndarray, psd: np.ndarray, bands: dict[str, tuple[float, float]] = BANDS
) -> np.ndarray:
    """Sum density × bin width over bins with low ≤ f < high; shape (..., n_bands)."""
    df = float(freqs[1] - freqs[0])
    out = [
        psd[..., (freqs >= low) & (freqs < high)].sum(axis=-1) * df for low, high in bands.values()
    ]
    return np.stack(out, axis=-1)


def compute_band_powers(
    data: np.ndarray,
    fs: float,
    *,
    segment_s: float = 2.0,
    overlap: float = 0.5,
    bands: dict[str, tuple[float, float]] = BANDS,
) -> np.ndarray:
    """Absolute band powers (units²) of each channel: shape (n_channels, n_bands), or
    (n_bands,) for 1-D input. Bins are taken with low ≤ f < high."""
    data = np.asarray(data, dtype=np.float64)
    if data.ndim not in (1, 2):
        raise ValueError(f"data must be 1-D or (n_channels, n_samples); got shape {data.shape}")
    if data.shape[-1] < 8:
        raise ValueError(f"data has {data.shape[-1]} samples; band powers need at least 8")
    freqs, psd = compute_psd(data, fs, segment_s=segment_s, overlap=overlap)
    return integrate_bands(freqs, psd, bands)


def compute_engagement_index(powers: np.ndarray) -> np.ndarray:
    """β / (α + θ) from band powers in BANDS order (last axis)."""
    theta, alpha, beta = powers[..., 1], powers[..., 2], powers[..., 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        return beta / (alpha + theta)
