"""``kintsugi forget``: every session, baseline and training log of one participant goes,
nothing of anyone else; verified by a re-scan; audited without data; a kill -9 in the middle
leaves each session whole or gone, and the next run finishes the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runtime.cli import main
from runtime.participants import (
    PAUSE_ENV,
    BaselineStore,
    find_participant_data,
    find_sessions,
    forget_participant,
)
from tests.participants.conftest import copy_session


def _log(path: Path, participant: str | None, session_id: str | None = None) -> Path:
    """A training log: its header names the participant (or only the session it
    followed, as ``Biofeedback(log=DIR)`` writes it), then step records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"kind": "job", "session_id": session_id}
    if participant is not None:
        header["participant"] = participant
    lines = [header, {"kind": "step", "step": 0, "intensity": 1.0}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _root(tmp_path: Path, recorded: Path) -> Path:
    root = tmp_path / "root"
    copy_session(recorded, root / "sessions" / "a", "P01")
    copy_session(recorded, root / "sessions" / "2024" / "b", "P01")
    copy_session(recorded, root / "sessions" / "c", "P02")
    _log(root / "sessions" / "a" / "training.jsonl", "P01")  # goes with its session
    _log(root / "logs" / "train-p01.jsonl", "P01")
    _log(root / "logs" / "train-p02.jsonl", "P02")
    _log(root / "jobs" / "run1" / "training.jsonl", None, session_id="b-P01")  # P01's b
    _log(root / "jobs" / "run2" / "training.jsonl", None, session_id="c-P02")
    store = BaselineStore(root)
    for participant in ("P01", "P02"):
        store.save(participant, {"attention": {"kind": "attention", "stats": {}}}, {})
    return root


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_forget_removes_a_participant_everywhere_and_nothing_else(recorded_p01, tmp_path, capsys):
    root = _root(tmp_path, recorded_p01)
    other = _snapshot(root / "sessions" / "c")
    assert main(["forget", "P01", "--root", str(root), "--dry-run"]) == 0
    assert "would remove 2 session(s), 1 baseline store(s), 2 training log(s)" in (
        capsys.readouterr().out)
    assert (root / "sessions" / "a").is_dir()  # a dry run deletes nothing
    assert main(["forget", "P01", "--root", str(root)]) == 0
    assert "verified nothing is left" in capsys.readouterr().out
    for removed in ("sessions/a", "sessions/2024/b", "baselines/P01", "logs/train-p01.jsonl",
                    "jobs/run1/training.jsonl"):
        assert not (root / removed).exists(), removed
    assert find_participant_data(root, "P01").paths == ()
    # Nobody else's data is touched.
    assert _snapshot(root / "sessions" / "c") == other
    assert (root / "logs" / "train-p02.jsonl").is_file()
    assert (root / "jobs" / "run2" / "training.jsonl").is_file()
    assert BaselineStore(root).get("P02").version == 1
    audit = [json.loads(line) for line in (root / "audit.jsonl").read_text().splitlines()]
    assert len(audit) == 1
    record = audit[0]
    assert record["action"] == "forget" and record["participant"] == "P01"
    assert record["command"] == f"kintsugi forget P01 --root {root}"
    assert record["counts"] == {"sessions": 2, "baselines": 1, "training_logs": 2}
    assert sorted(record["removed"]["sessions"]) == ["sessions/2024/b", "sessions/a"]
    assert sorted(record["removed"]["training_logs"]) == [
        "jobs/run1/training.jsonl", "logs/train-p01.jsonl"]
    assert record["verified"] is True and record["remaining"] == []
    assert {"time", "unix_time"} <= set(record)
    assert "stats" not in json.dumps(record) and "body" not in json.dumps(record)  # no data
    # Forgetting again finds nothing, exits 0 and is audited too.
    assert main(["forget", "P01", "--root", str(root)]) == 0
    assert len((root / "audit.jsonl").read_text().splitlines()) == 2


def test_forget_reports_what_appeared_during_it_and_is_not_verified(recorded_p01, tmp_path):
    root = _root(tmp_path, recorded_p01)
    late = root / "sessions" / "late"

    def recording_starts(_removed: Path) -> None:  # a recorder writing P01 meanwhile
        if not late.exists():
            copy_session(recorded_p01, late, "P01")

    report = forget_participant(root, "P01", "test", on_removed=recording_starts)
    assert not report.complete
    assert report.remaining.sessions == (late,)
    audit = json.loads((root / "audit.jsonl").read_text().splitlines()[-1])
    assert audit["verified"] is False and audit["remaining"] == ["sessions/late"]


def test_a_kill_9_mid_forget_leaves_each_session_whole_or_gone(recorded_p01, tmp_path):
    root = _root(tmp_path, recorded_p01)
    sessions = [e.path for e in find_sessions(root) if e.participant == "P01"]
    before = {path: _snapshot(path) for path in sessions}
    env = dict(os.environ, **{PAUSE_ENV: "0.15"}, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "forget", "P01", "--root", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        # Every step pauses 0.15 s: kill once the first session has become a tombstone and
        # the deletion is under way (4 renames, then the tombstones file by file).
        end = time.monotonic() + 30
        while time.monotonic() < end and all(path.exists() for path in sessions):
            time.sleep(0.02)
        time.sleep(0.8)
        assert proc.poll() is None, "forget ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    tombstones = [p for p in root.rglob("*") if ".kintsugi-deleting-" in p.name]
    assert tombstones, "the kill came after the deletion had finished"
    gone = [path for path in sessions if not path.exists()]
    assert gone, "the kill came before any session was removed"
    for path in sessions:
        if path.exists():
            assert _snapshot(path) == before[path]  # whole, byte for byte
    assert all(e.participant != "P01" or e.path.exists() for e in find_sessions(root))
    # The next run finishes the interrupted deletion and verifies.
    assert main(["forget", "P01", "--root", str(root)]) == 0
    assert find_participant_data(root, "P01").paths == ()
    assert not [p for p in root.rglob("*") if ".kintsugi-deleting-" in p.name]
    audit = json.loads((root / "audit.jsonl").read_text().splitlines()[-1])
    assert audit["verified"] is True and audit["finished_interrupted"] >= 1
