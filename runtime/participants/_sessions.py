"""Find the session directories and training logs under a root, and whose they are.

A session directory is a directory holding ``session.json`` (``kintsugi run --record``);
its participant is the manifest's ``participant`` or, in recordings made before the
manifest had one, ``config.session.participant``. A training log is a JSON-lines file
outside any session directory whose first line (its header) is an object naming the
participant (``participant``) or one of the participant's sessions (``session_id``, as
``Biofeedback(log=DIR)`` writes it); a log inside a session directory goes with the
session. Tombstones are never read.
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
    (Unix s; None when unknown), whether its ``session.json`` could be read at all, and its
    ``session_id`` (None when it has none)."""

    path: Path
    participant: str | None
    started_at: float | None
    readable: bool = True
    session_id: str | None = None


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
    session_id = metadata.get("session_id")
    return SessionEntry(
        directory, session_participant(metadata), started_at,
        session_id=session_id if isinstance(session_id, str) else None,
    )


def find_sessions(root: Path) -> list[SessionEntry]:
    """Every session directory under ``root`` (not looking inside sessions or tombstones)."""
    found = []
    for here, dirnames, filenames in _walk(root):
        if SESSION_FILE in filenames:
            found.append(_read_entry(here))
            dirnames[:] = []
    return found


def _log_header(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            record = json.loads(f.readline(1 << 20))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _is_log_of(path: Path, participant: str, session_ids: set[str]) -> bool:
    header = _log_header(path)
    return header.get("participant") == participant or (
        isinstance(header.get("session_id"), str) and header["session_id"] in session_ids
    )


def find_training_logs(root: Path, participant: str) -> list[Path]:
    """Training logs of ``participant`` under ``root`` (outside session directories)."""
    session_ids = {
        e.session_id for e in find_sessions(root)
        if e.participant == participant and e.session_id is not None
    }
    found = []
    for here, dirnames, filenames in _walk(root):
        if SESSION_FILE in filenames:
            dirnames[:] = []
            continue
        for name in filenames:
            path = here / name
            is_log = name.endswith(".jsonl") and not (here == root and name == AUDIT_FILE)
            if is_log and _is_log_of(path, participant, session_ids):
                found.append(path)
    return found
