"""The session directory: which file holds what, and append-only writers that survive a crash.

Every writer appends whole lines with one ``write`` and then ``fsync``s, so after a
``kill -9`` (or a power cut) a file holds every chunk written before it, and at most one
torn last line, which the readers in :mod:`runtime.recorder._readers` skip.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

#: The session's metadata: board, presets and their layouts, config, versions, times.
METADATA_FILE = "session.json"
#: BrainFlow-format raw files per preset (what the playback board's file/file_aux/file_anc read).
RAW_FILES = {"default": "raw.csv", "auxiliary": "raw.aux.csv", "ancillary": "raw.anc.csv"}
#: JSON-lines files, one bus message per line, by the topic prefixes they keep.
JSONL_FILES = {
    "features": "features.jsonl",
    "control": "control.jsonl",
    "decision": "decisions.jsonl",
    "marker": "markers.jsonl",
    "status.": "status.jsonl",
    "model.status": "model.jsonl",
}
#: Each value with 17 significant digits, tab-separated: BrainFlow's text format (its
#: ``DataFilter.write_file`` uses ``%.6f``, which its readers and the playback board parse as
#: well), but exact, so a replay feeds the pipeline the very samples the session saw (with
#: ``%.6f`` a replay's float32 samples, and then its features, differed in the last bits).
VALUE_FORMAT = "%.17g"


#: The directory of each person's raw files (``persons/<person>/raw.csv``) in a session
#: whose raw.board chunks name a person: the same file names as a one-board session, one
#: directory per person (a person id has no path separator and no leading dot).
PERSONS_DIR = "persons"


def raw_file_name(preset: str, person: str | None = None) -> str:
    """The raw file of a preset (``raw.csv`` for the default preset), relative to the
    session directory: ``persons/<person>/raw.csv`` for a person's board."""
    name = RAW_FILES.get(preset, f"raw.{preset}.csv")
    return name if person is None else f"{PERSONS_DIR}/{person}/{name}"


def jsonl_file_for(topic: str) -> str | None:
    """The JSON-lines file a topic is recorded in, or None if it is not recorded."""
    for prefix, name in JSONL_FILES.items():
        if topic == prefix or topic.startswith(prefix if prefix.endswith(".") else prefix + "."):
            return name
    return None


def format_board_rows(data: np.ndarray) -> bytes:
    """(num_rows, n) samples as BrainFlow's text format: one line per sample, tab-separated."""
    buffer = io.StringIO()
    np.savetxt(buffer, np.asarray(data, dtype=np.float64).T, fmt=VALUE_FORMAT, delimiter="\t")
    return buffer.getvalue().encode()


class AppendFile:
    """A file opened for appending; ``append`` writes bytes, ``sync`` flushes them to disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._dirty = False
        self.bytes_written = 0

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # os.write may write less than asked (signals, full disks)
            written = os.write(self._fd, view)
            view = view[written:]
        self.bytes_written += len(data)
        self._dirty = True

    def sync(self) -> None:
        """fsync if anything was appended since the last sync."""
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        """Sync and close; safe to call twice."""
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1


def message_record(message: Any, recv_time: float) -> dict[str, Any]:
    """What a JSON line holds for one bus message (arrays are not recorded in JSON)."""
    return {
        "topic": message.topic,
        "publisher": message.publisher,
        "seq": message.seq,
        "source_time": message.source_time,
        "publish_time": message.publish_time,
        "recv_time": recv_time,
        "body": message.body,
    }


def json_line(record: dict[str, Any]) -> bytes:
    """One JSON line (non-finite floats become null: JSON has no NaN)."""
    return (json.dumps(_finite(record), separators=(",", ":"), default=str) + "\n").encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_finite(data), f, indent=2, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
