"""Find the session directories and training logs under a root, and whose they are.

A session directory is a directory holding ``session.json`` (``kintsugi run --record``);
its participant is the manifest's ``participant`` or, in recordings made before the
manifest had one, ``config.session.participant``. A training log is a JSON-lines file
outside any session directory whose first line is an object with a ``participant`` key
(a log inside a session directory goes with the session). Tombstones are never read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.participants._atomic import is_tombstone
from runtime.participants._root import AUDIT_FILE, BASELINES_DIR

__all__ = [
    "SESSION_FILE",
    "SessionEntry",
    "find_sessions",
    "find_training_logs",
    "session_participant",
]

#: The file that makes a directory a session (runtime.recorder.METADATA_FILE).
SESSION_FILE = "session.json"


@dataclass(frozen=True)
class SessionEntry:
    """One session directory: its path, participant (None: none recorded), start time
    (Unix s; None when unknown) and whether its ``session.json`` could be read at all."""

    path: Path
    participant: str | None
    started_at: float | None
    readable: bool = True


def session_participant(metadata: dict[str, Any]) -> str | None:
    """The participant id a ``session.json`` names, or None."""
    participant = metadata.get("participant")
    if participant is None:
        session = (metadata.get("config") or {}).get("session") or {}
        participant = session.get("participant") if isinstance(session, dict) else None
    return participant if isinstance(participant, str) else None


def _walk(root: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk over ``root`` that skips tombstones and the baseline store."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames
            if not is_tombstone(here / d) and not (here == root and d == BASELINES_DIR)
        )
        yield here, dirnames, [f for f in sorted(filenames) if not is_tombstone(here / f)]


def _read_entry(directory: Path) -> SessionEntry:
    path = directory / SESSION_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError):
        return SessionEntry(directory, None, None, readable=False)
    started = metadata.get("started_at")
    started_at = float(started) if isinstance(started, int | float) else None
    return SessionEntry(directory, session_participant(metadata), started_at)


def find_sessions(root: Path) -> list[SessionEntry]:
    """Every session directory under ``root`` (not looking inside sessions or tombstones)."""
    found = []
    for here, dirnames, filenames in _walk(root):
        if SESSION_FILE in filenames:
            found.append(_read_entry(here))
            dirnames[:] = []
    return found


def _log_participant(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            first = f.readline(1 << 20)
        record = json.loads(first)
    except (OSError, ValueError):
        return None
    participant = record.get("participant") if isinstance(record, dict) else None
    return participant if isinstance(participant, str) else None


def find_training_logs(root: Path, participant: str) -> list[Path]:
    """Training logs of ``participant`` under ``root`` (outside session directories)."""
    found = []
    for here, dirnames, filenames in _walk(root):
        if SESSION_FILE in filenames:
            dirnames[:] = []
            continue
        for name in filenames:
            path = here / name
            is_log = name.endswith(".jsonl") and not (here == root and name == AUDIT_FILE)
            if is_log and _log_participant(path) == participant:
                found.append(path)
    return found
