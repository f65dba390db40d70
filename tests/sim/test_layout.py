"""Board layouts built from BrainFlow's own descriptors."""

from __future__ import annotations

import pytest
from brainflow.board_shim import BoardIds, BoardShim

import sim


def test_synthetic_layout_matches_the_descriptor(synthetic_layout: sim.BoardLayout) -> None:
    descr = BoardShim.get_board_descr(BoardIds.SYNTHETIC_BOARD)
    lay = synthetic_layout
    assert lay.num_rows == descr["num_rows"] and lay.sampling_rate == descr["sampling_rate"]
    assert lay.eeg_rows == tuple(descr["eeg_channels"])
    assert lay.ppg_rows == tuple(descr["ppg_channels"])
    assert lay.ecg_rows == ()  # BrainFlow's ECG rows are the EEG rows; PPG carries the heart
    assert (lay.package_num_row, lay.timestamp_row, lay.marker_row) == (
        descr["package_num_channel"], descr["timestamp_channel"], descr["marker_channel"])
    assert lay.aux is None


def test_cyton_carries_ecg_on_its_last_channel(cyton_layout: sim.BoardLayout) -> None:
    eeg = tuple(BoardShim.get_board_descr(BoardIds.CYTON_BOARD)["eeg_channels"])
    assert cyton_layout.ecg_rows == eeg[-1:]
    assert cyton_layout.eeg_rows == eeg[:-1]
    assert cyton_layout.ppg_rows == ()
    assert cyton_layout.frontal_channels() == (0, 1)  # Fp1, Fp2


def test_galea_heart_is_on_the_auxiliary_preset(galea_layout: sim.BoardLayout) -> None:
    aux_descr = BoardShim.get_board_descr(BoardIds.GALEA_BOARD, 1)
    assert galea_layout.ppg_rows == () and galea_layout.ecg_rows == ()
    assert galea_layout.aux is not None
    assert galea_layout.aux.sampling_rate == aux_descr["sampling_rate"] == 50
    assert galea_layout.aux.ppg_rows == tuple(aux_descr["ppg_channels"])
    assert [galea_layout.eeg_names[i] for i in galea_layout.frontal_channels()] == ["F1", "F2"]


def test_overlapping_or_missing_rows_are_refused() -> None:
    with pytest.raises(sim.SimError, match="row 3 is in both 'eeg_rows' and 'ppg_rows'"):
        sim.BoardLayout(num_rows=8, sampling_rate=250, eeg_rows=(1, 2, 3), ppg_rows=(3,),
                        package_num_row=0, timestamp_row=7)
    with pytest.raises(sim.SimError, match="'eeg_rows' holds row 9, outside the 8 rows"):
        sim.BoardLayout(num_rows=8, sampling_rate=250, eeg_rows=(1, 9),
                        package_num_row=0, timestamp_row=7)
    with pytest.raises(sim.SimError, match="has no 'timestamp_channel'"):
        sim.BoardLayout.from_descr({"name": "x", "num_rows": 4, "sampling_rate": 250,
                                    "package_num_channel": 0, "eeg_channels": [1, 2]})


def test_generic_layout_has_every_signal() -> None:
    lay = sim.generic_layout(4, 200.0)
    assert lay.eeg_rows == (1, 2, 3, 4) and lay.ecg_rows == (5,) and lay.ppg_rows == (6, 7)
    assert lay.num_rows == 10 and lay.sampling_rate == 200.0
