"""Which rows go to which raw topic, checked against BrainFlow's own board descriptions:
EEG without the channels wired to ECG, those channels as ECG, the first preset's PPG rows."""

from __future__ import annotations

import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowPresets

from drivers import describe_presets, plan_raw_streams

SYNTHETIC = int(BoardIds.SYNTHETIC_BOARD)


def test_eeg_and_ppg_rows_are_brainflows_and_nothing_goes_to_ecg_by_default():
    streams = {s.topic: s for s in plan_raw_streams(describe_presets(SYNTHETIC))}
    eeg = BoardShim.get_eeg_channels(SYNTHETIC)
    names = BoardShim.get_eeg_names(SYNTHETIC)
    assert set(streams) == {"raw.eeg", "raw.ppg"}
    assert streams["raw.eeg"].rows == tuple(eeg) and streams["raw.eeg"].names == tuple(names)
    assert streams["raw.eeg"].fs == BoardShim.get_sampling_rate(SYNTHETIC)
    # The default preset carries PPG rows too, so the auxiliary preset's are not taken.
    ppg = BoardShim.get_ppg_channels(SYNTHETIC, BrainFlowPresets.DEFAULT_PRESET)
    assert streams["raw.ppg"].preset == "default" and streams["raw.ppg"].rows == tuple(ppg)
    assert streams["raw.ppg"].names == tuple(f"PPG{i + 1}" for i in range(len(ppg)))


def test_channels_wired_to_ecg_leave_eeg_for_their_own_topic():
    streams = {s.topic: s for s in plan_raw_streams(describe_presets(SYNTHETIC), (3, 0))}
    eeg = BoardShim.get_eeg_channels(SYNTHETIC)
    names = BoardShim.get_eeg_names(SYNTHETIC)
    assert streams["raw.ecg"].rows == (eeg[0], eeg[3])
    assert streams["raw.ecg"].names == (f"ECG:{names[0]}", f"ECG:{names[3]}")
    kept = [i for i in range(len(eeg)) if i not in (0, 3)]
    assert streams["raw.eeg"].rows == tuple(eeg[i] for i in kept)
    assert streams["raw.eeg"].names == tuple(names[i] for i in kept)


def test_an_ecg_channel_the_board_lacks_is_named():
    n = len(BoardShim.get_eeg_channels(SYNTHETIC))
    with pytest.raises(ValueError, match=rf"ecg_channels \[{n}\] do not exist: the default "
                                         rf"preset has {n} EEG channels"):
        plan_raw_streams(describe_presets(SYNTHETIC), (0, n))
