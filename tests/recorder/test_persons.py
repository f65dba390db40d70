"""Several people streaming into one hub: the recorder keeps each person's raw rows apart.

A real recorder stage on a real loopback broker is fed ``raw.board.*`` chunks of two persons,
interleaved, published through a :class:`runtime.bus.BusPublisher` with bodies built from
:class:`runtime.messages.RawBoardChunk`. Each person's files must hold exactly that person's
rows, in order, value for value; ``session.json`` lists each person's presets and counts;
tools that read one board (replay, export, BIDS, baseline) refuse a multi-person session,
naming its persons. One person's sessions: test_one_person.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from runtime.bus import Broker
from runtime.cli import main
from runtime.lab import prepare_replay, write_report
from runtime.lab._bids import export_bids
from runtime.lab._export import export_session
from runtime.messages import AttentionFeature, RecorderStatus
from runtime.participants._derive import derive_session_baseline
from runtime.recorder import (
    SessionError,
    load_session,
    read_board_file,
    read_jsonl,
    read_manifest,
    read_metadata,
    read_persons,
    read_raw,
    read_records,
)
from tests.lab._helpers import line_count, wait_for
from tests.recorder._persons import (
    CYTON,
    MULTI_REPLAY,
    SYNTHETIC,
    _chunk,
    _events,
    _rows,
    _start,
)


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
