"""The BrainFlow source on real boards: synthetic, playback of files we write, absent devices."""

from __future__ import annotations

import time

import numpy as np
import pytest
from brainflow.data_filter import DataFilter

from drivers import (
    BrainFlowSource,
    DeviceError,
    DeviceNotFoundError,
    SourceSettings,
    board_descr,
    board_presets,
    count_dropped,
    describe_presets,
    lookup_board,
    open_source,
)


def _read_for(source: BrainFlowSource, seconds: float) -> dict[str, list]:
    chunks: dict[str, list] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for chunk in source.read():
            chunks.setdefault(chunk.preset, []).append(chunk)
        time.sleep(0.02)
    return chunks


def test_synthetic_board_streams_every_preset_without_drops():
    with open_source(SourceSettings(board="synthetic")) as source:
        chunks = _read_for(source, 1.0)
    assert set(chunks) == {"default", "auxiliary"}
    for preset, got in chunks.items():
        n = sum(c.n_samples for c in got)
        assert 150 < n < 400, f"{preset}: {n} samples in 1 s at 250 Hz"
        # first_index runs on without gaps, and the package counter shows no drops
        starts = [c.first_index for c in got]
        sizes = [c.n_samples for c in got]
        assert starts == list(np.cumsum([0] + sizes[:-1]))
        assert sum(c.dropped for c in got) == 0
        assert got[0].data.shape[0] == got[0].layout.num_rows


def test_a_read_asks_brainflow_for_each_preset_once():
    """Every BrainFlow call parses the session's parameters: a read makes one data call per
    preset (which counts the buffer itself) and no separate count, empty presets included."""
    with open_source(SourceSettings(board="synthetic")) as source:
        board = source._board
        calls = {"get_board_data": 0, "get_board_data_count": 0}
        data_call, count_call = board.get_board_data, board.get_board_data_count

        def get_board_data(*args, **kwargs):
            calls["get_board_data"] += 1
            return data_call(*args, **kwargs)

        def get_board_data_count(*args, **kwargs):
            calls["get_board_data_count"] += 1
            return count_call(*args, **kwargs)

        board.get_board_data, board.get_board_data_count = get_board_data, get_board_data_count
        time.sleep(0.05)
        got = source.read()  # samples on both presets
        empty = source.read()  # at once: most likely nothing new
    assert {c.preset for c in got} == {"default", "auxiliary"}
    # Two reads of two presets: four data calls, and only the count inside each of them.
    assert calls == {"get_board_data": 4, "get_board_data_count": 4}
    assert all(c.n_samples > 0 for c in got + empty)


def test_galea_heart_data_is_on_the_auxiliary_preset():
    layouts = describe_presets(lookup_board("galea").board_id)
    assert layouts["default"].eeg_rows and not layouts["default"].ppg_rows
    assert layouts["auxiliary"].ppg_rows
    assert layouts["auxiliary"].sampling_rate == 50


def test_board_descriptors_by_name_query_only_presets_the_board_has():
    assert board_presets("galea") == ("default", "auxiliary")
    assert board_presets("cyton") == ("default",)
    aux = board_descr("galea", "auxiliary")
    assert aux["sampling_rate"] == 50 and aux["ppg_channels"]
    assert board_descr("cyton")["sampling_rate"] == 250
    # A preset the board lacks is refused before BrainFlow is asked (a failed descriptor
    # query corrupts its process-wide state), naming what the board has.
    with pytest.raises(ValueError, match="no 'auxiliary' preset; it has: default"):
        board_descr("cyton", "auxiliary")
    with pytest.raises(ValueError, match="supported boards"):
        board_presets("muse")


@pytest.mark.parametrize(
    ("counters", "previous", "expected"),
    [
        (np.arange(10), None, 0),
        (np.array([254, 255, 0, 1]), 253, 0),  # wrap at 256
        (np.array([0, 1, 5, 6]), None, 3),
        (np.array([3, 4]), 0, 2),  # gap across chunks
        (np.array([250, 2]), None, 7),  # gap across the wrap
        (np.array([]), 5, 0),
        # Counters arrive as floats and are rounded half to even: 0, 2, 2, 4 (1 and 3 lost).
        (np.array([0.4, 1.6, 2.5, 3.5]), None, 2),
        (np.array([255.6, 1.0]), 254, 1),  # 255.6 rounds to 256, i.e. 0; 255 lost
    ],
)
def test_count_dropped(counters, previous, expected):
    assert count_dropped(counters.astype(float), previous) == expected


@pytest.mark.parametrize(
    ("counters", "previous", "step", "expected"),
    [
        (np.arange(0, 256, 5), None, 5, 0),  # Galea auxiliary: 0, 5, …, 255
        (np.array([250, 255, 0, 5]), 245, 5, 0),  # its short last step 255 → 0
        (np.array([250, 0, 5]), 245, 5, 1),  # 255 lost
        (np.array([10, 25]), 5, 5, 2),  # 15 and 20 lost
        (np.arange(0, 256, 2), None, 2, 0),  # Cyton+Daisy: steps of 2
        (np.array([1, 3, 9]), None, 2, 2),
    ],
)
def test_count_dropped_with_counter_steps(counters, previous, step, expected):
    assert count_dropped(counters.astype(float), previous, step=step) == expected


def _write_synthetic_layout_file(path, n: int, speed: float, skip: slice | None = None):
    layout = describe_presets(lookup_board("synthetic").board_id)["default"]
    data = np.zeros((layout.num_rows, n))
    index = np.arange(n)
    data[layout.package_num_row] = index % 256
    data[layout.eeg_rows[0]] = index  # a ramp: any lost or repeated sample shows
    data[layout.timestamp_row] = 1.7e9 + index / layout.sampling_rate / speed
    if skip is not None:
        data = np.delete(data, np.arange(n)[skip], axis=1)
    DataFilter.write_file(np.ascontiguousarray(data), str(path), "w")
    return layout


def test_playback_replays_a_file_sample_for_sample(tmp_path):
    path = tmp_path / "ramp.csv"
    layout = _write_synthetic_layout_file(path, 1000, speed=20.0)  # 4 s of data in 0.2 s
    settings = SourceSettings(board="playback", file=str(path), master_board="synthetic")
    with open_source(settings) as source:
        assert set(source.layouts) == {"default"}
        chunks = _read_for(source, 1.5)["default"]
    ramp = np.concatenate([c.data[layout.eeg_rows[0]] for c in chunks])
    np.testing.assert_array_equal(ramp, np.arange(1000))
    assert sum(c.dropped for c in chunks) == 0


def test_playback_counts_dropped_packets_from_the_counter(tmp_path):
    path = tmp_path / "gap.csv"
    _write_synthetic_layout_file(path, 1000, speed=20.0, skip=slice(300, 317))
    settings = SourceSettings(board="playback", file=str(path), master_board="synthetic")
    with open_source(settings) as source:
        chunks = _read_for(source, 1.5)["default"]
        assert source.dropped_total["default"] == 17
    assert sum(c.dropped for c in chunks) == 17


def test_absent_serial_board_fails_fast_naming_the_port():
    started = time.monotonic()
    with pytest.raises(DeviceNotFoundError) as info:
        BrainFlowSource(SourceSettings(board="cyton", serial_port="/dev/ttyUSB-nothing")).open()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "/dev/ttyUSB-nothing" in message and "--serial-port" in message
    assert info.value.exit_code == 2


def test_missing_connection_parameter_says_which_flag_to_pass():
    with pytest.raises(DeviceNotFoundError, match="--ip-address"):
        BrainFlowSource(SourceSettings(board="galea")).open()


def test_playback_without_a_file_and_unknown_boards_are_clear_errors(tmp_path):
    with pytest.raises(DeviceError, match="needs `file`"):
        BrainFlowSource(SourceSettings(board="playback"))
    with pytest.raises(ValueError, match="supported boards: synthetic"):
        BrainFlowSource(SourceSettings(board="muse"))
    with pytest.raises(DeviceNotFoundError, match="recording"):
        BrainFlowSource(
            SourceSettings(board="playback", file=str(tmp_path / "missing.csv"))
        ).open()


def test_stop_and_close_are_safe_twice():
    source = BrainFlowSource(SourceSettings(board="synthetic"))
    source.start()
    source.stop()
    source.stop()
    source.close()
    source.close()
    with pytest.raises(DeviceError, match="before start"):
        source.read()
