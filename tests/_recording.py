"""A session recording written without sim/: rest → focused task → strong stress → recovery.

The physiology is set by effect sizes from the literature (SIGNALS.md), the numbers issue 17
measured the old estimators on, and made with the test signal helpers of
tests/features/_synth.py, not with sim/'s generative model:

    phase      seconds    engagement index   HR          RMSSD
    rest       0–180      × 1                66 bpm      40 ms
    focus      180–360    × 2                +2 bpm      −6 %
    stress     360–540    × 1.1              +22 bpm     −64 %
    recovery   540–720    × 1                +1 bpm      −3 %

It is written in BrainFlow's file format for the synthetic board's rows (BrainFlow's own
descriptor and ``DataFilter.write_file``), so BrainFlow's playback board replays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowPresets
from brainflow.data_filter import DataFilter

from tests.features._synth import (
    eeg_with_gains,
    pulse_train,
    rr_series,
    rsa_for_rmssd,
    scale_bands,
)

FS = 250.0
REST_HR, REST_RMSSD = 66.0, 40.0


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float
    end_s: float
    engagement_ratio: float
    hr_delta_bpm: float
    rmssd_ratio: float


PHASES = (
    Phase("rest", 0.0, 180.0, 1.0, 0.0, 1.0),
    Phase("focus", 180.0, 360.0, 2.0, 2.0, 0.94),
    Phase("stress", 360.0, 540.0, 1.1, 22.0, 0.36),
    Phase("recovery", 540.0, 720.0, 1.0, 1.0, 0.97),
)


def _eeg(n_channels: int) -> np.ndarray:
    """EEG whose engagement index over rest follows the phases (alpha/theta down by
    ratio^-0.6, beta up by ratio^0.4: most of a task effect is alpha desynchronisation)."""
    total_s = PHASES[-1].end_s
    eeg = eeg_with_gains(101, FS, [(total_s, 4.0, 8.0, 3.0)], n_channels=n_channels)
    for phase in PHASES:
        a, b = int(phase.start_s * FS), int(phase.end_s * FS)
        r = phase.engagement_ratio
        if r != 1.0:
            eeg[:, a:b] = scale_bands(eeg[:, a:b], FS, r**-0.6, r**0.4)
    return eeg


def _ppg(n: int) -> np.ndarray:
    rng = np.random.default_rng(202)
    rr = []
    for phase in PHASES:
        mean_ms = 60000.0 / (REST_HR + phase.hr_delta_bpm)
        rmssd = REST_RMSSD * phase.rmssd_ratio
        rsa = rsa_for_rmssd(rmssd, mean_ms, 2.0)
        rr.append(rr_series(rng, phase.end_s - phase.start_s, mean_ms, rsa, 2.0))
    beats = 0.5 + np.cumsum(np.concatenate(rr)) / 1000.0
    return 50_000.0 + 1000.0 * pulse_train(beats[beats < n / FS], FS, n, "ppg", rng)


def write_recording(path: Path, speed: float, start_time: float = 1.7e9) -> Path:
    """Write the session for the synthetic board's rows; timestamps replay it ``speed``×."""
    board_id = int(BoardIds.SYNTHETIC_BOARD)
    descr = BoardShim.get_board_descr(board_id, BrainFlowPresets.DEFAULT_PRESET)
    n = int(PHASES[-1].end_s * FS)
    data = np.zeros((int(descr["num_rows"]), n))
    data[descr["package_num_channel"]] = np.arange(n) % 256
    data[descr["timestamp_channel"]] = start_time + np.arange(n) / FS / speed
    eeg_rows = list(descr["eeg_channels"])
    data[eeg_rows] = _eeg(len(eeg_rows))
    data[list(descr["ppg_channels"])] = _ppg(n)
    DataFilter.write_file(np.ascontiguousarray(data), str(path), "w")
    return path
