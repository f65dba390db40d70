"""The audit log under the root: one JSON line per removal, saying what, when and by which
command; paths relative to the root and counts, never participant data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from runtime.participants._atomic import append_line_durable
from runtime.participants._root import AUDIT_FILE

__all__ = ["append_audit", "relative_paths"]


def relative_paths(root: Path, paths: list[Path]) -> list[str]:
    """``paths`` relative to ``root`` (as given when outside it)."""
    out = []
    for path in paths:
        try:
            out.append(str(path.relative_to(root)))
        except ValueError:
            out.append(str(path))
    return out


def append_audit(root: Path, action: str, command: str, **fields: Any) -> dict[str, Any]:
    """Append one audit line (``time`` UTC ISO 8601, ``unix_time``, ``action``, ``command``
    and ``fields``) to ``ROOT/audit.jsonl``, fsynced; returns the record."""
    now = time.time()
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "unix_time": now,
        "action": action,
        "command": command,
        **fields,
    }
    append_line_durable(root / AUDIT_FILE, record)
    return record
