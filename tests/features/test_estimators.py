"""Streaming estimators: chunking invariance, calibration, bad channels, ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

import sim
from runtime.features import (
    AttentionEstimator,
    EegFeatureSettings,
    HeartFeatureSettings,
    StressEstimator,
)

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


def test_bad_channels_are_excluded_and_reported(ci_short):
    eeg = _eeg(ci_short)[:, : int(8 * FS)].copy()
    eeg[1, 100:110] = np.nan
    eeg[2] = 3.0  # flat
    eeg[3, 500] = 200000.0  # railed (ADS1299 full scale at gain 24 is 187 500 µV)
    eeg[0, 300:340] += 150.0  # a blink-sized step on a frontal channel
    estimates = AttentionEstimator(FS, NAMES, EegFeatureSettings(baseline_s=0)).push(eeg)
    last = estimates[0]  # the window holding every fault (samples 0–999)
    assert last.channels_bad == {"Fp1": "blink", "C3": "non-finite", "Cz": "flat", "C4": "railed"}
    assert set(last.channels_used) == {"P3", "Pz", "P4", "O1"}
    assert last.quality == pytest.approx(0.5)


def test_too_few_good_channels_make_the_window_invalid():
    eeg = np.full((8, int(6 * FS)), np.nan)
    eeg[0] = np.random.default_rng(0).normal(0, 10, eeg.shape[1])
    estimates = AttentionEstimator(
        FS, NAMES, EegFeatureSettings(baseline_s=0, min_good_fraction=0.5)
    ).push(eeg)
    assert estimates and all(not e.valid for e in estimates)
    assert estimates[-1].reason.startswith("too few good channels")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e30])
def test_non_finite_and_huge_input_never_gives_non_finite_output(ci_short, bad):
    eeg = _eeg(ci_short)[:, : int(12 * FS)].copy()
    eeg[:, 1000:1200] = bad
    attention = AttentionEstimator(FS, NAMES, EegFeatureSettings(baseline_s=5)).push(eeg)
    heart = ci_short.data[ci_short.layout.ppg_rows[0]][: int(70 * FS)].copy()
    heart[2000:2500] = bad
    stress = StressEstimator(FS, "ppg", HeartFeatureSettings(baseline_s=0)).push(heart)
    for estimate in attention + stress:
        for value in estimate.to_dict().values():
            if isinstance(value, float):
                assert math.isfinite(value)


def test_wrong_input_shapes_and_rates_are_named():
    with pytest.raises(ValueError, match="fs must be"):
        AttentionEstimator(0, NAMES)
    with pytest.raises(ValueError, match=r"\(8, n_samples\)"):
        AttentionEstimator(FS, NAMES).push(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="1-D"):
        StressEstimator(FS, "ppg").push(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="'ppg' or 'ecg'"):
        StressEstimator(FS, "eeg")  # type: ignore[arg-type]


def test_saved_baseline_makes_a_new_session_calibrated_at_once(ci_short, tmp_path):
    settings = EegFeatureSettings(baseline_s=20)
    first = AttentionEstimator(FS, NAMES, settings)
    first.push(_eeg(ci_short)[:, : int(30 * FS)])
    path = first.save_baseline(tmp_path / "baseline.json")
    second = AttentionEstimator(FS, NAMES, settings)
    second.load_baseline(path)
    estimates = second.push(_eeg(ci_short)[:, : int(6 * FS)])
    assert estimates and all(e.valid and e.calibrated for e in estimates)


def _window_truth(truth_per_sample: np.ndarray, end_index: int, window_n: int) -> float:
    return float(truth_per_sample[max(0, end_index - window_n) : end_index].mean())


@pytest.mark.parametrize("scenario", ["ci_short", "focus_then_stress"])
def test_attention_and_stress_follow_the_simulated_ground_truth(scenario):
    recording = sim.render_session(
        sim.load_scenario(scenario), sim.generic_layout(8, FS), speed=0
    )
    truth = recording.truth
    attention = [e for e in AttentionEstimator(FS, NAMES).push(_eeg(recording)) if e.valid]
    rho_a = spearmanr(
        [e.attention for e in attention],
        [_window_truth(truth.attention, e.sample_index, int(4 * FS)) for e in attention],
    )[0]
    assert rho_a >= 0.9
    layout = recording.layout
    for kind, row in (("ppg", layout.ppg_rows[0]), ("ecg", layout.ecg_rows[0])):
        stress = [e for e in StressEstimator(FS, kind).push(recording.data[row]) if e.valid]
        rho_s = spearmanr(
            [e.stress for e in stress],
            [_window_truth(truth.stress, e.sample_index, int(60 * FS)) for e in stress],
        )[0]
        assert rho_s >= 0.9, f"{kind}: ρ = {rho_s:.3f}"
