"""Retention: sessions older than an age (``--older-than 30d``), listed or removed.

A session's age is from its ``started_at`` (``session.json``), or the file's modification
time when it has none. Removal is :mod:`_forget`'s: tombstone, delete, verify, audit.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from runtime.errors import ConfigError
from runtime.participants._atomic import (
    delete_tombstone,
    find_tombstones,
    finish_tombstones,
    make_tombstone,
)
from runtime.participants._audit import append_audit, relative_paths
from runtime.participants._sessions import SESSION_FILE, SessionEntry, find_sessions

__all__ = ["RetentionReport", "delete_sessions", "parse_age", "session_started_at",
           "sessions_older_than"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")


def parse_age(text: str) -> float:
    """``30d`` → seconds (units s, m, h, d, w); a ConfigError naming ``--older-than``."""
    match = _AGE.match(str(text).strip().lower())
    if not match:
        raise ConfigError(
            f"--older-than {text!r} is invalid: give a number and a unit (s, m, h, d or w), "
            "e.g. 30d for thirty days"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def session_started_at(entry: SessionEntry) -> float:
    """When a session started (Unix s): ``started_at``, else ``session.json``'s mtime."""
    if entry.started_at is not None:
        return entry.started_at
    return os.stat(entry.path / SESSION_FILE).st_mtime


def sessions_older_than(
    root: Path, age_s: float, *, now: float | None = None, participant: str | None = None
) -> list[SessionEntry]:
    """Sessions under ``root`` that started more than ``age_s`` ago (of ``participant``)."""
    now = time.time() if now is None else now
    return [
        entry for entry in find_sessions(root)
        if now - session_started_at(entry) > age_s
        and (participant is None or entry.participant == participant)
    ]


@dataclass(frozen=True)
class RetentionReport:
    removed: tuple[Path, ...]
    remaining: tuple[Path, ...]
    audit: dict[str, object] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.remaining


def delete_sessions(
    root: Path, entries: list[SessionEntry], command: str, older_than: str
) -> RetentionReport:
    """Remove ``entries`` (tombstone each, then delete), verify, append an audit line."""
    finished = finish_tombstones(root)
    paths = [e.path for e in entries if e.path.exists()]
    tombstones = [make_tombstone(path) for path in paths]
    for tombstone in tombstones:
        delete_tombstone(tombstone)
    remaining = tuple(p for p in paths if p.exists()) + tuple(find_tombstones(root))
    audit = append_audit(
        root,
        "retention",
        command,
        older_than=older_than,
        removed={"sessions": relative_paths(root, paths)},
        counts={"sessions": len(paths)},
        finished_interrupted=len(finished),
        verified=not remaining,
        remaining=relative_paths(root, list(remaining)),
    )
    return RetentionReport(tuple(paths), remaining, audit)
