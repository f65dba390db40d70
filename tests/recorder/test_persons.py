"""Several people streaming into one hub: the recorder keeps each person's raw rows apart.

A real recorder stage on a real loopback broker is fed ``raw.board.*`` chunks of two persons,
interleaved, published through a :class:`runtime.bus.BusPublisher` with bodies built from
:class:`runtime.messages.RawBoardChunk`. Each person's files must hold exactly that person's
rows, in order, value for value; ``session.json`` lists each person's presets and counts; a
single-person session (chunks naming nobody) is written exactly as before persons existed;
tools that read one board (replay, export, BIDS, baseline) take a one-person session's board
and refuse a multi-person one, naming its persons.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from drivers import describe_presets
from runtime.bus import Broker, BusPublisher, BusSubscriber
from runtime.cli import main
from runtime.config import Config
from runtime.lab import prepare_replay, session_signals, write_report
from runtime.lab._bids import export_bids
from runtime.lab._export import export_session
from runtime.messages import AttentionFeature, RawBoardChunk, RecorderStatus
from runtime.participants._derive import derive_session_baseline
from runtime.recorder import (
    RecorderStage,
    SessionError,
    load_session,
    only_board,
    read_board_file,
    read_jsonl,
    read_manifest,
    read_metadata,
    read_persons,
    read_raw,
    read_records,
)
from runtime.stages import StageContext
from tests.conftest import free_tcp_port
from tests.lab._helpers import line_count, wait_for

REPO = Path(__file__).resolve().parents[2]
SYNTHETIC = describe_presets(-1)  # default (32 rows) and auxiliary (20 rows)
CYTON = describe_presets(0)  # default (24 rows): another person on another board
#: What a refused multi-person replay says (after the directory).
MULTI_REPLAY = (
    " holds the raw data of several people (P01, P02): replay of a multi-person session is "
    "not supported yet, only of a session with one board; `kintsugi verify DIR OTHER` "
    "compares two recorded runs of it (features, controls and decisions, which name each "
    "person)"
)


def _chunk(layout, preset: str, first: int, person: str | None) -> RawBoardChunk:
    return RawBoardChunk(preset=preset, fs=layout.sampling_rate, num_rows=layout.num_rows,
                         first_index=first, layout=layout.to_dict(), person=person)


def _rows(rng: np.random.Generator, num_rows: int, first: int, n: int) -> np.ndarray:
    """A chunk's rows: row 0 counts the sample index (catches drops and reordering), the
    others are random values with every bit significant."""
    data = rng.normal(0.0, 50.0, (num_rows, n))
    data[0] = first + np.arange(n)
    return data


@dataclass
class Recorder:
    """A recorder stage running on a broker, and a publisher connected to it."""

    directory: Path
    stage: RecorderStage
    thread: threading.Thread
    stop: threading.Event
    publisher: BusPublisher
    statuses: BusSubscriber

    def finish(self) -> RecorderStatus:
        """Stop the stage: its last (``stopped``) status."""
        self.stop.set()
        self.thread.join(10)
        end = time.monotonic() + 5.0
        try:
            while time.monotonic() < end:
                message = self.statuses.recv(timeout_s=0.1)
                if isinstance(message and message.data, RecorderStatus) and \
                        message.data.state == "stopped":
                    return message.data
            raise AssertionError("no 'stopped' status.recorder within 5 s")
        finally:
            self.publisher.close()
            self.statuses.close()


def _start(broker: Broker, directory: Path, probe_person: str | None) -> Recorder:
    """A recorder on ``broker``, and a publisher whose messages it receives: probed with a
    header whose (1, 1) array the recorder rejects, until the probe comes back."""
    stage = RecorderStage(directory, Config(), status_interval_s=0.2)
    stop = threading.Event()
    context = StageContext("recorder", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    thread = threading.Thread(target=stage, args=(context,), daemon=True)
    thread.start()
    assert context.ready.wait(10), "recorder did not become ready"
    publisher = BusPublisher(broker.publish_endpoint, "driver")
    statuses = BusSubscriber(broker.subscribe_endpoint, ("status.recorder",))
    probe = BusSubscriber(broker.subscribe_endpoint, ("raw.board.",))
    try:
        header = _chunk(SYNTHETIC["default"], "default", 0, probe_person)
        wait_for(lambda: publisher.publish("raw.board.default", header, array=np.zeros((1, 1)))
                 is not None and probe.recv(timeout_s=0.05) is not None, 10, "bus connection")
    finally:
        probe.close()
    return Recorder(directory, stage, thread, stop, publisher, statuses)


def _events(directory: Path, name: str) -> list[RecorderStatus]:
    session = load_session(directory, raw=False)
    return [r.data for r in session.status
            if isinstance(r.data, RecorderStatus) and r.data.event == name]


@dataclass(frozen=True)
class TwoPersons:
    directory: Path
    sent: dict[tuple[str, str], np.ndarray]  # (person, preset) → every row sent, in order
    features: tuple[AttentionFeature, ...]
    last: RecorderStatus


@pytest.fixture(scope="module")
def two_persons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoPersons]:
    """P01 on a synthetic board (default and auxiliary presets), P02 on a Cyton (default
    only, another row count), their chunks interleaved; P02 misses one chunk (a gap of 4),
    and one P01 chunk comes with P02's row count (rejected)."""
    directory = tmp_path_factory.mktemp("persons") / "session"
    broker = Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", status_interval_s=0.2)
    broker.start()
    try:
        recorder = _start(broker, directory, probe_person="P01")
        rng = np.random.default_rng(21)
        sent: dict[tuple[str, str], list[np.ndarray]] = {}
        p02_firsts = [0, 4, 8, 16, 20, 24]  # samples 12–15 never arrive
        publish = recorder.publisher.publish
        for i in range(6):
            p01 = _rows(rng, 32, 5 * i, 5)
            publish("raw.board.default", _chunk(SYNTHETIC["default"], "default", 5 * i, "P01"),
                    array=p01)
            sent.setdefault(("P01", "default"), []).append(p01)
            p02 = _rows(rng, 24, p02_firsts[i], 4)
            publish("raw.board.default", _chunk(CYTON["default"], "default", p02_firsts[i],
                                                "P02"), array=p02)
            sent.setdefault(("P02", "default"), []).append(p02)
            if i % 2 == 0:
                aux = _rows(rng, 20, 5 * i // 2, 5)
                publish("raw.board.auxiliary",
                        _chunk(SYNTHETIC["auxiliary"], "auxiliary", 5 * i // 2, "P01"), array=aux)
                sent.setdefault(("P01", "auxiliary"), []).append(aux)
            if i == 3:  # P02's rows under P01's name: not P01's layout, so rejected
                wrong = _chunk(CYTON["default"], "default", 30, "P01")
                publish("raw.board.default", wrong, array=_rows(rng, 24, 30, 5))
        features = tuple(
            AttentionFeature(sample_index=500, time_s=2.0, window_s=2.0, hop_s=0.5, valid=True,
                             calibrated=True, quality=1.0, reason="", attention=level,
                             person=person)
            for person, level in (("P01", 0.25), ("P02", 0.75))
        )
        for feature in features:
            publish("features.attention", feature)
        wait_for(lambda: line_count(directory / "persons/P01/raw.csv") == 30
                 and line_count(directory / "persons/P02/raw.csv") == 24
                 and line_count(directory / "persons/P01/raw.aux.csv") == 15
                 and line_count(directory / "features.jsonl") == 2, 10, "every row recorded")
        last = recorder.finish()
    finally:
        broker.stop()
    yield TwoPersons(directory, {k: np.hstack(v) for k, v in sent.items()}, features, last)


def test_each_persons_rows_go_to_their_own_files_in_order(two_persons):
    directory = two_persons.directory
    for (person, preset), rows in two_persons.sent.items():
        name = "raw.csv" if preset == "default" else "raw.aux.csv"
        got = read_board_file(directory / "persons" / person / name, rows.shape[0]).data
        np.testing.assert_array_equal(got, rows)  # every value exact, in the order sent
    assert sorted(os.listdir(directory)) == [
        "features.jsonl", "persons", "session.json", "status.jsonl"
    ]  # no raw.csv: nobody's chunks named no person
    assert sorted(os.listdir(directory / "persons")) == ["P01", "P02"]
    assert sorted(os.listdir(directory / "persons/P01")) == ["raw.aux.csv", "raw.csv"]
    assert os.listdir(directory / "persons/P02") == ["raw.csv"]


def test_session_json_lists_each_persons_presets_and_counts(two_persons):
    meta = read_metadata(two_persons.directory)
    assert meta["complete"] is True
    assert (meta["presets"], meta["samples"], meta["lost_samples"]) == ({}, {}, {})
    assert meta["persons"] == {
        "P01": {
            "presets": {
                "default": {"file": "persons/P01/raw.csv", "fs": 250.0, "num_rows": 32,
                            "layout": SYNTHETIC["default"].to_dict()},
                "auxiliary": {"file": "persons/P01/raw.aux.csv", "fs": 250.0, "num_rows": 20,
                              "layout": SYNTHETIC["auxiliary"].to_dict()},
            },
            "samples": {"default": 30, "auxiliary": 15},
            "lost_samples": {},
        },
        "P02": {
            "presets": {
                "default": {"file": "persons/P02/raw.csv", "fs": 250.0, "num_rows": 24,
                            "layout": CYTON["default"].to_dict()},
            },
            "samples": {"default": 24},
            "lost_samples": {"default": 4},
        },
    }
    assert read_manifest(two_persons.directory).persons == meta["persons"]


def test_gaps_rejections_and_status_name_the_person(two_persons):
    directory = two_persons.directory
    (lost,) = _events(directory, "lost")
    assert lost.extra == {"person": "P02", "preset": "default", "missed_samples": 4,
                          "first_index": 16}
    assert lost.lost_samples == {"P02/default": 4}
    rejected = [e.extra for e in _events(directory, "rejected")]
    assert rejected == [
        {"person": "P01", "preset": "default", "shape": [1, 1], "num_rows": 32},  # the probes
        *([rejected[0]] * (len(rejected) - 2)),
        {"person": "P01", "preset": "default", "num_rows": 24, "expected_rows": 32},
    ]
    last = two_persons.last
    assert last.samples == {"P01/default": 30, "P02/default": 24, "P01/auxiliary": 15}
    assert last.lost_samples == {"P02/default": 4}


def test_readers_list_the_persons_and_read_each_persons_raw_data(two_persons):
    directory = two_persons.directory
    sent = two_persons.sent
    assert read_persons(directory) == ("P01", "P02")
    np.testing.assert_array_equal(read_raw(directory, "default", "P02").data,
                                  sent["P02", "default"])
    np.testing.assert_array_equal(read_raw(directory, "auxiliary", "P01").data,
                                  sent["P01", "auxiliary"])
    session = load_session(directory)
    assert session.persons == ("P01", "P02") and session.raw == {}
    for (person, preset), rows in sent.items():
        np.testing.assert_array_equal(session.person_raw[person][preset], rows)
        np.testing.assert_array_equal(session.samples_of(person)[preset], rows)
    assert session.layout("default", "P02") == CYTON["default"].to_dict()
    assert session.fs("auxiliary", "P01") == 250.0
    with pytest.raises(SessionError) as error:
        read_raw(directory, "default", "P03")
    assert str(error.value) == (f"{directory} holds no raw data of person 'P03' (persons: "
                                "P01, P02); give one of its persons")
    with pytest.raises(SessionError, match=r"no 'auxiliary' preset was recorded for person "
                       r"'P02' \(recorded: default\)"):
        session.layout("auxiliary", "P02")
    with pytest.raises(SessionError, match=r"no 'default' preset was recorded \(recorded: none\)"):
        read_raw(directory)  # the board that names nobody: there is none


def test_jsonl_files_keep_the_person_as_it_came(two_persons):
    lines = read_jsonl(two_persons.directory / "features.jsonl")
    assert [line["body"] for line in lines] == [f.to_dict() for f in two_persons.features]
    assert [line["body"]["person"] for line in lines] == ["P01", "P02"]
    records = read_records(two_persons.directory / "features.jsonl")
    assert [r.data for r in records.records] == list(two_persons.features)
    assert [r.data.person for r in records.records] == ["P01", "P02"]


def test_tools_that_read_one_board_refuse_a_multi_person_session(two_persons, tmp_path, capsys):
    directory = two_persons.directory
    with pytest.raises(SessionError) as error:
        prepare_replay(directory, tmp_path)
    assert str(error.value) == f"{directory}{MULTI_REPLAY}"
    assert list(tmp_path.iterdir()) == []  # refused before any copy was made
    export_hint = ("each person's raw rows are in persons/<person>/raw.csv (BrainFlow's format; "
                   "runtime.recorder.read_raw reads them)")
    with pytest.raises(SessionError) as error:
        export_session(directory, "edf", tmp_path / "out.edf")
    assert str(error.value) == (
        f"{directory} holds the raw data of several people (P01, P02): export of a "
        f"multi-person session is not supported yet, only of a session with one board; "
        f"{export_hint}"
    )
    # BIDS: refused before it asks for a subject (the session records no participant).
    with pytest.raises(SessionError, match=r"\(P01, P02\): BIDS export of a multi-person session"):
        export_bids(directory, tmp_path / "bids")
    with pytest.raises(SessionError, match=r"\(P01, P02\): deriving a baseline of a multi-person"):
        derive_session_baseline(directory)
    assert not (tmp_path / "out.edf").exists() and not (tmp_path / "bids").exists()
    # `kintsugi verify DIR` replays DIR: it exits 2 (bad session) with the replay's reason.
    assert main(["verify", str(directory)]) == 2
    assert capsys.readouterr().err == f"kintsugi verify: error: {directory}{MULTI_REPLAY}\n"
    # Comparing two recorded runs reads no raw data: a session matches itself, person by person.
    assert main(["verify", str(directory), str(directory)]) == 0
    report = write_report(directory, tmp_path / "report.html").read_text()
    assert "<td>complete</td><td>yes</td>" in report  # the report reads no single board


def test_rows_naming_nobody_beside_a_persons_are_kept_apart_and_refused_by_replay(
    broker, tmp_path
):
    directory = tmp_path / "mixed"
    recorder = _start(broker, directory, probe_person=None)
    rng = np.random.default_rng(5)
    nobody, p01 = _rows(rng, 32, 0, 5), _rows(rng, 32, 0, 5)
    layout = SYNTHETIC["default"]
    recorder.publisher.publish("raw.board.default", _chunk(layout, "default", 0, None),
                               array=nobody)
    recorder.publisher.publish("raw.board.default", _chunk(layout, "default", 0, "P01"),
                               array=p01)
    wait_for(lambda: line_count(directory / "raw.csv") == 5
             and line_count(directory / "persons/P01/raw.csv") == 5, 10, "both boards' rows")
    recorder.finish()
    np.testing.assert_array_equal(read_raw(directory).data, nobody)
    np.testing.assert_array_equal(read_raw(directory, person="P01").data, p01)
    meta = read_metadata(directory)
    assert meta["samples"] == {"default": 5} and meta["persons"]["P01"]["samples"] == {
        "default": 5}
    with pytest.raises(SessionError, match=r"several people \(P01 and a board that named no "
                       r"person \(raw.csv\)\): replay of a multi-person session"):
        prepare_replay(directory, tmp_path / "work")


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
