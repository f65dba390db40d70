"""Scenario feeds put sim physiology on the right channels, with its ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from sim import SimError, parse_scenario
from sim.emulators import DEVICES, DeviceFeed, scenario_feed, sine_feed

SCENARIO = {
    "name": "feed_test", "duration_s": 30.0, "seed": 5, "calibration_s": 0.0,
    "attention": [[0, 0.5]], "stress": [[0, 0.2], [30, 0.8]],
    "artifacts": [{"kind": "dropped_packets", "start_s": 10.0, "duration_s": 0.2}],
}


def _peaks_near(
    signal: np.ndarray, fs: float, times_s: np.ndarray, window_s: float, tol_s: float
) -> float:
    """Fraction of ``times_s`` with the signal's maximum (±window) within ``tol_s``."""
    hits = []
    for t in times_s:
        lo, hi = int((t - window_s) * fs), int((t + window_s) * fs)
        if lo < 0 or hi >= signal.size:
            continue
        hits.append(abs(lo + int(np.argmax(signal[lo:hi])) - t * fs) <= tol_s * fs)
    return float(np.mean(hits))


@pytest.mark.parametrize("device", ["cyton", "cyton-daisy"])
def test_cyton_ecg_channel_has_an_r_peak_at_every_true_beat(device: str) -> None:
    spec = DEVICES[device]
    feed, truth = scenario_feed(parse_scenario(SCENARIO), device)
    assert feed.n_channels == spec.n_exg and feed.fs == spec.fs and spec.ecg_channel == 7
    # The dropped-packet artifact is a gap in the sample numbers (a counter jump on the wire).
    gap = np.flatnonzero(np.diff(feed.sample_index) > 1)
    assert gap.size == 1 and feed.sample_index[gap[0]] / spec.fs == pytest.approx(10.0, abs=0.02)
    dense = np.zeros(feed.period_samples)
    dense[feed.sample_index] = feed.exg_uv[7]
    beats = truth.beat_times_s[(truth.beat_times_s < 9.5) | (truth.beat_times_s > 10.7)]
    assert _peaks_near(dense, spec.fs, beats, 0.15, tol_s=0.012) > 0.95
    # EEG channels carry EEG (tens of µV), not the ECG's millivolt R waves.
    assert np.abs(feed.exg_uv[0]).max() < 300 < np.abs(feed.exg_uv[7]).max()


def test_galea_ppg_peaks_follow_beats_and_eda_follows_stress() -> None:
    feed, truth = scenario_feed(parse_scenario(SCENARIO), "galea")
    assert feed.ppg is not None and feed.eda_us is not None
    dense = np.zeros(feed.period_samples)
    dense[feed.sample_index] = feed.ppg[1]  # infrared
    systolic = truth.beat_times_s + truth.pulse_arrival_s
    keep = (systolic < 9.5) | (systolic > 10.7)
    assert _peaks_near(dense, feed.fs, systolic[keep], 0.12, tol_s=0.04) > 0.9
    assert feed.eda_us[-1] > feed.eda_us[0]
    # EMG/EOG channels (0-7) are low noise; EEG channels (8-23) carry the simulated EEG.
    assert feed.exg_uv[:8].std() < 5 < feed.exg_uv[8:].std()


def test_feed_shapes_are_checked() -> None:
    with pytest.raises(SimError, match="sample_index"):
        DeviceFeed(250.0, np.zeros((8, 4)), np.array([0, 2, 1, 3]))
    with pytest.raises(SimError, match="ppg"):
        DeviceFeed(250.0, np.zeros((8, 4)), None, np.zeros((3, 4)))
    with pytest.raises(SimError, match="no emulator"):
        sine_feed("ganglion")
