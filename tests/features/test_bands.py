"""Band powers against MNE's Welch on the same data, analytic sines, mains hum removal."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.features import (
    BANDS,
    SignalError,
    compute_band_powers,
    compute_engagement_index,
    remove_line_noise,
)
from tests.features._synth import eeg_with_gains

FS = 250.0


def _eeg_like(seed: int, n_channels: int = 8, seconds: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    pink = np.cumsum(rng.normal(size=(n_channels, n)), axis=1)
    pink -= pink.mean(axis=1, keepdims=True)
    t = np.arange(n) / FS
    return 2 * pink + 10 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 5, (n_channels, n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_band_powers_equal_mne_welch_within_one_percent(seed):
    from mne.time_frequency import psd_array_welch

    data = _eeg_like(seed)
    ours = compute_band_powers(data, FS)
    psd, freqs = psd_array_welch(
        data, FS, fmin=0, fmax=FS / 2, n_fft=500, n_per_seg=500, n_overlap=250,
        window="hann", average="mean", verbose=False,
    )
    df = freqs[1] - freqs[0]
    for j, (low, high) in enumerate(BANDS.values()):
        expected = psd[:, (freqs >= low) & (freqs < high)].sum(axis=1) * df
        np.testing.assert_allclose(ours[:, j], expected, rtol=0.01)


def test_a_sine_puts_half_its_squared_amplitude_in_its_band():
    t = np.arange(int(8 * FS)) / FS
    amplitude_uv = 20.0
    powers = compute_band_powers(amplitude_uv * np.sin(2 * np.pi * 10.0 * t), FS)
    alpha = list(BANDS).index("alpha")
    assert powers[alpha] == pytest.approx(amplitude_uv**2 / 2, rel=0.01)
    assert powers.sum() == pytest.approx(amplitude_uv**2 / 2, rel=0.02)


def test_two_sines_land_in_their_own_bands_and_nowhere_else():
    t = np.arange(int(8 * FS)) / FS
    x = 6.0 * np.sin(2 * np.pi * 6.0 * t) + 3.0 * np.sin(2 * np.pi * 21.0 * t + 1.0)
    delta, theta, alpha, beta, gamma = compute_band_powers(np.vstack([x, 2 * x]), FS)[1]
    assert theta == pytest.approx(4 * 36.0 / 2, rel=0.01)
    assert beta == pytest.approx(4 * 9.0 / 2, rel=0.01)
    assert max(delta, alpha, gamma) < 1e-3 * beta


def test_engagement_index_is_beta_over_alpha_plus_theta_and_finite_at_zero():
    powers = np.array([[1.0, 2.0, 3.0, 10.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]])
    index = compute_engagement_index(powers)
    assert index[0] == pytest.approx(10.0 / 5.0)
    assert index[1] == 0.0


@pytest.mark.parametrize("line_hz", [50.0, 50.13, 59.87])
def test_mains_hum_is_removed_and_measured(line_hz):
    """200 µV of hum (mains a little off nominal included) on one channel of a 4 s window:
    the band powers after removal equal those of the same EEG without hum."""
    clean = eeg_with_gains(3, FS, [(4.0, 4.0, 8.0, 3.0)], n_channels=2)
    t = np.arange(clean.shape[1]) / FS
    hum = clean.copy()
    hum[0] += 200.0 * np.sin(2 * np.pi * line_hz * t + 0.3)
    removed, ratio = remove_line_noise(hum, FS, 50.0 if line_hz < 55 else 60.0)
    np.testing.assert_allclose(
        compute_band_powers(removed, FS), compute_band_powers(clean, FS), rtol=0.01
    )
    # Hum power (200²/2 = 20 000 µV²) over the EEG's (~150 µV²); the clean channel near 0.
    assert ratio[0] > 50 and ratio[1] < 0.05


def test_bad_shapes_and_lengths_are_named():
    with pytest.raises(SignalError, match="1-D or"):
        compute_band_powers(np.zeros((2, 2, 100)), FS)
    with pytest.raises(SignalError, match="at least 8"):
        compute_band_powers(np.zeros(4), FS)
    with pytest.raises(SignalError, match="'fs'"):
        compute_band_powers(np.zeros(100), -1.0)
    with pytest.raises(SignalError, match="'overlap'"):
        compute_band_powers(np.zeros(1000), FS, overlap=1.0)
