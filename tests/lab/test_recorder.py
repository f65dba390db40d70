"""The recorder: BrainFlow-format raw files the playback board replays, JSON lines of the rest,
gaps reported, torn last lines tolerated, and everything before a ``kill -9`` readable."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from brainflow.data_filter import DataFilter

from drivers import BrainFlowSource, SourceSettings, describe_presets
from runtime.bus import BusPublisher, BusSubscriber
from runtime.config import Config
from runtime.errors import ConfigError
from runtime.lab import write_report
from runtime.messages import (
    AttentionFeature,
    Control,
    RawBoardChunk,
    RawChunk,
    RecorderStatus,
    StressFeature,
)
from runtime.recorder import (
    RecorderStage,
    load_session,
    read_board_file,
    read_jsonl,
    read_metadata,
    read_records,
)
from runtime.stages import StageContext
from tests.lab._helpers import fast_config, line_count, wait_for


def test_session_directory_holds_every_kind_of_record(recorded_session):
    session = load_session(recorded_session.directory)
    meta = session.metadata
    assert meta["board"] == "synthetic" and meta["master_board"] == "synthetic"
    assert meta["complete"] is True
    assert set(meta["presets"]) == {"default", "auxiliary"}  # the synthetic board has both
    layouts = describe_presets(-1)
    for preset, info in meta["presets"].items():
        assert info["layout"] == layouts[preset].to_dict()
        assert session.raw[preset].shape[0] == layouts[preset].num_rows
        assert meta["samples"][preset] == session.raw[preset].shape[1]
    assert meta["versions"]["brainflow"] and meta["config"]["source"]["board"] == "synthetic"
    assert session.skipped == []  # every recorded body is valid
    kinds = {r.data.kind for r in session.features}
    assert "attention" in kinds
    assert session.control and all(isinstance(r.data, Control) for r in session.control)
    components = {r.data.component for r in session.status}
    assert {"driver", "features", "controller", "daemon", "recorder"} <= components
    assert [r.data.label for r in session.markers] == ["eyes closed", "eyes open"]
    # Each record is the file's line, typed: the body as recorded, and its envelope.
    lines = read_jsonl(recorded_session.directory / "control.jsonl")
    assert [r.data.to_dict() for r in session.control] == [line["body"] for line in lines]
    assert [r.publish_time for r in session.control] == [line["publish_time"] for line in lines]


def test_raw_file_is_brainflow_format_without_gaps(recorded_session):
    path = recorded_session.directory / "raw.csv"
    ours = read_board_file(path).data
    theirs = DataFilter.read_file(str(path))
    np.testing.assert_array_equal(ours, theirs)
    # The package counter (row 0) steps by one modulo 256: no sample lost on the way.
    steps = np.diff(ours[0]) % 256
    assert np.all(steps == 1), f"counter gaps at {np.flatnonzero(steps != 1)}"
    assert read_metadata(recorded_session.directory)["lost_samples"] == {}


def test_playback_board_replays_the_raw_file_as_it_is(recorded_session, tmp_path):
    lines = (recorded_session.directory / "raw.csv").read_bytes().splitlines(keepends=True)
    part = tmp_path / "part.csv"
    part.write_bytes(b"".join(lines[:125]))  # 0.5 s: the board paces by the file's stamps
    expected = read_board_file(part).data
    source = BrainFlowSource(SourceSettings(board="playback", master_board="synthetic",
                                            file=str(part)))
    got: list[np.ndarray] = []
    with source:
        def have() -> int:
            got.extend(c.data for c in source.read() if c.preset == "default")
            return sum(g.shape[1] for g in got) >= expected.shape[1]
        wait_for(have, 10, "the playback board to replay the file")
    played = np.hstack(got)[:, : expected.shape[1]]
    eeg = describe_presets(-1)["default"].eeg_rows
    np.testing.assert_allclose(played[list(eeg)], expected[list(eeg)], atol=1e-9)
    np.testing.assert_array_equal(played[0], expected[0])


def _run_stage(stage: RecorderStage, broker, stop: threading.Event) -> threading.Thread:
    context = StageContext("recorder", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    thread = threading.Thread(target=stage, args=(context,), daemon=True)
    thread.start()
    assert context.ready.wait(10), "recorder did not become ready"
    return thread


def _last_status(statuses: BusSubscriber) -> RecorderStatus:
    """The recorder's ``stopped`` status, the last it publishes (within 5 s)."""
    end = time.monotonic() + 5.0
    while time.monotonic() < end:
        message = statuses.recv(timeout_s=0.1)
        status = None if message is None else message.data
        if isinstance(status, RecorderStatus) and status.state == "stopped":
            return status
    raise AssertionError("no 'stopped' status.recorder on the bus within 5 s")


def _board_chunk(layout, first: int) -> RawBoardChunk:
    return RawBoardChunk(preset="default", fs=250.0, num_rows=layout.num_rows,
                         first_index=first, dropped=0, layout=layout.to_dict())


def test_recorder_writes_published_rows_and_reports_a_gap(broker, tmp_path):
    layout = describe_presets(-1)["default"]
    config = Config()
    stage = RecorderStage(tmp_path / "s", config, status_interval_s=0.2)
    stop = threading.Event()
    thread = _run_stage(stage, broker, stop)
    publisher = BusPublisher(broker.publish_endpoint, "driver")
    probe = BusSubscriber(broker.subscribe_endpoint, ("raw.board.",))
    statuses = BusSubscriber(broker.subscribe_endpoint, ("status.recorder",))
    rng = np.random.default_rng(0)
    chunks = [rng.normal(0, 50, (layout.num_rows, 5)) for _ in range(6)]
    firsts = [0, 5, 10, 20, 25, 30]  # samples 15–19 never arrive: a gap of 5
    feature = AttentionFeature(sample_index=500, time_s=2.0, window_s=2.0, hop_s=0.5,
                               valid=True, calibrated=True, quality=1.0, reason="",
                               attention=0.5)
    try:
        # Probes until the bus is up: a valid header with a (1, 1) array, which the
        # recorder must reject (it does not hold num_rows rows).
        wait_for(lambda: publisher.publish("raw.board.default", _board_chunk(layout, 0),
                                           array=np.zeros((1, 1))) is not None
                 and probe.recv(timeout_s=0.05) is not None, 10, "bus connection")
        for first, data in zip(firsts, chunks, strict=True):
            publisher.publish("raw.board.default", _board_chunk(layout, first), array=data)
        publisher.publish("features.attention", feature)
        raw = tmp_path / "s" / "raw.csv"
        wait_for(lambda: line_count(raw) == 30, 10, "30 recorded samples")
        wait_for(lambda: (tmp_path / "s" / "features.jsonl").exists(), 10, "features file")
    finally:
        stop.set()
        thread.join(10)
        last = _last_status(statuses)
        publisher.close()
        probe.close()
        statuses.close()
    got = read_board_file(raw, layout.num_rows).data
    np.testing.assert_allclose(got, np.hstack(chunks), atol=5e-7)  # %.6f, as BrainFlow writes
    session = load_session(tmp_path / "s", raw=False)
    assert session.skipped == []  # the recorder's own events read back as RecorderStatus
    events = [r.data for r in session.status
              if isinstance(r.data, RecorderStatus) and r.data.event]
    rejected = [e for e in events if e.event == "rejected"]
    assert rejected and rejected[0].extra["shape"] == [1, 1]  # the probe with a wrong shape
    lost = [e for e in events if e.event == "lost"]
    assert [e.extra["missed_samples"] for e in lost] == [5]
    assert lost[0].extra["first_index"] == 20 and lost[0].lost_samples == {"default": 5}
    # Its last status on the bus: what it wrote, and what its subscriber received.
    assert last.samples == {"default": 30} and last.lost_samples == {"default": 5}
    assert last.directory == str(tmp_path / "s")
    assert last.bus is not None and last.bus.received >= 8 and last.bus.rejected == 0
    # The body is written as it came: the line's body is the published feature's JSON.
    assert read_jsonl(tmp_path / "s" / "features.jsonl")[0]["body"] == feature.to_dict()
    assert session.features[0].data == feature
    meta = read_metadata(tmp_path / "s")
    assert meta["complete"] and meta["lost_samples"] == {"default": 5}
    assert meta["presets"]["default"]["layout"] == layout.to_dict()
    assert meta["presets"]["default"]["fs"] == 250.0


def test_a_record_whose_body_fails_validation_is_skipped_counted_and_named(
    recorded_session, tmp_path, caplog
):
    directory = tmp_path / "session"
    shutil.copytree(recorded_session.directory, directory)
    path = directory / "features.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    # A stress estimate whose level is a word, in the middle of the file.
    good = StressFeature(sample_index=1000, time_s=4.0, window_s=30.0, hop_s=1.0, valid=True,
                         calibrated=True, quality=1.0, reason="", stress=0.4)
    record = {"topic": "features.stress", "publisher": "features-1", "seq": 0,
              "source_time": None, "publish_time": 1.0, "recv_time": 1.0,
              "body": {**good.to_dict(), "stress": "high"}}
    at = len(lines) // 2
    lines.insert(at, (json.dumps(record) + "\n").encode())
    path.write_bytes(b"".join(lines))
    with caplog.at_level(logging.WARNING, logger="runtime.recorder"):
        session = load_session(directory, raw=False)
    original = load_session(recorded_session.directory, raw=False)
    # One line left out, counted with its file, line and the field's error; the rest loads.
    assert len(session.skipped) == 1
    skipped = session.skipped[0]
    assert (skipped.path, skipped.line) == (path, at + 1)
    assert skipped.reason == ("features.stress: field 'stress' is 'high'; expected a finite "
                              "number in [0, 1] or null")
    assert len(session.features) == len(original.features) == len(lines) - 1
    assert [r.data for r in session.features] == [r.data for r in original.features]
    assert len(session.control) == len(original.control) > 0
    warnings = [r.getMessage() for r in caplog.records if "skipped a record" in r.getMessage()]
    assert warnings == [f"recorder: {path}, line {at + 1}: skipped a record: {skipped.reason}"]
    # The report is still written, and says what was left out.
    report = tmp_path / "report.html"
    write_report(directory, report)
    assert "records skipped (not valid)" in report.read_text()
    assert "1 (features.jsonl: 1;" in report.read_text()


def test_recorder_refuses_a_directory_that_holds_something(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "session.json").write_text("{}")
    with pytest.raises(ConfigError, match="not empty"):
        RecorderStage(tmp_path / "old", Config())
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        RecorderStage(tmp_path / "file", Config())


def test_readers_skip_a_torn_last_line(recorded_session, tmp_path):
    source = recorded_session.directory
    raw = (source / "raw.csv").read_bytes()
    complete = read_board_file(source / "raw.csv").data
    torn = tmp_path / "raw.csv"
    torn.write_bytes(raw + b"12.000000\t3.5")  # a crash in the middle of a line
    assert np.array_equal(read_board_file(torn).data, complete)
    torn.write_bytes(raw + b"12.000000\t3.5\n")  # cut short, but with its newline
    assert np.array_equal(read_board_file(torn, complete.shape[0]).data, complete)
    lines = (source / "control.jsonl").read_bytes()
    jsonl = tmp_path / "control.jsonl"
    jsonl.write_bytes(lines + b'{"topic": "control", "bo')
    assert read_jsonl(jsonl) == read_jsonl(source / "control.jsonl")
    typed = read_records(jsonl)
    assert typed.skipped == []  # a torn last line is a crash's leftover, not a bad record
    assert typed.records == read_records(source / "control.jsonl").records


def test_kill_9_leaves_everything_up_to_the_last_chunk_readable(tmp_path):
    config_path, config = fast_config(tmp_path)
    directory = tmp_path / "crash"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.lab._record_daemon", str(config_path), str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    chunks: list[tuple[float, int, np.ndarray]] = []
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"recording"
        subscriber = BusSubscriber(config.bus.subscribe_endpoint, ("raw.eeg",))
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            message = subscriber.recv(timeout_s=0.1)
            if message is not None and message.array is not None:
                assert isinstance(message.data, RawChunk)
                chunks.append((time.time(), message.data.first_index,
                               np.array(message.array)))
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        subscriber.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    meta = read_metadata(directory)
    assert meta["complete"] is False  # it never stopped cleanly
    data = read_board_file(directory / "raw.csv", meta["presets"]["default"]["num_rows"]).data
    eeg_rows = meta["presets"]["default"]["layout"]["eeg_rows"]
    settled = [c for c in chunks if c[0] < killed_at - 0.5]
    assert len(settled) > 20
    for _, first, array in settled:  # every chunk published > 0.5 s before the kill is on disk
        assert first + array.shape[1] <= data.shape[1]
        np.testing.assert_allclose(data[eeg_rows, first:first + array.shape[1]], array,
                                   rtol=1e-6, atol=1e-3)
    for name in ("features.jsonl", "control.jsonl", "status.jsonl"):
        records = read_records(directory / name)
        assert records.records, name
        assert records.skipped == [], name  # every whole line holds a valid body
    json.loads((directory / "session.json").read_text())
