"""Reading a session directory back, tolerating what a crash leaves: a torn last line.

``read_board_file`` parses BrainFlow's text format in blocks (memory stays bounded by the
result); ``read_jsonl`` skips a last line that is incomplete. Both say how much they skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.recorder._errors import SessionError
from runtime.recorder._files import JSONL_FILES, METADATA_FILE

logger = logging.getLogger("runtime.recorder")

_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class BoardFile:
    """A raw file's samples: ``data`` (num_rows, n) and how many torn bytes were skipped."""

    data: np.ndarray
    torn_bytes: int = 0


def complete_lines_size(path: Path, num_rows: int | None = None) -> int:
    """Bytes of ``path`` that hold complete lines (a torn last line is left out).

    A last line is torn when it has no newline, or (with ``num_rows``) the wrong number of
    values.
    """
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as f:
        tail_start = max(0, size - (1 << 16))
        f.seek(tail_start)
        tail = f.read()
    end = tail.rfind(b"\n") + 1 if not tail.endswith(b"\n") else len(tail)
    if end == 0 and tail_start > 0:
        raise SessionError(f"{path}: no line break in its last 64 KiB; not a BrainFlow file")
    if num_rows is not None and end > 0:
        last_start = tail.rfind(b"\n", 0, end - 1) + 1
        if len(tail[last_start:end].split()) != num_rows:
            end = last_start
    return tail_start + end


def read_board_file(path: Path | str, num_rows: int | None = None) -> BoardFile:
    """Samples of a BrainFlow-format file (``DataFilter.write_file`` layout), shape (rows, n)."""
    path = Path(path)
    if not path.is_file():
        raise SessionError(f"raw file {str(path)!r} does not exist")
    good = complete_lines_size(path, num_rows)
    torn = path.stat().st_size - good
    if torn:
        logger.warning("recorder: %s: skipped a torn last line (%d bytes)", path, torn)
    blocks: list[np.ndarray] = []
    width = num_rows
    with open(path, "rb") as f:
        remaining, carry = good, b""
        while remaining > 0:
            chunk = carry + f.read(min(_BLOCK_BYTES, remaining))
            remaining -= len(chunk) - len(carry)
            cut = chunk.rfind(b"\n") + 1 if remaining > 0 else len(chunk)
            block, carry = chunk[:cut], chunk[cut:]
            if not block:
                continue
            if width is None:
                width = len(block[: block.find(b"\n")].split())
            values = np.array(block.split(), dtype=np.float64)
            if values.size % width:
                raise SessionError(
                    f"{path}: lines with different numbers of values (expected {width} each)"
                )
            blocks.append(values.reshape(-1, width))
    if not blocks:
        return BoardFile(np.zeros((num_rows or 0, 0)), torn)
    return BoardFile(np.ascontiguousarray(np.vstack(blocks).T), torn)


def iter_jsonl(path: Path | str) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file; a torn (incomplete) last line is skipped and logged."""
    path = Path(path)
    if not path.is_file():
        return
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 1:  # the last line (possibly followed by "")
                logger.warning("recorder: %s: skipped a torn last line", path)
                return
            raise SessionError(f"{path}, line {number}: not valid JSON") from None


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """All records of a JSON-lines file (see :func:`iter_jsonl`)."""
    return list(iter_jsonl(path))


@dataclass
class RecordedSession:
    """A session directory, loaded: metadata, raw samples per preset, and the bus messages."""

    directory: Path
    metadata: dict[str, Any]
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    features: list[dict[str, Any]] = field(default_factory=list)
    control: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    markers: list[dict[str, Any]] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    model: list[dict[str, Any]] = field(default_factory=list)

    def layout(self, preset: str = "default") -> dict[str, Any]:
        """The row layout of a preset (``drivers.StreamLayout.to_dict()``)."""
        try:
            return dict(self.metadata["presets"][preset]["layout"])
        except KeyError:
            raise SessionError(
                f"{self.directory}: no {preset!r} preset was recorded "
                f"(recorded: {', '.join(self.metadata.get('presets', {})) or 'none'})"
            ) from None

    def fs(self, preset: str = "default") -> float:
        """Nominal sampling rate of a preset, Hz."""
        return float(self.layout(preset)["sampling_rate"])

    def marker_labels(self) -> dict[float, str]:
        """Marker value → label, from the recorded ``marker`` messages."""
        labels: dict[float, str] = {}
        for record in self.markers:
            body = record.get("body", {})
            value = body.get("value")
            if isinstance(value, int | float) and value:
                labels[float(value)] = str(body.get("label", f"marker {value:g}"))
        return labels


def read_metadata(directory: Path | str) -> dict[str, Any]:
    """``session.json`` of a session directory."""
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise SessionError(
            f"{str(directory)!r} is not a session directory: it has no {METADATA_FILE} "
            "(record one with `kintsugi run -c CONFIG --record DIR`)"
        )
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SessionError(f"{path}: not valid JSON ({exc})") from None
    return data


def load_session(directory: Path | str, *, raw: bool = True) -> RecordedSession:
    """Load a session directory; ``raw=False`` skips the (large) raw files."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    session = RecordedSession(directory, metadata)
    if raw:
        for preset, info in metadata.get("presets", {}).items():
            path = directory / info["file"]
            if path.is_file():
                session.raw[preset] = read_board_file(path, info.get("num_rows")).data
    by_file = {name: prefix for prefix, name in JSONL_FILES.items()}
    attribute = {
        "features": "features",
        "control": "control",
        "decision": "decisions",
        "marker": "markers",
        "status.": "status",
        "model.status": "model",
    }
    for name, prefix in by_file.items():
        setattr(session, attribute[prefix], read_jsonl(directory / name))
    return session
