"""The level contract of attention and stress (docs/levels.md), on the estimators themselves.

Per person, against their own calm-rest calibration:

* stress: calm rest ≤ 0.25; mild load (HR +5 bpm, RMSSD −15 %) 0.3–0.6; strong acute
  stress (HR +20 bpm, RMSSD halved) ≥ 0.8; back ≤ 0.3 within 90 s of physiology returning
  to rest; monotone in HR and in RMSSD; HR +10 / −30 % clearly below HR +20 / −50 %.
* attention: rest 0.4–0.6; engagement index ×2 over rest ≥ 0.85; ×0.5 ≤ 0.2; monotone.

The signals are written here (tests/features/_synth.py), not by sim/, and the physiology
they carry is measured from them with numpy/scipy before the estimator's levels are read.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import welch

from runtime.features import (
    AttentionEstimator,
    HeartFeatureSettings,
    SignalError,
    StressEstimator,
    compute_stress,
)
from runtime.features._stress import compute_stress as _compute_stress_impl
from tests.features._synth import (
    eeg_with_gains,
    pulse_train,
    rr_series,
    rsa_for_rmssd,
    scale_bands,
)

FS = 250.0
NAMES = ("Fp1", "C3", "Cz", "C4", "P3", "Pz", "P4", "O1")
REST_S = 150.0  # calibration takes the first 120 s


# -- stress: the formula ----------------------------------------------------------------


def _stress(hr_delta: float, rmssd_ratio: float) -> float:
    return compute_stress(65.0 + hr_delta, 40.0 * rmssd_ratio, 65.0, 40.0)


def test_compute_stress_is_exported_from_the_package():
    assert compute_stress is _compute_stress_impl


@pytest.mark.parametrize(
    ("hr_delta", "rmssd_ratio", "low", "high"),
    [
        (0.0, 1.0, 0.0, 0.25),  # calm rest
        (2.0, 0.9, 0.0, 0.25),  # the window-to-window wander of rest
        (5.0, 0.85, 0.3, 0.6),  # mild load
        (20.0, 0.5, 0.8, 1.0),  # strong acute stress
        (25.0, 0.36, 0.8, 1.0),
    ],
)
def test_stress_levels_of_typical_responses(hr_delta, rmssd_ratio, low, high):
    assert low <= _stress(hr_delta, rmssd_ratio) <= high


def test_rest_reads_the_configured_rest_level():
    settings = HeartFeatureSettings(rest_stress=0.2)
    assert compute_stress(70.0, 30.0, 70.0, 30.0, settings) == pytest.approx(0.2)
    assert _stress(0.0, 1.0) == pytest.approx(0.15)


def test_stress_is_monotone_in_hr_and_in_rmssd():
    by_hr = [_stress(d, 1.0) for d in np.linspace(-10, 40, 51)]
    by_rmssd = [_stress(0.0, r) for r in np.linspace(1.5, 0.2, 51)]
    assert np.all(np.diff(by_hr) > 0)
    assert np.all(np.diff(by_rmssd) > 0)


def test_stress_is_not_saturated_short_of_strong_stress():
    moderate, strong = _stress(10.0, 0.7), _stress(20.0, 0.5)
    assert strong - moderate >= 0.2
    assert moderate < 0.7  # below the gentle threshold
    assert _stress(3.0, 1.0) < 0.3  # a few bpm is not stress


def test_the_stress_scale_is_a_setting():
    wide = HeartFeatureSettings(hr_ref_bpm=40.0, ln_rmssd_ref=math.log(4.0))
    assert compute_stress(85.0, 20.0, 65.0, 40.0, wide) < _stress(20.0, 0.5) - 0.3


def test_compute_stress_refuses_non_physiological_input():
    with pytest.raises(SignalError, match="rmssd_ms must be a positive finite number"):
        compute_stress(65.0, 0.0, 65.0, 40.0)


# -- stress: the streaming estimator on pulse trains ------------------------------------


def _heart(segments: list[tuple[float, float, float]], seed: int = 3):
    """A PPG pulse train from segments (duration_s, HR bpm, RMSSD ms); returns the signal
    and, per segment, the HR and RMSSD measured on its generated RR intervals."""
    rng = np.random.default_rng(seed)
    rrs, measured = [], []
    for duration_s, hr, rmssd in segments:
        mean_ms = 60000.0 / hr
        rr = rr_series(rng, duration_s, mean_ms, rsa_for_rmssd(rmssd, mean_ms, 2.0), 2.0)
        rrs.append(rr)
        measured.append((60000.0 / rr.mean(), float(np.sqrt(np.mean(np.diff(rr) ** 2)))))
    rr = np.concatenate(rrs)
    beats = 0.5 + np.cumsum(rr) / 1000.0
    n = int(round(sum(s[0] for s in segments) * FS))
    return pulse_train(beats[beats < n / FS], FS, n, "ppg", rng), measured


def _stress_after(segments, start_s: float, end_s: float) -> tuple[list[float], list]:
    signal, measured = _heart(segments)
    estimates = StressEstimator(FS, "ppg").push(signal)
    values = [e.stress for e in estimates if e.valid and start_s <= e.time_s <= end_s]
    assert values, "no valid stress estimate in the span"
    return values, measured


@pytest.mark.parametrize(
    ("hr", "rmssd", "low", "high"),
    [(65.0, 40.0, 0.0, 0.25), (70.0, 34.0, 0.3, 0.6), (85.0, 20.0, 0.8, 1.0)],
    ids=["rest", "mild", "strong"],
)
def test_the_streaming_estimator_reads_the_contract_levels(hr, rmssd, low, high):
    segments = [(REST_S, 65.0, 40.0), (120.0, hr, rmssd)]
    values, measured = _stress_after(segments, REST_S + 62.0, REST_S + 120.0)
    (hr0, rm0), (hr1, rm1) = measured
    # The pulse train carries the intended physiology (measured on its own RR intervals).
    assert hr1 - hr0 == pytest.approx(hr - 65.0, abs=1.0)
    assert rm1 / rm0 == pytest.approx(rmssd / 40.0, abs=0.06)
    assert low <= min(values) and max(values) <= high, values


def test_stress_returns_below_0_3_within_90_s_of_rest_returning():
    segments = [(REST_S, 65.0, 40.0), (120.0, 85.0, 20.0), (150.0, 65.0, 40.0)]
    signal, _ = _heart(segments)
    estimates = [e for e in StressEstimator(FS, "ppg").push(signal) if e.valid]
    back = REST_S + 120.0
    during = [e.stress for e in estimates if back - 30 <= e.time_s <= back]
    after = [e.stress for e in estimates if e.time_s >= back + 90.0]
    assert min(during) >= 0.8  # it was stressed
    assert after and max(after) <= 0.3, after


# -- attention --------------------------------------------------------------------------


def _measured_engagement(x: np.ndarray) -> float:
    """Median over channels of β/(α+θ), from scipy's Welch over the whole segment."""
    f, p = welch(x, fs=FS, nperseg=int(2 * FS))

    def band(lo: float, hi: float) -> np.ndarray:
        sel = (f >= lo) & (f <= hi)
        return np.trapezoid(p[:, sel], f[sel], axis=1)

    return float(np.median(band(13, 30) / (band(4, 8) + band(8, 13))))


def _attention_for(low_gain: float, beta_gain: float, seed: int = 21):
    """Median settled attention on a task whose bands are rest's scaled by the gains, and
    the engagement-index ratio task/rest measured on the signals."""
    task_s = 60.0
    eeg = eeg_with_gains(seed, FS, [(REST_S + task_s, 4.0, 8.0, 3.0)])
    split = int(REST_S * FS)
    task = scale_bands(eeg[:, split:], FS, low_gain, beta_gain)
    ratio = _measured_engagement(task) / _measured_engagement(eeg[:, :split])
    estimates = AttentionEstimator(FS, NAMES).push(np.concatenate([eeg[:, :split], task], 1))
    settled = [e.attention for e in estimates if e.valid and e.time_s >= REST_S + 30.0]
    rest = [e.attention for e in estimates if e.valid and e.time_s < REST_S]
    return float(np.median(settled)), float(np.median(rest)), ratio


@pytest.mark.parametrize(
    ("low_gain", "beta_gain", "expected_ratio", "low", "high"),
    [
        (1.0, 1.0, 1.0, 0.4, 0.6),  # rest goes on
        (0.625, 1.25, 2.0, 0.85, 0.95),  # alpha/theta −37.5 %, beta +25 %: E ×2
        (1.6, 0.8, 0.5, 0.05, 0.2),  # E ×0.5
    ],
    ids=["rest", "x2", "x0.5"],
)
def test_attention_levels_of_engagement_index_changes(
    low_gain, beta_gain, expected_ratio, low, high
):
    settled, rest, ratio = _attention_for(low_gain, beta_gain)
    assert ratio == pytest.approx(expected_ratio, rel=0.05)  # the signal is what it claims
    assert 0.4 <= rest <= 0.6
    assert low <= settled <= high


def test_attention_is_monotone_in_the_engagement_index():
    levels = [_attention_for(1.0 / g, g)[0] for g in (0.6, 0.8, 1.0, 1.2, 1.5, 1.8)]
    assert np.all(np.diff(levels) > 0), levels
