"""Beats and HRV on real recordings against NeuroKit2 and HeartPy; analytic HRV checks."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.features import (
    SignalError,
    clean_rr,
    compute_hrv,
    compute_rr_ms,
    detect_beats_ecg,
    detect_beats_ppg,
)
from tests.features._synth import heart_signal


def _hrv(beats: np.ndarray, fs: float):
    rr = np.diff(beats) * 1000.0 / fs
    return compute_hrv(rr, clean_rr(rr))


def _rmssd(beats: np.ndarray, fs: float) -> float:
    return float(np.sqrt(np.mean(np.diff(np.diff(beats) * 1000.0 / fs) ** 2)))


@pytest.mark.parametrize("polarity", [1.0, -1.0])
def test_ecg_hr_and_rmssd_agree_with_neurokit2(pyhrv_ecg, polarity):
    nk = pytest.importorskip("neurokit2")
    ecg, fs = pyhrv_ecg
    ours = _hrv(detect_beats_ecg(polarity * ecg, fs), fs)
    _, info = nk.ecg_peaks(nk.ecg_clean(ecg, sampling_rate=int(fs)), sampling_rate=int(fs))
    reference = nk.hrv_time(info, sampling_rate=int(fs))
    nk_rr = np.diff(info["ECG_R_Peaks"]) * 1000.0 / fs
    assert ours.hr_bpm == pytest.approx(60000.0 / nk_rr.mean(), abs=1.0)
    assert ours.rmssd_ms == pytest.approx(float(reference["HRV_RMSSD"].iloc[0]), rel=0.10)
    assert ours.sdnn_ms == pytest.approx(float(reference["HRV_SDNN"].iloc[0]), rel=0.10)


def test_clean_ppg_agrees_with_neurokit2_and_heartpy(heartpy_ppg_short):
    nk = pytest.importorskip("neurokit2")
    hp = pytest.importorskip("heartpy")
    ppg, fs = heartpy_ppg_short
    ours = _hrv(detect_beats_ppg(ppg, fs), fs)
    _, measures = hp.process(ppg, fs)
    _, info = nk.ppg_process(ppg, sampling_rate=int(fs))
    nk_rr = np.diff(info["PPG_Peaks"]) * 1000.0 / fs
    for hr, rmssd in (
        (measures["bpm"], measures["rmssd"]),
        (60000.0 / nk_rr.mean(), np.sqrt(np.mean(np.diff(nk_rr) ** 2))),
    ):
        assert ours.hr_bpm == pytest.approx(hr, abs=1.0)
        assert ours.rmssd_ms == pytest.approx(rmssd, rel=0.10)


def test_ppg_with_dropouts_agrees_with_heartpys_own_corrected_output(heartpy_ppg_dropouts):
    """data2.csv has motion and a 7 s dropout to 0 in its first 35 s. HeartPy rejects the
    beats there itself (its artifact-corrected output is the oracle); NeuroKit2 keeps them
    and reports an RMSSD of ~1200 ms, so it is no oracle here."""
    hp = pytest.importorskip("heartpy")
    ppg, fs = heartpy_ppg_dropouts
    _, measures = hp.process(ppg, fs)
    beats = detect_beats_ppg(ppg, fs)
    rr = compute_rr_ms(beats, fs)
    keep = clean_rr(rr)
    ours = compute_hrv(rr, keep)
    assert ours.hr_bpm == pytest.approx(measures["bpm"], abs=1.0)
    assert ours.rmssd_ms == pytest.approx(measures["rmssd"], rel=0.10)
    assert (~keep).sum() > 10  # the dropout and motion intervals were rejected


def test_noisy_ppg_matches_the_clean_segments_of_the_same_recording(heartpy_ppg_long):
    """data3.csv: 11 min of PPG at ~100 Hz with motion artifacts and, in its first two
    minutes, tops clipped at the ADC's ceiling. The references disagree on the whole
    recording: NeuroKit2's raw peaks give RMSSD ≈ 71 ms (artifact intervals included),
    HeartPy's own corrected output ≈ 38 ms (its rejection window, ±30 % of the mean RR or
    300 ms, keeps many artifact intervals, and its peaks on clipped tops jitter).

    Oracle: 30 s windows where the two references agree beat for beat (same count, every
    beat within 50 ms) and HeartPy rejects nothing — no one's cleaning involved. There,
    with NeuroKit2's peak times (on the filtered signal, unaffected by clipping), RMSSD is
    what the clean heart did. Where the tops are not clipped, HeartPy's own times give the
    same RMSSD within 10 %, which is what makes those times trustworthy. Our whole-recording
    RMSSD, after our cleaning, must match the pooled clean-window RMSSD within 15 %.
    """
    nk = pytest.importorskip("neurokit2")
    hp = pytest.importorskip("heartpy")
    ppg, fs = heartpy_ppg_long
    ours = detect_beats_ppg(ppg, fs)
    _, info = nk.ppg_process(ppg, sampling_rate=int(round(fs)))
    nk_beats = np.asarray(info["PPG_Peaks"])
    working, measures = hp.process(ppg, fs)
    hp_beats = np.asarray(working["peaklist"])
    hp_rejected = set(np.asarray(working["removed_beats"]).tolist())
    clipped = ppg >= ppg.max()

    window = int(30 * fs)
    pooled_diffs: list[np.ndarray] = []
    n_clean = 0
    for start in range(0, ppg.size - window + 1, window):
        def inside(b: np.ndarray, start: int = start) -> np.ndarray:
            return b[(b >= start) & (b < start + window)]

        n, h, o = inside(nk_beats), inside(hp_beats), inside(ours)
        if len(n) != len(h) or len(n) < 10 or hp_rejected.intersection(h.tolist()):
            continue
        if np.abs(n - h).max() > 0.05 * fs:
            continue
        n_clean += 1
        pooled_diffs.append(np.diff(np.diff(n) * 1000.0 / fs))
        assert len(o) == len(n)
        assert _rmssd(o, fs) == pytest.approx(_rmssd(n, fs), rel=0.10)
        if not clipped[start : start + window].any():
            assert _rmssd(h, fs) == pytest.approx(_rmssd(n, fs), rel=0.10)
    assert n_clean >= 4
    reference_rmssd = float(np.sqrt(np.mean(np.concatenate(pooled_diffs) ** 2)))

    rr = compute_rr_ms(ours, fs)
    keep = clean_rr(rr)
    whole = compute_hrv(rr, keep)
    assert whole.rmssd_ms == pytest.approx(reference_rmssd, rel=0.15)
    assert whole.hr_bpm == pytest.approx(measures["bpm"], abs=1.0)
    # Cleaning is what matters: the same beats uncleaned give a far larger RMSSD.
    assert _rmssd(ours, fs) > 1.5 * whole.rmssd_ms


@pytest.mark.parametrize(("kind", "fs"), [("ppg", 100.0), ("ppg", 50.0), ("ecg", 250.0)])
def test_detectors_find_every_synthesised_beat(kind, fs):
    x, rr = heart_signal(4, fs, kind, [(60.0, 850.0, 40.0, 15.0)])
    truth = 0.5 + np.cumsum(rr) / 1000.0
    truth = truth[truth < x.size / fs]
    detect = detect_beats_ppg if kind == "ppg" else detect_beats_ecg
    found = detect(x, fs) / fs
    assert len(found) == len(truth)
    assert np.abs(found - truth).max() < 1.5 / fs + 0.002


def test_a_gap_in_the_signal_splits_beats_and_drops_the_interval_across_it():
    fs = 100.0
    x, _ = heart_signal(5, fs, "ppg", [(60.0, 800.0, 30.0, 10.0)])
    x[2000:2300] = np.nan  # 3 s gap
    beats = detect_beats_ppg(x, fs)
    assert not ((beats >= 2000) & (beats < 2300)).any()
    rr = compute_rr_ms(beats, fs, missing=~np.isfinite(x))
    spans = (beats[:-1] < 2000) & (beats[1:] >= 2300)
    assert spans.sum() == 1 and np.isnan(rr[spans]).all()
    assert np.isfinite(rr[~spans]).all()


def test_too_short_signals_and_bad_rates_are_named():
    with pytest.raises(SignalError, match="beat detection needs"):
        detect_beats_ppg(np.zeros(100), 100.0)
    with pytest.raises(SignalError, match="'fs'"):
        detect_beats_ecg(np.zeros(1000), 0.0)
    with pytest.raises(SignalError, match="at least 3 clean"):
        compute_hrv(np.array([800.0, 810.0]))


def test_clean_rr_rejects_missed_and_extra_beats():
    rr = np.array([800.0] * 10 + [1600.0] + [800.0] * 5 + [300.0, 500.0] + [800.0] * 5)
    keep = clean_rr(rr)
    # The bad intervals go, and (Malik's rule) so does the first one after each jump.
    assert np.flatnonzero(~keep).tolist() == [10, 11, 16, 17, 18]


def test_clean_rr_drops_a_lone_plausible_value_inside_a_burst_of_artifacts():
    rr = np.array([800.0] * 8 + [350.0, 2500.0, 790.0, 3000.0, 200.0] + [800.0] * 8)
    keep = clean_rr(rr)
    assert not keep[8:13].any() and keep[:8].all() and keep[14:].all()


def test_clean_rr_keeps_physiological_variability():
    # Respiratory sinus arrhythmia: ±8 % around 850 ms, never a 20 % step.
    rr = 850 + 70 * np.sin(np.arange(120) * 2 * np.pi / 5)
    assert clean_rr(rr).all()


def test_time_domain_metrics_match_their_definitions():
    rr = np.array([800.0, 850.0] * 20)  # |ΔRR| = 50 ms exactly: not > 50
    m = compute_hrv(rr)
    assert m.rmssd_ms == pytest.approx(50.0)
    assert m.pnn50_pct == 0.0
    assert m.hr_bpm == pytest.approx(60000.0 / 825.0)
    assert m.sdnn_ms == pytest.approx(np.std(rr, ddof=1))
    assert compute_hrv(np.array([800.0, 851.0] * 20)).pnn50_pct == 100.0


def test_rmssd_uses_only_adjacent_kept_pairs():
    rr = np.array([800.0, 810.0, 1600.0, 800.0, 810.0])
    metrics = compute_hrv(rr, np.array([True, True, False, True, True]))
    assert metrics.rmssd_ms == pytest.approx(10.0)
    assert metrics.hr_bpm == pytest.approx(60000.0 / 805.0)
    with_nan = compute_hrv(np.array([800.0, 810.0, np.nan, 800.0, 810.0]))
    assert with_nan.rmssd_ms == pytest.approx(10.0)


def test_baevsky_index_matches_its_formula():
    # 60 % of intervals at 800 ms, 20 % at 700, 20 % at 900 over 200 s: Mo = 0.8 s,
    # AMo = 60 %, MxDMn = 0.2 s, so SI = 60 / (2 · 0.8 · 0.2) = 187.5.
    rr = np.tile([800.0, 800.0, 700.0, 800.0, 900.0], 50)
    assert compute_hrv(rr).baevsky_si == pytest.approx(187.5)


def test_lf_hf_recovers_the_power_ratio_of_two_rr_oscillations():
    # RR(t) = 900 + A sin(2π 0.1 t) + B sin(2π 0.25 t): LF/HF = A² / B².
    a_ms, b_ms = 30.0, 15.0
    rr, t = [], 0.0
    while t < 300.0:
        value = 900 + a_ms * np.sin(2 * np.pi * 0.1 * t) + b_ms * np.sin(2 * np.pi * 0.25 * t)
        rr.append(value)
        t += value / 1000.0
    m = compute_hrv(np.asarray(rr))
    assert m.lf_hf == pytest.approx(a_ms**2 / b_ms**2, rel=0.15)


def test_long_window_metrics_only_when_long_enough():
    rng = np.random.default_rng(0)
    rr = 800 + rng.normal(0, 30, 200)
    short = compute_hrv(rr, window_s=60)
    assert short.baevsky_si is None and short.lf_hf is None
    long = compute_hrv(rr, window_s=160)
    assert long.baevsky_si is not None and long.lf_hf is not None and long.lf_hf > 0
