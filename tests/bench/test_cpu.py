"""bench_cpu's playback file: 64 EEG rows at 1000 Hz in EE-211's layout, as BrainFlow and
the driver read it back; and how the daemon's figure is set against its floor."""

from __future__ import annotations

import time

import numpy as np
from brainflow.board_shim import BoardShim
from brainflow.data_filter import DataFilter

from bench._playback import EE211_BOARD_ID, ee211_source, write_ee211_file
from bench.bench_cpu import compare_to_floor, plan_cases
from drivers import plan_raw_streams


def test_the_playback_file_has_64_eeg_rows_at_1000_hz_in_ee211_layout(tmp_path):
    path = write_ee211_file(tmp_path / "ee211.csv", fs=1000.0, n_samples=2048)
    data = DataFilter.read_file(str(path))
    descr = BoardShim.get_board_descr(EE211_BOARD_ID)
    # BrainFlow's own descriptor of the master board: 70 rows, 64 of them EEG.
    assert descr["num_rows"] == 70 and len(descr["eeg_channels"]) == 64
    assert data.shape == (70, 2048)
    stamps = data[descr["timestamp_channel"]]
    np.testing.assert_allclose(np.diff(stamps), 1e-3, atol=2e-6)  # 1000 Hz
    np.testing.assert_array_equal(data[descr["package_num_channel"]], np.arange(2048) % 256)
    eeg = data[descr["eeg_channels"]]
    np.testing.assert_allclose(eeg.std(axis=1), 15.0, rtol=0.05)  # µV, every channel live
    other = [r for r in range(70) if r not in (*descr["eeg_channels"], 0, 68)]
    assert not np.any(data[other])


def test_the_driver_reads_the_playback_as_64_channels_at_1000_hz(tmp_path):
    path = write_ee211_file(tmp_path / "ee211.csv", fs=1000.0, n_samples=1024)
    written = DataFilter.read_file(str(path))
    board = ee211_source(path, fs=1000.0)
    layout = board.layouts["default"]
    assert (layout.sampling_rate, len(layout.eeg_rows), layout.num_rows) == (1000.0, 64, 70)
    assert layout.eeg_names[:3] == ("Fp1", "Fp2", "EEG3")
    streams = plan_raw_streams(board.layouts)
    assert [(s.topic, len(s.rows), s.fs) for s in streams] == [("raw.eeg", 64, 1000.0)]
    chunks = []
    with board:
        deadline = time.monotonic() + 20
        while sum(c.n_samples for c in chunks) < 300 and time.monotonic() < deadline:
            chunks.extend(board.read())
            time.sleep(0.02)
    data = np.concatenate([c.data for c in chunks], axis=1)
    n = data.shape[1]
    assert n >= 300 and data.shape[0] == 70
    # The samples BrainFlow played are the file's, in order, none dropped.
    np.testing.assert_allclose(data[1:65], written[1:65, :n], atol=1e-6)
    assert board.dropped_total == {"default": 0}


def test_the_quick_and_full_runs_measure_the_playback_for_at_least_30_s():
    for quick in (True, False):
        cases, seconds = plan_cases(quick, smoke=False)
        assert seconds >= 30.0
        assert cases[:3] == [
            ("playback", 64, 1000),
            ("playback_floor", 64, 1000),
            ("injected", 64, 1000),
        ]


def test_our_cost_is_the_daemon_above_its_floor_and_absent_without_a_floor():
    both = compare_to_floor({"cpu_pct_64ch_1000hz": 12.0, "cpu_pct_64ch_1000hz_floor": 4.0})
    assert both == {"cpu_pct_64ch_1000hz_ours": 8.0, "cpu_pct_64ch_1000hz_floor_ratio": 3.0}
    assert compare_to_floor({"cpu_pct_64ch_1000hz": 12.0}) == {}  # a smoke run has none
