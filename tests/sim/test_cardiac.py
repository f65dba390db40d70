"""Cardiac model: HR rises and RMSSD falls with stress; ECG/PPG peaks sit on the beats."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks
from scipy.stats import spearmanr

import sim


@pytest.fixture(scope="module")
def stress_ramp() -> sim.RRSeries:
    return sim.sim_rr_intervals([[0, 0.0], [600, 1.0]], 600.0, seed=3)


def _hr_rmssd(beats: np.ndarray, start: float, end: float) -> tuple[float, float]:
    rr = np.diff(beats[(beats >= start) & (beats < end)]) * 1000.0
    return 60000.0 / rr.mean(), float(np.sqrt(np.mean(np.diff(rr) ** 2)))


def test_hr_and_rmssd_follow_stress(stress_ramp: sim.RRSeries) -> None:
    starts = np.arange(0.0, 600.0, 60.0)
    hr, rmssd = np.array([_hr_rmssd(stress_ramp.beat_times_s, s, s + 60) for s in starts]).T
    stress = stress_ramp.stress.at(starts + 30.0)
    assert spearmanr(hr, stress).statistic >= 0.9
    assert spearmanr(rmssd, stress).statistic <= -0.9


def test_values_are_physiological(stress_ramp: sim.RRSeries) -> None:
    hr_rest, rmssd_rest = _hr_rmssd(stress_ramp.beat_times_s, 0, 60)
    hr_stress, rmssd_stress = _hr_rmssd(stress_ramp.beat_times_s, 540, 600)
    # Literature ranges for resting adults and for acute stress.
    assert 55 < hr_rest < 75 and 25 < rmssd_rest < 80
    assert 80 < hr_stress < 110 and rmssd_stress < 25
    assert np.all((stress_ramp.rr_ms > 450) & (stress_ramp.rr_ms < 1200))


# The level table of sim/_cardiac.py, written out again here as the contract under test:
# level → (HR change over calm rest in bpm, RMSSD ratio to calm rest).
LEVELS = [(0.15, 0.0, 1.0), (0.35, 5.0, 0.85), (0.6, 10.0, 0.7), (0.9, 20.0, 0.5)]


@pytest.mark.parametrize(("level", "hr_delta", "rmssd_ratio"), LEVELS)
def test_each_stress_level_has_its_documented_physiology(level, hr_delta, rmssd_ratio) -> None:
    """Ten minutes at one level, measured on 60 s windows of the beats themselves."""
    params = sim.CardiacParams()
    beats = sim.sim_rr_intervals(level, 600.0, seed=int(level * 100)).beat_times_s
    hr, rmssd = np.array([_hr_rmssd(beats, s, s + 60) for s in range(0, 600, 60)]).T
    assert np.median(hr) == pytest.approx(params.hr_rest_bpm + hr_delta, abs=0.5)
    assert np.median(rmssd) == pytest.approx(params.rmssd_rest_ms * rmssd_ratio, rel=0.06)


def test_response_scale_zero_means_no_response() -> None:
    params = sim.CardiacParams(response_scale=0.0)
    beats = sim.sim_rr_intervals(0.9, 300.0, seed=1, params=params).beat_times_s
    hr, rmssd = _hr_rmssd(beats, 0, 300)
    assert hr == pytest.approx(params.hr_rest_bpm, abs=0.5)
    assert rmssd == pytest.approx(params.rmssd_rest_ms, rel=0.06)


def test_rr_series_is_consistent_with_beats(stress_ramp: sim.RRSeries) -> None:
    np.testing.assert_allclose(stress_ramp.rr_ms, np.diff(stress_ramp.beat_times_s) * 1000)
    assert stress_ramp.beat_times_s[0] >= 0 and stress_ramp.beat_times_s[-1] < 600


def test_true_hrv_windows_agree_with_neurokit2(stress_ramp: sim.RRSeries) -> None:
    nk = pytest.importorskip("neurokit2")
    windows = stress_ramp.windows(window_s=60.0, hop_s=120.0)
    for k in range(windows.start_s.size):
        beats = stress_ramp.beat_times_s
        sel = (beats >= windows.start_s[k]) & (beats < windows.end_s[k])
        peaks = np.round(beats[sel] * 1000).astype(int)  # sample indices at 1 kHz
        ref = nk.hrv_time(peaks, sampling_rate=1000).iloc[0]
        assert windows.rmssd_ms[k] == pytest.approx(ref["HRV_RMSSD"], abs=1.0)
        assert windows.sdnn_ms[k] == pytest.approx(ref["HRV_SDNN"], abs=1.0)
        assert windows.hr_bpm[k] == pytest.approx(60000.0 / ref["HRV_MeanNN"], abs=0.2)


@pytest.mark.parametrize("fs", [250.0, 500.0])
def test_ecg_r_peaks_are_the_beats(stress_ramp: sim.RRSeries, fs: float) -> None:
    beats = stress_ramp.beat_times_s[stress_ramp.beat_times_s < 120]
    ecg = sim.render_ecg(beats, fs, 120.0, seed=1)
    peaks, _ = find_peaks(ecg, height=500.0, distance=int(0.3 * fs))
    assert peaks.size == beats.size
    # Within a sample, or 5 ms where noise on the rounded R top moves the maximum.
    np.testing.assert_allclose(peaks / fs, beats, atol=max(1.0 / fs, 0.005))
    # PQRST in µV: R near 1 mV, S below baseline just after each R.
    assert 800 < np.median(ecg[peaks]) < 1200
    s_wave = [ecg[p: p + int(0.06 * fs)].min() for p in peaks]
    assert np.median(s_wave) < -100


@pytest.mark.parametrize("fs", [250.0, 50.0])
def test_ppg_systolic_peaks_follow_the_beats(stress_ramp: sim.RRSeries, fs: float) -> None:
    beats = stress_ramp.beat_times_s[(stress_ramp.beat_times_s > 400)]
    beats = beats[beats < 520]
    ppg = sim.render_ppg(beats, fs, 520.0, pulse_arrival_s=0.25, amplitude=1000.0, seed=2)
    peaks, _ = find_peaks(ppg, prominence=500.0)
    expected = beats + 0.25
    expected = expected[expected < 520.0 - 0.1]  # the last pulse may peak after the end
    assert peaks.size == expected.size
    np.testing.assert_allclose(peaks / fs, expected, atol=max(0.02, 1.0 / fs))


def test_ppg_has_a_dicrotic_notch(stress_ramp: sim.RRSeries) -> None:
    fs = 250.0
    for lo, hi in ((0, 60), (540, 600)):  # at rest and at high heart rate
        beats = stress_ramp.beat_times_s[(stress_ramp.beat_times_s >= lo)]
        beats = beats[beats < hi]
        ppg = sim.render_ppg(beats, fs, hi + 1.0, noise=0.0, wander=0.0)
        maxima, _ = find_peaks(ppg)
        minima, _ = find_peaks(-ppg)
        systolic = set(find_peaks(ppg, prominence=500.0)[0])
        # Each pulse: systolic peak, notch (a minimum), diastolic peak, then the next pulse.
        for p in sorted(systolic)[:-1]:
            after = maxima[maxima > p]
            notch = minima[minima > p]
            assert after.size and notch.size and notch[0] < after[0]
            assert after[0] not in systolic
            assert ppg[after[0]] < 0.8 * ppg[p]


def test_same_seed_same_beats() -> None:
    a = sim.sim_rr_intervals(0.3, 60.0, seed=5).beat_times_s
    b = sim.sim_rr_intervals(0.3, 60.0, seed=5).beat_times_s
    c = sim.sim_rr_intervals(0.3, 60.0, seed=6).beat_times_s
    np.testing.assert_array_equal(a, b)
    assert a.size != c.size or not np.allclose(a, c)


def test_bad_stress_names_the_argument() -> None:
    with pytest.raises(sim.SimError, match=r"'stress\[0\]'"):
        sim.sim_rr_intervals([[0, 2.0]], 60.0, seed=0)
    with pytest.raises(sim.SimError, match="'duration_s'"):
        sim.sim_rr_intervals(0.5, -1.0, seed=0)
