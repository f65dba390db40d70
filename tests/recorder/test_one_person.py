"""One person's sessions beside the per-person layout: a session of chunks naming nobody is
written exactly as before persons existed; a one-person session replays, exports and
re-records that person's board; a kill -9 leaves each person's rows readable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from runtime.bus import Broker, BusPublisher, BusSubscriber
from runtime.lab import prepare_replay, session_signals
from runtime.recorder import (
    load_session,
    only_board,
    read_board_file,
    read_jsonl,
    read_manifest,
    read_metadata,
    read_persons,
    read_raw,
)
from tests.conftest import free_tcp_port
from tests.lab._helpers import line_count, wait_for
from tests.recorder._persons import (
    REPO,
    SYNTHETIC,
    _chunk,
    _rows,
    _start,
)


def test_a_single_person_session_is_written_as_before_persons_existed(broker, tmp_path):
    directory = tmp_path / "single"
    recorder = _start(broker, directory, probe_person=None)
    rng = np.random.default_rng(1)
    default = [_rows(rng, 32, 5 * i, 5) for i in range(4)]
    aux = _rows(rng, 20, 0, 5)
    for i, data in enumerate(default):
        recorder.publisher.publish("raw.board.default",
                                   _chunk(SYNTHETIC["default"], "default", 5 * i, None), array=data)
    recorder.publisher.publish("raw.board.auxiliary",
                               _chunk(SYNTHETIC["auxiliary"], "auxiliary", 0, None), array=aux)
    wait_for(lambda: line_count(directory / "raw.csv") == 20
             and line_count(directory / "raw.aux.csv") == 5, 10, "every row recorded")
    last = recorder.finish()
    assert sorted(os.listdir(directory)) == ["raw.aux.csv", "raw.csv", "session.json",
                                             "status.jsonl"]
    np.testing.assert_array_equal(read_board_file(directory / "raw.csv").data, np.hstack(default))
    np.testing.assert_array_equal(read_board_file(directory / "raw.aux.csv").data, aux)
    meta = read_metadata(directory)
    assert sorted(meta) == sorted([
        "format", "session_id", "board", "master_board", "started_at", "ended_at", "complete",
        "presets", "participant", "baseline", "resolver", "resolver_seed", "scenario",
        "config", "config_sha256", "versions", "directory", "samples", "lost_samples",
    ])  # no "persons"
    assert meta["presets"] == {
        "default": {"file": "raw.csv", "fs": 250.0, "num_rows": 32,
                    "layout": SYNTHETIC["default"].to_dict()},
        "auxiliary": {"file": "raw.aux.csv", "fs": 250.0, "num_rows": 20,
                      "layout": SYNTHETIC["auxiliary"].to_dict()},
    }
    assert meta["samples"] == {"default": 20, "auxiliary": 5} and meta["lost_samples"] == {}
    assert last.samples == {"default": 20, "auxiliary": 5}
    # The recorder's events are as they were: no person field.
    events = [line["body"] for line in read_jsonl(directory / "status.jsonl")
              if line["body"].get("event")]
    assert events and all(e["event"] == "rejected" for e in events)  # the probes
    assert {key for e in events for key in e} == {
        "component", "state", "directory", "samples", "lost_samples", "messages", "bytes",
        "event", "preset", "shape", "num_rows", "error", "retry_in_s", "bus",
    }  # no "person"
    assert read_persons(directory) == () and only_board(meta, directory, "replay") is None
    assert read_manifest(directory).persons == {}


def test_a_one_person_session_replays_and_exports_that_persons_board(broker, tmp_path):
    directory = tmp_path / "one"
    recorder = _start(broker, directory, probe_person="P07")
    rng = np.random.default_rng(7)
    layout = SYNTHETIC["default"]
    rows = np.hstack([_rows(rng, 32, 5 * i, 5) for i in range(4)])
    rows[layout.timestamp_row] = 1.7e9 + np.arange(20) / 250.0
    rows[layout.marker_row] = 0.0
    for i in range(4):
        recorder.publisher.publish("raw.board.default", _chunk(layout, "default", 5 * i, "P07"),
                                   array=rows[:, 5 * i:5 * i + 5])
    wait_for(lambda: line_count(directory / "persons/P07/raw.csv") == 20, 10, "P07's rows")
    recorder.finish()
    meta = read_metadata(directory)
    assert only_board(meta, directory, "replay") == "P07"
    (tmp_path / "work").mkdir()
    plan = prepare_replay(directory, tmp_path / "work", speed=0)
    source = plan.config.source
    assert (source.board, source.master_board, source.person) == ("playback", "synthetic", "P07")
    assert source.file == str(tmp_path / "work" / "raw.csv") and plan.samples == {"default": 20}
    copied = read_board_file(source.file, 32).data
    kept = [r for r in range(32) if r != layout.timestamp_row]
    np.testing.assert_array_equal(copied[kept], rows[kept])  # P07's rows, re-timed only
    assert np.all(copied[layout.timestamp_row] == 0.0)  # speed 0: every stamp zero
    signals = session_signals(load_session(directory))
    ppg = [f"PPG{i + 1}" for i in range(len(layout.ppg_rows))]
    assert signals.names == [*layout.eeg_names, *ppg]
    np.testing.assert_array_equal(signals.data, rows[[*layout.eeg_rows, *layout.ppg_rows]])


def test_a_replayed_one_person_session_records_the_same_person(tmp_path):
    """End to end: a one-person session replayed through the daemon (playback board,
    recorder) comes back under the same person, every row but the re-stamped time."""
    directory = tmp_path / "one"
    pub, sub = f"tcp://127.0.0.1:{free_tcp_port()}", f"tcp://127.0.0.1:{free_tcp_port()}"
    broker = Broker(pub, sub, status_interval_s=0.2)
    broker.start()
    layout = SYNTHETIC["default"]
    rng = np.random.default_rng(3)
    rows = np.hstack([_rows(rng, 32, 25 * i, 25) for i in range(60)])  # 6 s at 250 Hz
    rows[0] %= 256  # the package counter, as the board counts it
    rows[layout.timestamp_row] = 1.7e9 + np.arange(rows.shape[1]) / 250.0
    rows[layout.marker_row] = 0.0
    try:
        recorder = _start(broker, directory, probe_person="P07")
        for i in range(60):
            recorder.publisher.publish(
                "raw.board.default", _chunk(layout, "default", 25 * i, "P07"),
                array=rows[:, 25 * i:25 * i + 25])
        wait_for(lambda: line_count(directory / "persons/P07/raw.csv") == 1500, 10, "P07's rows")
        recorder.finish()
    finally:
        broker.stop()
    from runtime.lab import replay_session

    out = tmp_path / "replayed"
    result = replay_session(directory, speed=0, record=out, bus_overrides={
        "publish_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}",
        "subscribe_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}",
    })
    assert result.complete and result.samples == result.total == 1500
    assert read_persons(out) == ("P07",)
    replayed = read_raw(out, "default", "P07").data
    kept = [r for r in range(32) if r not in (layout.timestamp_row, layout.marker_row)]
    np.testing.assert_array_equal(replayed[kept], rows[kept])
    assert read_metadata(out)["presets"] == {}
    features = load_session(out, raw=False).features
    assert features and {r.data.person for r in features} == {"P07"}  # estimates name P07


def test_kill_9_leaves_each_persons_rows_up_to_the_last_chunk_readable(tmp_path):
    pub, sub = f"tcp://127.0.0.1:{free_tcp_port()}", f"tcp://127.0.0.1:{free_tcp_port()}"
    directory = tmp_path / "crash"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.recorder._record_stage", pub, sub, str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    layout = SYNTHETIC["default"]
    sent: dict[str, list[tuple[float, np.ndarray]]] = {"P01": [], "P02": []}
    publisher = BusPublisher(pub, "driver")
    probe = BusSubscriber(sub, ("raw.board.",))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"recording"
        # Probe until connected: P01 rows at index 0, which stay P01's first chunk.
        rng = np.random.default_rng(9)
        first = _rows(rng, 32, 0, 5)
        wait_for(lambda: publisher.publish("raw.board.default",
                                           _chunk(layout, "default", 0, "P01"), array=first)
                 is not None and probe.recv(timeout_s=0.05) is not None, 10, "bus connection")
        wait_for(lambda: line_count(directory / "persons/P01/raw.csv") > 0, 10, "the probe")
        index = {"P01": line_count(directory / "persons/P01/raw.csv"), "P02": 0}
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            for person in ("P01", "P02"):
                data = _rows(rng, 32, index[person], 5)
                publisher.publish("raw.board.default",
                                  _chunk(layout, "default", index[person], person), array=data)
                sent[person].append((time.time(), data))
                index[person] += 5
            time.sleep(0.02)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        publisher.close()
        probe.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    meta = read_metadata(directory)
    assert meta["complete"] is False  # it never stopped cleanly
    assert sorted(meta["persons"]) == ["P01", "P02"]
    for person, chunks in sent.items():
        data = read_raw(directory, "default", person).data
        settled = [d for t, d in chunks if t < killed_at - 0.5]
        assert len(settled) > 20, person
        probes = 0  # P01's file starts with the probe chunks that got through
        while person == "P01" and np.array_equal(data[:, 5 * probes:5 * probes + 5], first):
            probes += 1
        on_disk = data[:, 5 * probes:]
        expected = np.hstack(settled)
        assert on_disk.shape[1] >= expected.shape[1], person
        # Every chunk published > 0.5 s before the kill is on disk, each person's apart.
        np.testing.assert_array_equal(on_disk[:, : expected.shape[1]], expected)
