"""Streaming estimators: chunking invariance, calibration, bad channels, direction of
change on synthesised signals, and ground truth from sim/ scenarios."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import sim
from runtime.errors import ConfigError, KintsugiError
from runtime.features import (
    AttentionEstimator,
    EegFeatureSettings,
    HeartFeatureSettings,
    StressEstimator,
)
from tests._levels import ATTENTION_SPAN_S, MAX_MAE, STRESS_SPAN_S, settled_errors
from tests.features._synth import eeg_with_gains, heart_signal

FS = 250.0
NAMES = ("Fp1", "C3", "Cz", "C4", "P3", "Pz", "P4", "O1")


@pytest.fixture(scope="module")
def ci_short():
    """The short CI scenario rendered in an 8-channel layout with PPG and ECG."""
    return sim.render_session(sim.load_scenario("ci_short"), sim.generic_layout(8, FS), speed=0)


def _eeg(recording) -> np.ndarray:
    return recording.data[list(recording.layout.eeg_rows)]


def test_estimates_do_not_depend_on_chunk_size(ci_short):
    eeg = _eeg(ci_short)[:, : int(30 * FS)]
    settings = EegFeatureSettings(baseline_s=10)
    one = AttentionEstimator(FS, NAMES, settings).push(eeg)
    rng = np.random.default_rng(1)
    chunked = AttentionEstimator(FS, NAMES, settings)
    many = []
    start = 0
    while start < eeg.shape[1]:
        size = int(rng.integers(1, 60))
        many += chunked.push(eeg[:, start : start + size])
        start += size
    assert len(one) == len(many) == (eeg.shape[1] - int(4 * FS)) // int(0.25 * FS) + 1
    assert [e.to_dict() for e in one] == [e.to_dict() for e in many]


def test_calibration_then_valid_attention(ci_short):
    settings = EegFeatureSettings(baseline_s=20)
    estimates = AttentionEstimator(FS, NAMES, settings).push(_eeg(ci_short)[:, : int(40 * FS)])
    calibrating = [e for e in estimates if e.time_s <= 20]
    after = [e for e in estimates if e.time_s > 20]
    assert all(not e.valid and e.reason.startswith("calibrating") for e in calibrating)
    assert all(e.attention is None for e in calibrating)
    assert after and all(e.valid and e.calibrated and 0 <= e.attention <= 1 for e in after)


def _blink(n: int, at: int, amplitude_uv: float = 150.0, width_s: float = 0.4) -> np.ndarray:
    """A raised-cosine bump, the shape of a blink on a frontal electrode."""
    bump = np.zeros(n)
    width = int(width_s * FS)
    bump[at : at + width] = amplitude_uv * 0.5 * (1 - np.cos(2 * np.pi * np.arange(width) / width))
    return bump


def test_bad_channels_are_excluded_and_reported(ci_short):
    eeg = _eeg(ci_short)[:, : int(8 * FS)].copy()
    t = np.arange(eeg.shape[1]) / FS
    eeg[1, 100:110] = np.nan
    eeg[2] = 3.0  # flat
    eeg[3, 500] = 200000.0  # railed (ADS1299 full scale at gain 24 is 187 500 µV)
    eeg[0] += _blink(eeg.shape[1], 300)  # a blink on a frontal channel
    eeg[4] += 40.0 * np.sin(2 * np.pi * 37.0 * t)  # γ far above the 30 % limit: EMG-like
    eeg[5] += 100.0 * np.sin(2 * np.pi * 50.0 * t)  # mains hum: removed, only a warning
    estimates = AttentionEstimator(FS, NAMES, EegFeatureSettings(baseline_s=0)).push(eeg)
    first = estimates[0]  # the window holding every fault (samples 0–999)
    assert first.channels_bad == {
        "Fp1": "blink", "C3": "non-finite", "Cz": "flat", "C4": "railed", "P3": "emg",
    }
    assert first.channels_warn == {"Pz": "line-noise"}
    assert set(first.channels_used) == {"Pz", "P4", "O1"}
    assert first.quality == pytest.approx(3 / 8)


def test_without_a_full_scale_huge_values_are_out_of_range(ci_short):
    eeg = _eeg(ci_short)[:, : int(5 * FS)].copy()
    eeg[6, 10] = 5e6  # 5 V: no EEG amplifier gives this
    settings = EegFeatureSettings(baseline_s=0, railed_uv=None)
    estimate = AttentionEstimator(FS, NAMES, settings).push(eeg)[0]
    assert estimate.channels_bad == {"P4": "out of range"}


def test_mains_hum_does_not_move_band_powers(ci_short):
    eeg = _eeg(ci_short)[:, : int(10 * FS)]
    hum = eeg + 150.0 * np.sin(2 * np.pi * 50.0 * np.arange(eeg.shape[1]) / FS)
    settings = EegFeatureSettings(baseline_s=0)
    clean = AttentionEstimator(FS, NAMES, settings).push(eeg)
    noisy = AttentionEstimator(FS, NAMES, settings).push(hum)
    for a, b in zip(clean, noisy, strict=True):
        assert a.channels_used == b.channels_used
        for band, power in a.band_powers.items():
            assert b.band_powers[band] == pytest.approx(power, rel=0.01), band


def test_too_few_good_channels_make_the_window_invalid():
    eeg = np.full((8, int(6 * FS)), np.nan)
    eeg[0] = np.random.default_rng(0).normal(0, 10, eeg.shape[1])
    estimates = AttentionEstimator(
        FS, NAMES, EegFeatureSettings(baseline_s=0, min_good_fraction=0.5)
    ).push(eeg)
    assert estimates and all(not e.valid for e in estimates)
    assert estimates[-1].reason.startswith("too few good channels")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e30, 1e300])
def test_non_finite_and_huge_input_never_gives_non_finite_output(ci_short, bad):
    eeg = _eeg(ci_short)[:, : int(12 * FS)].copy()
    eeg[:, 1000:1200] = bad
    attention = AttentionEstimator(FS, NAMES, EegFeatureSettings(baseline_s=5)).push(eeg)
    heart = ci_short.data[ci_short.layout.ppg_rows[0]][: int(70 * FS)].copy()
    heart[2000:2500] = bad
    stress = StressEstimator(FS, "ppg", HeartFeatureSettings(baseline_s=0)).push(heart)
    assert any(e.valid for e in attention) and not all(e.valid for e in attention)
    for estimate in attention + stress:
        body = estimate.to_dict()
        json.dumps(body, allow_nan=False)  # plain JSON types, every number finite
        for value in body.values():
            if isinstance(value, float):
                assert math.isfinite(value)


def test_wrong_input_shapes_and_rates_are_named():
    with pytest.raises(ConfigError, match="fs must be"):
        AttentionEstimator(0, NAMES)
    with pytest.raises(ValueError, match=r"\(8, n_samples\)"):
        AttentionEstimator(FS, NAMES).push(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="1-D"):
        StressEstimator(FS, "ppg").push(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="'ppg' or 'ecg'"):
        StressEstimator(FS, "eeg")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="too low for ecg"):
        StressEstimator(30.0, "ecg")
    with pytest.raises(ConfigError, match="non-empty"):
        AttentionEstimator(FS, [])
    repeated = AttentionEstimator(FS, ["C3", "C3", "Cz"])
    assert repeated.names == ("C3", "C3", "Cz") and repeated.labels == ("C3", "C3#2", "Cz")


def test_saved_baseline_makes_a_new_session_calibrated_at_once(ci_short, tmp_path):
    settings = EegFeatureSettings(baseline_s=20)
    first = AttentionEstimator(FS, NAMES, settings)
    first.push(_eeg(ci_short)[:, : int(30 * FS)])
    path = first.save_baseline(tmp_path / "baseline.json")
    second = AttentionEstimator(FS, NAMES, settings)
    second.load_baseline(path)
    estimates = second.push(_eeg(ci_short)[:, : int(6 * FS)])
    assert estimates and all(e.valid and e.calibrated for e in estimates)


def test_a_baseline_is_only_saved_when_calibrated_and_loaded_when_comparable(tmp_path):
    estimator = AttentionEstimator(FS, NAMES, EegFeatureSettings(baseline_s=20))
    with pytest.raises(KintsugiError, match="calibration has not finished"):
        estimator.save_baseline(tmp_path / "b.json")
    heart = StressEstimator(100.0, "ppg", HeartFeatureSettings(baseline_s=60))
    x, _ = heart_signal(1, 100.0, "ppg", [(90.0, 850.0, 30.0, 10.0)])
    heart.push(x)
    path = heart.save_baseline(tmp_path / "heart.json")
    other = StressEstimator(100.0, "ppg", HeartFeatureSettings(window_s=120, baseline_s=60))
    with pytest.raises(ConfigError, match="window_s"):
        other.load_baseline(path)
    with pytest.raises(ConfigError, match="lacks"):
        estimator.load_baseline(path)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        estimator.load_baseline(tmp_path / "junk.json")


def test_calibration_waits_for_enough_valid_windows():
    """The baseline is built from valid windows only: when the first baseline_s seconds
    are mostly unusable, calibration goes on until half of a clean baseline is collected."""
    eeg = eeg_with_gains(7, FS, [(40.0, 4.0, 8.0, 3.0)])
    eeg[:, : int(16 * FS)] = np.nan  # the first 16 of 20 baseline seconds are lost
    estimator = AttentionEstimator(FS, NAMES, EegFeatureSettings(baseline_s=20))
    estimates = estimator.push(eeg)
    first_valid = next(e for e in estimates if e.valid)
    hop_n, window_n = round(estimator.hop_s * FS), round(estimator.window_s * FS)
    # A clean 20 s baseline holds floor((20 − 4) / hop) + 1 windows; half of them (rounded
    # up) must be valid. The first window free of NaN is the first ending after 16 + 4 s.
    needed = math.ceil((math.floor((20 - estimator.window_s) / estimator.hop_s) + 1) / 2)
    first_clean_end = window_n + hop_n * math.ceil((int(16 * FS) + window_n - window_n) / hop_n)
    assert first_valid.sample_index == first_clean_end + needed * hop_n
    waiting = [e for e in estimates if 20.0 < e.time_s < first_valid.time_s]
    assert waiting and all(e.reason.startswith("calibrating") for e in waiting)


def test_attention_rises_with_beta_and_falls_with_alpha_and_theta():
    """Baseline θ 4, α 8, β 3 µV RMS; then more β and less α/θ (engaged), then the reverse
    (drowsy), then the baseline mix again."""
    segments = [
        (30.0, 4.0, 8.0, 3.0),
        (30.0, 2.0, 4.0, 6.0),
        (30.0, 8.0, 16.0, 1.5),
        (30.0, 4.0, 8.0, 3.0),
    ]
    eeg = eeg_with_gains(11, FS, segments)
    settings = EegFeatureSettings(baseline_s=30)
    estimates = AttentionEstimator(FS, NAMES, settings).push(eeg)

    def settled(start_s: float) -> np.ndarray:  # window inside the segment, EMA settled
        return np.array([
            e.attention for e in estimates if start_s + 15 <= e.time_s <= start_s + 30
        ])

    engaged, drowsy, rest = settled(30.0), settled(60.0), settled(90.0)
    assert engaged.min() > 0.9
    assert drowsy.max() < 0.1
    assert 0.15 < np.median(rest) < 0.85


def test_stress_estimates_do_not_depend_on_chunk_size():
    x, _ = heart_signal(2, 100.0, "ppg", [(100.0, 800.0, 40.0, 10.0)])
    settings = HeartFeatureSettings(baseline_s=60, hop_s=2.0)
    one = StressEstimator(100.0, "ppg", settings).push(x)
    chunked = StressEstimator(100.0, "ppg", settings)
    rng = np.random.default_rng(3)
    many, start = [], 0
    while start < x.size:
        size = int(rng.integers(1, 400))
        many += chunked.push(x[start : start + size])
        start += size
    assert len(one) == len(many) == (x.size - 6000) // 200 + 1
    assert [e.to_dict() for e in one] == [e.to_dict() for e in many]


@pytest.mark.parametrize(("kind", "fs"), [("ppg", 100.0), ("ecg", 250.0)])
def test_stress_rises_when_rr_get_shorter_and_less_variable(kind, fs):
    """Rest: RR 900 ms with 50 ms of respiratory modulation; then a stressed stretch at
    650 ms with 8 ms; then rest again."""
    segments = [
        (180.0, 900.0, 50.0, 15.0),
        (120.0, 650.0, 8.0, 4.0),
        (120.0, 900.0, 50.0, 15.0),
    ]
    x, _ = heart_signal(9, fs, kind, segments)
    settings = HeartFeatureSettings(baseline_s=120)
    estimates = StressEstimator(fs, kind, settings).push(x)
    calibrating = [e for e in estimates if e.time_s <= 120]
    assert calibrating and all(e.reason.startswith("calibrating") for e in calibrating)
    assert all(e.hrv is not None for e in calibrating)  # HRV is reported while calibrating

    def inside(start_s: float, stop_s: float) -> np.ndarray:  # windows wholly inside
        values = [e.stress for e in estimates if start_s + 60 <= e.time_s <= stop_s]
        assert values and None not in values
        return np.array(values)

    rest, stressed, recovered = inside(120, 180), inside(180, 300), inside(300, 420)
    assert stressed.min() > 0.95
    assert rest.max() < 0.85 and recovered.max() < 0.85
    assert stressed.min() > max(rest.max(), recovered.max())


@pytest.mark.parametrize("scenario", ["ci_short", "focus_then_stress"])
def test_attention_and_stress_levels_match_the_simulated_ground_truth(scenario):
    """Levels, not ranks: mean absolute error ≤ 0.12 over settled windows (tests/_levels.py),
    for attention and for stress from PPG and from ECG."""
    recording = sim.render_session(
        sim.load_scenario(scenario), sim.generic_layout(8, FS), speed=0
    )
    truth = recording.truth
    attention = [e for e in AttentionEstimator(FS, NAMES).push(_eeg(recording)) if e.valid]
    errors = settled_errors(
        [(e.sample_index, e.attention) for e in attention],
        truth.attention,
        int(ATTENTION_SPAN_S * FS),
    )
    assert errors.size > 100 and errors.mean() <= MAX_MAE, errors.mean()
    layout = recording.layout
    for kind, row in (("ppg", layout.ppg_rows[0]), ("ecg", layout.ecg_rows[0])):
        stress = [e for e in StressEstimator(FS, kind).push(recording.data[row]) if e.valid]
        errors = settled_errors(
            [(e.sample_index, e.stress) for e in stress], truth.stress, int(STRESS_SPAN_S * FS)
        )
        assert errors.size >= 2 and errors.mean() <= MAX_MAE, (kind, errors.mean())


def test_after_calibration_artifacts_are_judged_against_each_channels_baseline():
    """Moderate muscle noise (γ share under the fixed 30 % limit) and a slow 1.5 Hz wave pass
    before calibration but, far above the channel's resting shares, are rejected after it."""
    rng = np.random.default_rng(5)
    eeg = eeg_with_gains(13, FS, [(40.0, 4.0, 8.0, 3.0)])
    n = eeg.shape[1]
    t = np.arange(n) / FS
    muscle = np.fft.irfft(np.fft.rfft(rng.normal(size=n)) * (
        (np.fft.rfftfreq(n, 1 / FS) >= 31) & (np.fft.rfftfreq(n, 1 / FS) < 44)), n=n)
    muscle *= 7.0 / muscle.std()  # 7 µV RMS in 31–44 Hz: about a quarter of the power
    slow = 25.0 * np.sin(2 * np.pi * 1.5 * t)
    artifacts = eeg.copy()
    artifacts[2] += muscle
    artifacts[5] += slow
    settings = EegFeatureSettings(baseline_s=20)

    before = AttentionEstimator(FS, NAMES, settings).push(artifacts[:, : int(10 * FS)])
    assert all(e.channels_bad == {} for e in before)

    estimator = AttentionEstimator(FS, NAMES, settings)
    estimator.push(eeg[:, : int(30 * FS)])  # calibrates on clean data
    after = estimator.push(artifacts[:, int(30 * FS) :])
    settled = [e for e in after if e.time_s >= 34.0]
    assert settled and all(
        e.channels_bad == {"Cz": "emg", "Pz": "low-frequency artifact"} and e.valid
        for e in settled
    )
