"""Retention: ``kintsugi sessions --older-than AGE`` lists old sessions; with --delete it
removes them (and only them) crash-safely, with an audit line."""

from __future__ import annotations

import json
import os
import time

import pytest

from runtime.cli import main
from runtime.errors import ConfigError
from runtime.participants import parse_age
from tests.participants.conftest import copy_session

DAY_S = 86400.0


@pytest.mark.parametrize(("text", "seconds"),
                         [("30d", 30 * DAY_S), ("12h", 43200.0), ("90m", 5400.0),
                          ("1.5w", 1.5 * 7 * DAY_S), ("45s", 45.0)])
def test_an_age_is_a_number_and_a_unit(text, seconds):
    assert parse_age(text) == seconds


@pytest.mark.parametrize("bad", ["30", "30x", "-1d", "d", ""])
def test_a_bad_age_names_the_flag_and_the_fix(bad):
    with pytest.raises(ConfigError, match="--older-than .* e.g. 30d"):
        parse_age(bad)


def _aged(recorded, root, name: str, age_days: float, *, stamp: bool = True):
    path = copy_session(recorded, root / name, "P01")
    meta_path = path / "session.json"
    meta = json.loads(meta_path.read_text())
    started = time.time() - age_days * DAY_S
    if stamp:
        meta["started_at"] = started
    else:
        del meta["started_at"]
    meta_path.write_text(json.dumps(meta))
    os.utime(meta_path, (started, started))
    return path


def test_old_sessions_are_listed_then_removed_and_recent_ones_kept(recorded_p01, tmp_path, capsys):
    root = tmp_path / "root"
    old = _aged(recorded_p01, root, "old", 40)
    unstamped = _aged(recorded_p01, root, "unstamped", 60, stamp=False)  # its file's time
    recent = _aged(recorded_p01, root, "recent", 10)
    assert main(["sessions", "--root", str(root), "--older-than", "30d"]) == 0
    out = capsys.readouterr().out
    assert "2 session(s) older than 30d" in out and str(recent) not in out
    assert old.is_dir() and unstamped.is_dir()  # listing deletes nothing
    assert main(["sessions", "--root", str(root), "--delete"]) == 2  # needs --older-than
    assert "--older-than" in capsys.readouterr().err
    assert main(["sessions", "--root", str(root), "--older-than", "30d", "--delete"]) == 0
    assert not old.exists() and not unstamped.exists() and recent.is_dir()
    record = json.loads((root / "audit.jsonl").read_text().splitlines()[-1])
    assert record["action"] == "retention" and record["older_than"] == "30d"
    assert sorted(record["removed"]["sessions"]) == ["old", "unstamped"]
    assert record["counts"] == {"sessions": 2} and record["verified"] is True
