"""Crash-safe file operations: atomic replace, durable append, and tombstones for deletion.

A directory (or file) to delete is first renamed, in one atomic ``rename``, to a tombstone
name in the same parent (``.NAME.kintsugi-deleting-TOKEN``), then deleted. A ``kill -9`` at
any point leaves either the original, whole, or a tombstone (whole or partly deleted) that
nobody reads: every scan here skips tombstones, and :func:`finish_tombstones` completes
them. So a session is never seen half deleted.

Tests make deletion slow deterministically with :data:`PAUSE_ENV` (seconds to sleep after
each step), so a subprocess can be killed in the middle of it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "PAUSE_ENV",
    "TOMBSTONE_MARK",
    "append_line_durable",
    "delete_tombstone",
    "find_tombstones",
    "finish_tombstones",
    "is_tombstone",
    "make_tombstone",
    "write_json_atomic",
]

#: Marks a tombstone name: ``.NAME`` + this + ``TOKEN``.
TOMBSTONE_MARK = ".kintsugi-deleting-"
#: Test hook: seconds to sleep after each deletion step (unset or 0 in normal use).
PAUSE_ENV = "KINTSUGI_TEST_DELETE_PAUSE_S"


def _pause() -> None:
    pause_s = float(os.environ.get(PAUSE_ENV, "0") or 0)
    if pause_s > 0:
        time.sleep(pause_s)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON: a reader sees the old file or the new, never
    half of one (written to a temporary name, fsynced, renamed, the directory fsynced)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def append_line_durable(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single write and fsync it (a crash tears at most it)."""
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def is_tombstone(path: Path) -> bool:
    """True for a name made by :func:`make_tombstone`."""
    return path.name.startswith(".") and TOMBSTONE_MARK in path.name


def make_tombstone(path: Path) -> Path:
    """Rename ``path`` (a file or directory) atomically to a tombstone beside it; returns it."""
    tombstone = path.with_name(f".{path.name}{TOMBSTONE_MARK}{secrets.token_hex(4)}")
    os.rename(path, tombstone)
    _fsync_dir(path.parent)
    _pause()
    return tombstone


def delete_tombstone(tombstone: Path) -> None:
    """Delete a tombstone (a file, or a directory bottom-up, one entry at a time)."""
    if tombstone.is_dir() and not tombstone.is_symlink():
        for dirpath, dirnames, filenames in os.walk(tombstone, topdown=False):
            for name in filenames:
                os.unlink(os.path.join(dirpath, name))
                _pause()
            for name in dirnames:
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    os.unlink(full)
                else:
                    os.rmdir(full)
        os.rmdir(tombstone)
    else:
        os.unlink(tombstone)
    _fsync_dir(tombstone.parent)
    _pause()


def find_tombstones(root: Path) -> Iterator[Path]:
    """Every tombstone under ``root`` (not looking inside tombstones)."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            if is_tombstone(here / name):
                yield here / name
        dirnames[:] = [d for d in dirnames if not is_tombstone(here / d)]


def finish_tombstones(root: Path) -> list[Path]:
    """Delete every tombstone under ``root`` (left by an interrupted deletion); returns them."""
    found = list(find_tombstones(root))
    for tombstone in found:
        delete_tombstone(tombstone)
    return found
