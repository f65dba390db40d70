"""Rendered recordings: BrainFlow's file format, rows, timestamps, truth files, playback."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams, BrainFlowPresets
from brainflow.data_filter import DataFilter

import sim

#: Six decimals (C "%f"): what BrainFlow's own writer keeps.
FILE_ATOL = 5e-7 + 1e-12


@pytest.fixture(scope="module")
def short_scenario() -> sim.Scenario:
    return sim.parse_scenario({
        "name": "short", "duration_s": 20.0, "seed": 3, "attention": [[0, 0.5], [20, 0.9]],
        "stress": [[0, 0.2]], "markers": [[5.0, 7]],
        "artifacts": [{"kind": "nan_gap", "start_s": 2.0, "duration_s": 0.5},
                      {"kind": "dropped_packets", "start_s": 8.0, "duration_s": 0.2}],
    })


def test_file_bytes_match_brainflows_writer(
    tmp_path: Path, short_scenario: sim.Scenario, synthetic_layout: sim.BoardLayout
) -> None:
    rec = sim.render_session(short_scenario, synthetic_layout, speed=1.0, start_time=1.7e9)
    ours = rec.write(tmp_path / "ours.csv").data
    DataFilter.write_file(rec.data, str(tmp_path / "theirs.csv"), "w")
    assert rec.data.flags.c_contiguous  # BrainFlow's functions refuse other layouts
    assert ours.read_bytes() == (tmp_path / "theirs.csv").read_bytes()
    back = DataFilter.read_file(str(ours))
    assert back.shape == rec.data.shape
    np.testing.assert_array_equal(np.isnan(back), np.isnan(rec.data))
    np.testing.assert_allclose(back, rec.data, rtol=0, atol=FILE_ATOL)


def test_counter_timestamps_and_markers(
    short_scenario: sim.Scenario, synthetic_layout: sim.BoardLayout
) -> None:
    lay = synthetic_layout
    rec = sim.render_session(short_scenario, lay, speed=4.0, start_time=1000.0)
    idx = rec.truth.sample_index
    counter = rec.data[lay.package_num_row]
    np.testing.assert_array_equal(counter, idx % 256)
    assert counter.max() == 255 and counter.min() == 0  # 20 s at 250 Hz wraps many times
    np.testing.assert_allclose(rec.data[lay.timestamp_row], 1000.0 + idx / 250.0 / 4.0)
    markers = np.flatnonzero(rec.data[lay.marker_row])
    np.testing.assert_array_equal(idx[markers], [5.0 * 250])
    assert rec.data[lay.marker_row, markers[0]] == 7
    fastest = sim.render_session(short_scenario, lay, speed=0, start_time=1000.0)
    assert np.all(fastest.data[lay.timestamp_row] == 0)


def test_unused_rows_are_zero_and_signals_are_where_the_layout_says(
    short_scenario: sim.Scenario, synthetic_layout: sim.BoardLayout
) -> None:
    lay = synthetic_layout
    rec = sim.render_session(short_scenario, lay, speed=0)
    used = {*lay.eeg_rows, *lay.ppg_rows, lay.package_num_row, lay.timestamp_row, lay.marker_row}
    unused = [r for r in range(lay.num_rows) if r not in used]
    assert np.all(rec.data[unused] == 0)
    eeg = rec.data[list(lay.eeg_rows)]
    assert 5 < np.nanmedian(np.nanstd(eeg, axis=1)) < 50  # µV
    assert np.nanmin(rec.data[list(lay.ppg_rows)]) > 0


def test_truth_files_describe_the_recording(
    tmp_path: Path, short_scenario: sim.Scenario, galea_layout: sim.BoardLayout
) -> None:
    rec = sim.render_session(short_scenario, galea_layout, speed=0)
    files = rec.write(tmp_path / "galea.csv")
    assert files.aux == sim.aux_path(files.data) == tmp_path / "galea.csv.aux"
    assert (files.truth_npz, files.truth_json) == sim.truth_paths(files.data)
    aux = DataFilter.read_file(str(files.aux))
    assert aux.shape == (galea_layout.aux.num_rows, round(19.8 * 50))  # 0.2 s dropped
    np.testing.assert_allclose(aux, rec.aux_data, rtol=0, atol=FILE_ATOL)

    truth = sim.load_truth(files.data)
    np.testing.assert_array_equal(truth["beat_times_s"], rec.truth.beat_times_s)
    np.testing.assert_array_equal(truth["sample_index"], rec.truth.sample_index)
    np.testing.assert_allclose(truth["attention_1hz"], short_scenario.attention.at(np.arange(21)))
    assert list(truth["artifact_kind"]) == ["nan_gap", "dropped_packets"]
    summary = json.loads(files.truth_json.read_text())
    assert summary["n_samples"] == rec.data.shape[1]
    assert summary["aux_n_samples"] == rec.aux_data.shape[1]
    assert summary["layout"]["aux"]["ppg_rows"] == list(galea_layout.aux.ppg_rows)
    assert summary["files"]["aux"] == str(files.aux)


def test_same_seed_same_recording(
    short_scenario: sim.Scenario, synthetic_layout: sim.BoardLayout
) -> None:
    a = sim.render_session(short_scenario, synthetic_layout, speed=1.0, start_time=5.0)
    b = sim.render_session(short_scenario, synthetic_layout, speed=1.0, start_time=5.0)
    np.testing.assert_array_equal(a.data, b.data)
    other = dataclasses.replace(short_scenario, seed=4)
    c = sim.render_session(other, synthetic_layout, speed=1.0, start_time=5.0)
    eeg = list(synthetic_layout.eeg_rows)
    assert not np.allclose(np.nan_to_num(a.data[eeg]), np.nan_to_num(c.data[eeg]))


def test_truncating_keeps_the_start_of_the_scenario(synthetic_layout: sim.BoardLayout) -> None:
    scenario = sim.load_scenario("artifacts")
    rec = sim.render_session(scenario, synthetic_layout, speed=0, duration_s=140.0)
    assert rec.truth.duration_s == 140.0 and rec.data.shape[1] == 140 * 250
    assert {s.kind for s in rec.truth.artifacts} == {"blink"}  # the first one, cut at 140 s
    assert max(s.end_s for s in rec.truth.artifacts) <= 140.0


def test_bad_speed_is_refused(short_scenario: sim.Scenario) -> None:
    with pytest.raises(sim.SimError, match="'speed'"):
        sim.render_session(short_scenario, speed=-1.0)


def _stream(params: BrainFlowInputParams, want: dict[int, int], deadline_s: float = 10.0):
    """Stream the playback board until each preset has ``want`` samples; return the data."""
    board = BoardShim(int(BoardIds.PLAYBACK_FILE_BOARD), params)
    board.prepare_session()
    try:
        board.start_stream(200_000)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and any(
            board.get_board_data_count(p) < n for p, n in want.items()
        ):
            time.sleep(0.02)
        out = {p: board.get_board_data(preset=p) for p in want}
        board.stop_stream()
    finally:
        board.release_session()
    return out


def test_playback_board_streams_a_rendered_synthetic_file(
    tmp_path: Path, synthetic_layout: sim.BoardLayout
) -> None:
    rec = sim.render_session(sim.load_scenario("ci_short"), synthetic_layout, speed=0,
                             duration_s=10.0)
    files = rec.write(tmp_path / "ci.csv")
    params = BrainFlowInputParams()
    params.master_board = int(BoardIds.SYNTHETIC_BOARD)
    params.file = str(files.data)
    n = rec.data.shape[1]
    got = _stream(params, {int(BrainFlowPresets.DEFAULT_PRESET): n})[0]
    assert got.shape == rec.data.shape
    rows = [synthetic_layout.package_num_row, *synthetic_layout.eeg_rows,
            *synthetic_layout.ppg_rows]
    np.testing.assert_allclose(got[rows], rec.data[rows], rtol=0, atol=FILE_ATOL)


def test_playback_board_streams_galea_with_its_auxiliary_file(
    tmp_path: Path, galea_layout: sim.BoardLayout
) -> None:
    rec = sim.render_session(sim.load_scenario("ci_short"), galea_layout, speed=0,
                             duration_s=10.0)
    files = rec.write(tmp_path / "galea.csv")
    params = BrainFlowInputParams()
    params.master_board = int(BoardIds.GALEA_BOARD)
    params.file = str(files.data)
    params.file_aux = str(files.aux)
    aux_preset = int(BrainFlowPresets.AUXILIARY_PRESET)
    got = _stream(params, {0: rec.data.shape[1], aux_preset: rec.aux_data.shape[1]})
    np.testing.assert_allclose(got[0][list(galea_layout.eeg_rows)],
                               rec.data[list(galea_layout.eeg_rows)], rtol=0, atol=FILE_ATOL)
    ppg = list(galea_layout.aux.ppg_rows)
    np.testing.assert_allclose(got[aux_preset][ppg], rec.aux_data[ppg], rtol=0, atol=FILE_ATOL)
