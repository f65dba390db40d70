"""The session manifest (session.json): every field reproducing a session needs, a config
hash that is stable across processes and changes with the config, and old sessions read."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from runtime.config import config_from_mapping
from runtime.errors import ConfigError
from runtime.recorder import (
    SESSION_FORMAT,
    RecorderStage,
    SessionError,
    config_sha256,
    load_session,
    read_manifest,
    read_metadata,
)
from runtime.stages import StageContext

REPO = Path(__file__).resolve().parents[2]


def _config(**tables):
    return config_from_mapping(tables, origin="test")


def _record(directory: Path, config, broker, **kwargs) -> dict:
    """Run a recorder stage on ``broker`` until it is ready, stop it: its session.json."""
    stage = RecorderStage(directory, config, status_interval_s=0.2, **kwargs)
    stop = threading.Event()
    context = StageContext("recorder", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    thread = threading.Thread(target=stage, args=(context,), daemon=True)
    thread.start()
    assert context.ready.wait(10), "recorder did not become ready"
    stop.set()
    thread.join(10)
    return read_metadata(directory)


def _independent_sha256(config_json: dict) -> str:
    """The documented definition, written out here: sorted keys, no spaces, UTF-8."""
    text = json.dumps(config_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_manifest_has_every_field_a_reproduction_needs(broker, tmp_path):
    baseline = tmp_path / "p07-baseline.json"
    baseline.write_text(json.dumps({"format": "kintsugi-baseline-set/1", "attention": {"a": 1}}))
    config = _config(
        source={"board": "playback", "master_board": "synthetic", "scenario": "ci_short",
                "speed": 10.0},
        controller={"decision": "quantum", "decision_seed": 1234},
        session={"participant": "P07", "baseline": str(baseline)},
    )
    meta = _record(tmp_path / "s", config, broker)
    assert meta["format"] == SESSION_FORMAT == 2
    assert meta["complete"] is True and meta["ended_at"] >= meta["started_at"]
    assert len(meta["session_id"]) == 32
    assert meta["config"] == config.model_dump(mode="json")
    assert meta["config_sha256"] == _independent_sha256(meta["config"])
    for name in ("torch", "qiskit", "qiskit-aer", "numpy", "brainflow", "pyzmq"):
        assert meta["versions"][name] == importlib.metadata.version(name)
    assert meta["resolver"] == "quantum" and meta["resolver_seed"] == 1234
    scenario_file = REPO / "configs" / "scenarios" / "ci_short.toml"
    truth = tomllib.loads(scenario_file.read_text())
    assert meta["scenario"] == {
        "name": "ci_short",
        "path": str(scenario_file),
        "sha256": hashlib.sha256(scenario_file.read_bytes()).hexdigest(),
        "seed": truth["seed"],
        "speed": 10.0,
    }
    assert meta["participant"] == "P07"
    assert meta["baseline"] == {
        "source": "file",
        "path": str(baseline),
        "sha256": hashlib.sha256(baseline.read_bytes()).hexdigest(),
        "content": {"format": "kintsugi-baseline-set/1", "attention": {"a": 1}},
    }
    typed = read_manifest(tmp_path / "s")
    assert typed.scenario is not None and typed.scenario.seed == 11
    assert (typed.baseline.source, typed.participant, typed.resolver_seed) == ("file", "P07", 1234)
    assert typed.config_sha256 == meta["config_sha256"]


def test_no_baseline_no_scenario_deterministic_resolver(broker, tmp_path):
    meta = _record(tmp_path / "s", _config(), broker)
    assert meta["baseline"] == {"source": "calibrated", "path": None, "sha256": None,
                                "content": None}
    assert meta["scenario"] is None and meta["participant"] is None
    assert meta["resolver"] == "deterministic" and meta["resolver_seed"] is None
    # A session that chose its own resolver seed records that one.
    chosen = _record(tmp_path / "t", _config(controller={"decision": "quantum"}), broker,
                     resolver_seed=987)
    assert chosen["resolver_seed"] == 987


_HASH_IN_A_NEW_PROCESS = """
import sys
from runtime.config import config_from_mapping
from runtime.recorder import config_sha256
print(config_sha256(config_from_mapping({"controller": {"decision_seed": 5}})))
"""


def test_config_hash_is_stable_across_processes_and_changes_with_the_config():
    here = config_sha256(_config(controller={"decision_seed": 5}))
    for hash_seed in ("1", "2"):  # dict and str hashing differ between these processes
        done = subprocess.run(
            [sys.executable, "-c", _HASH_IN_A_NEW_PROCESS], capture_output=True, text=True,
            cwd=REPO, env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=60, check=True,
        )
        assert done.stdout.strip() == here
    assert config_sha256(_config(controller={"decision_seed": 6})) != here
    assert config_sha256(_config(controller={"decision_seed": 5},
                                 session={"participant": "P01"})) != here
    # Defined on the config's JSON: key order does not matter, every value does.
    data = _config(controller={"decision_seed": 5}).model_dump(mode="json")
    reordered = dict(reversed(list(data.items())))
    assert config_sha256(reordered) == here == _independent_sha256(data)


def test_a_baseline_file_that_cannot_be_read_is_refused_before_recording(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"\[session\] baseline = .*nope\.json.*cannot read"):
        RecorderStage(tmp_path / "s", _config(session={"baseline": str(missing)}))
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    with pytest.raises(ConfigError, match=r"not a JSON baseline file"):
        RecorderStage(tmp_path / "s", _config(session={"baseline": str(garbled)}))
    assert not (tmp_path / "s").exists()


def test_the_directory_may_hold_training_logs_but_nothing_else(tmp_path):
    directory = tmp_path / "s"
    directory.mkdir()
    (directory / "training.jsonl").write_text("")
    RecorderStage(directory, _config())  # a job started with --session DIR first
    (directory / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="is not empty"):
        RecorderStage(directory, _config())


def _format1(directory: Path) -> None:
    """session.json as the recorder wrote it before the manifest fields (format 1)."""
    directory.mkdir()
    config_json = _config().model_dump(mode="json")
    (directory / "session.json").write_text(json.dumps({
        "format": 1, "board": "synthetic", "master_board": "synthetic",
        "started_at": 100.0, "ended_at": 160.0, "complete": True, "presets": {},
        "config": config_json, "versions": {"python": "3.11.7"},
        "directory": str(directory), "samples": {}, "lost_samples": {},
    }))


def test_a_format_1_session_still_reads(tmp_path):
    _format1(tmp_path / "old")
    manifest = read_manifest(tmp_path / "old")
    assert manifest.format == 1 and manifest.session_id is None
    assert manifest.baseline.source == "unknown" and manifest.scenario is None
    assert manifest.resolver_seed is None and manifest.participant is None
    assert manifest.config_sha256 == _independent_sha256(_config().model_dump(mode="json"))
    assert load_session(tmp_path / "old", raw=False).metadata["format"] == 1


def test_a_newer_format_is_refused_naming_the_fix(tmp_path):
    _format1(tmp_path / "new")
    path = tmp_path / "new" / "session.json"
    path.write_text(path.read_text().replace('"format": 1', '"format": 3'))
    with pytest.raises(SessionError, match="format 3 was written by a newer kintsugi.*upgrade"):
        read_manifest(tmp_path / "new")
