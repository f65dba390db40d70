"""EEG generator: band powers follow attention, realistic amplitudes, 1/f background."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt, welch
from scipy.stats import spearmanr

import sim
from tests.sim.conftest import window_log_engagement

RAMP = [[0, 0.0], [150, 1.0], [300, 0.0]]


@pytest.fixture(scope="module")
def ramp_recording() -> sim.SimRecording:
    """An artifact-free scenario whose attention sweeps 0 → 1 → 0, on an 8-channel layout."""
    scenario = sim.parse_scenario(
        {"name": "ramp", "duration_s": 300.0, "seed": 4, "attention": RAMP,
         "stress": [[0, 0.2]], "n_eeg_channels": 8, "fs": 250.0}
    )
    return sim.render_session(scenario, speed=0, start_time=0.0)


def test_engagement_index_follows_attention(ramp_recording: sim.SimRecording) -> None:
    rec = ramp_recording
    eeg = rec.data[list(rec.layout.eeg_rows)]
    log_e, bounds = window_log_engagement(eeg, rec.truth.fs, window_s=4.0)
    attention = np.array([rec.truth.attention[a:b].mean() for a, b in bounds])
    rho = spearmanr(log_e.mean(axis=1), attention).statistic
    assert rho >= 0.9
    # Every single channel carries the relation too, if more noisily.
    per_channel = [spearmanr(log_e[:, c], attention).statistic for c in range(log_e.shape[1])]
    assert min(per_channel) >= 0.5


def test_engagement_index_matches_the_analytic_model() -> None:
    attention = np.repeat([0.1, 0.9], 250 * 120)
    eeg = sim.sim_eeg(attention, 250.0, 6, seed=8)
    log_e, bounds = window_log_engagement(eeg.data_uv, 250.0)
    expected = eeg.expected_log_engagement(attention[bounds[:, 0]]).T
    # Welch's estimate scatters around the analytic expectation without bias.
    assert abs(np.median(log_e - expected)) < 0.1
    # The documented level table: E ×0.3 over rest at attention 0, ×3 at 1 (ln 10 apart).
    span = np.diff(eeg.expected_log_engagement(np.array([0.0, 1.0])), axis=1)
    np.testing.assert_allclose(span, np.log(10.0), atol=1e-6)
    # And the measured difference between the two halves has that size.
    low, high = log_e[: len(log_e) // 2].mean(), log_e[len(log_e) // 2:].mean()
    assert high - low == pytest.approx(np.mean(expected[len(log_e) // 2:])
                                       - np.mean(expected[: len(log_e) // 2]), abs=0.15)


@pytest.mark.parametrize(("level", "ratio"), [(0.15, 0.5), (0.85, 2.0), (1.0, 3.0)])
def test_an_attention_level_has_its_documented_engagement_index(level, ratio) -> None:
    """Measured by scipy's Welch on the generated data (not the model's own arithmetic):
    E = β/(α+θ) at the level over E at rest (0.5) is the level table's ratio."""
    fs, n = 250.0, 250 * 240
    eeg = sim.sim_eeg(np.repeat([0.5, level], n), fs, 8, seed=int(level * 100))
    f, rest = welch(eeg.data_uv[:, :n], fs=fs, nperseg=500)
    _, task = welch(eeg.data_uv[:, n:], fs=fs, nperseg=500)

    def log_e(p: np.ndarray) -> np.ndarray:
        band = {k: np.trapezoid(p[:, (f >= lo) & (f <= hi)], f[(f >= lo) & (f <= hi)], axis=1)
                for k, (lo, hi) in sim.BANDS_HZ.items()}
        return np.log(band["beta"] / (band["alpha"] + band["theta"]))

    measured = np.median(log_e(task) - log_e(rest))
    assert measured == pytest.approx(np.log(ratio), abs=0.08)


def test_band_powers_move_in_the_documented_directions() -> None:
    attention = np.repeat([0.0, 1.0], 250 * 60)
    eeg = sim.sim_eeg(attention, 250.0, 4, seed=2)
    half = attention.size // 2
    f, p_low = welch(eeg.data_uv[:, :half], fs=250, nperseg=500)
    _, p_high = welch(eeg.data_uv[:, half:], fs=250, nperseg=500)

    def power(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
        sel = (f >= lo) & (f <= hi)
        return np.trapezoid(p[:, sel], f[sel], axis=-1)

    for lo, hi, direction in ((4, 8, -1), (8, 13, -1), (13, 30, +1)):
        ratio = power(p_high, lo, hi) / power(p_low, lo, hi)
        assert np.all(np.sign(np.log(ratio)) == direction), (lo, hi, ratio)


def test_amplitudes_are_tens_of_microvolts() -> None:
    eeg = sim.sim_eeg(0.5, 250.0, 16, seed=3, duration_s=60.0)
    rms = eeg.data_uv.std(axis=1)
    assert np.all((rms > 5) & (rms < 50))
    ptp = np.ptp(eeg.data_uv, axis=1)
    assert np.all((ptp > 20) & (ptp < 400))


def test_background_is_one_over_f_with_the_drawn_exponent() -> None:
    eeg = sim.sim_eeg(0.5, 250.0, 6, seed=5, duration_s=120.0)
    f, psd = welch(eeg.data_uv, fs=250.0, nperseg=1000)
    sel = (f >= 35) & (f <= 90)  # above the β oscillation, below the white noise floor
    slopes = np.polyfit(np.log(f[sel]), np.log(psd[:, sel]).T, 1)[0]
    assert np.all((slopes < -0.8) & (slopes > -2.3))
    np.testing.assert_allclose(slopes, -eeg.exponents, atol=0.3)


def test_oscillations_are_bursty_with_random_phases() -> None:
    eeg = sim.sim_eeg(0.5, 250.0, 4, seed=6, duration_s=60.0)
    sos = butter(4, [8, 12], btype="bandpass", fs=250.0, output="sos")
    alpha = sosfiltfilt(sos, eeg.data_uv, axis=-1)
    envelope = np.abs(hilbert(alpha, axis=-1))[:, 500:-500]
    # A pure sine has a flat envelope; bursts make it vary by a good fraction of its mean.
    assert np.all(envelope.std(axis=1) / envelope.mean(axis=1) > 0.3)
    # Channels are not phase-locked copies of each other.
    corr = np.corrcoef(alpha)[np.triu_indices(4, 1)]
    assert np.all(np.abs(corr) < 0.3)


@pytest.mark.parametrize(("fs", "n_channels"), [(128.0, 1), (500.0, 3), (1000.0, 2)])
def test_any_rate_and_channel_count(fs: float, n_channels: int) -> None:
    attention = np.repeat([0.0, 1.0], int(fs * 40))
    eeg = sim.sim_eeg(attention, fs, n_channels, seed=1)
    assert eeg.data_uv.shape == (n_channels, attention.size)
    assert np.all(np.isfinite(eeg.data_uv))
    log_e, _ = window_log_engagement(eeg.data_uv, fs, window_s=4.0)
    half = len(log_e) // 2
    assert log_e[half:].mean() - log_e[:half].mean() > 0.8


def test_timeline_and_per_sample_attention_give_the_same_data() -> None:
    points = [[0, 0.2], [10, 0.9], [20, 0.4]]
    by_timeline = sim.sim_eeg(points, 250.0, 2, seed=9, duration_s=20.0)
    per_sample = sim.Timeline.from_points(points).at(np.arange(5000) / 250.0)
    np.testing.assert_array_equal(by_timeline.attention, per_sample)
    np.testing.assert_array_equal(by_timeline.data_uv, sim.sim_eeg(per_sample, 250.0, 2, 9).data_uv)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = sim.sim_eeg(0.5, 250.0, 2, seed=1, duration_s=5.0).data_uv
    b = sim.sim_eeg(0.5, 250.0, 2, seed=1, duration_s=5.0).data_uv
    c = sim.sim_eeg(0.5, 250.0, 2, seed=2, duration_s=5.0).data_uv
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"attention": 0.5, "fs": 50.0, "duration_s": 1.0}, "'fs'"),
        ({"attention": [[0, 0.5], [1, 0.6]], "fs": 250.0}, "'duration_s'"),
        ({"attention": np.array([0.2, 1.5]), "fs": 250.0}, "'attention'"),
        ({"attention": [[0, 0.5], [1, 1.2]], "fs": 250.0, "duration_s": 2.0}, "'attention[1]'"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, named: str) -> None:
    with pytest.raises(sim.SimError, match=named.replace("[", r"\[").replace("]", r"\]")):
        sim.sim_eeg(n_channels=2, seed=0, **kwargs)
