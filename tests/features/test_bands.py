"""Band powers against scipy/MNE on the same data, and analytic sines."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.features import BANDS, compute_band_powers, compute_engagement_index

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


def test_engagement_index_is_beta_over_alpha_plus_theta():
    powers = np.array([[1.0, 2.0, 3.0, 10.0, 0.5]])
    assert compute_engagement_index(powers)[0] == pytest.approx(10.0 / 5.0)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="1-D or"):
        compute_band_powers(np.zeros((2, 2, 100)), FS)
    with pytest.raises(ValueError, match="at least 8"):
        compute_band_powers(np.zeros(4), FS)
