"""Reading a session directory back, tolerating what a crash leaves: a torn last line.

``read_board_file`` parses BrainFlow's text format in blocks (memory stays bounded by the
result); ``read_jsonl`` skips a last line that is incomplete. Both say how much they skipped.
``read_records`` turns each JSON line into a :class:`SessionRecord` with its typed body
(:mod:`runtime.messages`); a line that fails validation is skipped, counted and logged with
the file, the line number and what is wrong, so one bad line never stops a report.

A session several people streamed into keeps each person's raw rows apart
(``persons/<person>/raw.csv`` …, described in ``persons`` of ``session.json``):
:func:`session_persons` lists them, :func:`board_presets` and :func:`read_raw` read one
person's, and :func:`only_board` is what a tool that reads one board (replay, export) asks.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import MessageError
from runtime.messages import Body, Marker, MessageFieldError, parse_body
from runtime.recorder._errors import SessionError
from runtime.recorder._files import JSONL_FILES, METADATA_FILE

logger = logging.getLogger("runtime.recorder")

_BLOCK_BYTES = 8 << 20
#: Bad lines of one file logged one by one; past this, only the file's total is logged.
_LOGGED_BAD_LINES = 10


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


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or None when the line is not JSON) of each non-blank line,
    without a torn (not JSON) last line, which is logged."""
    if not path.is_file():
        return
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
            if number >= len(lines) - 1:  # the last line (possibly followed by "")
                logger.warning("recorder: %s: skipped a torn last line", path)
                return
            yield number, None


def iter_jsonl(path: Path | str) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file, as JSON; a torn (incomplete) last line is skipped and
    logged, any other line that is not JSON raises :class:`SessionError`."""
    path = Path(path)
    for number, record in _json_lines(path):
        if record is None:
            raise SessionError(f"{path}, line {number}: not valid JSON")
        yield record


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """All records of a JSON-lines file, as JSON (see :func:`iter_jsonl`)."""
    return list(iter_jsonl(path))


@dataclass(frozen=True)
class SessionRecord:
    """One recorded bus message: where and when it was published, and its typed body.

    ``publish_time`` is the sender's wall clock, ``recv_time`` the recorder's;
    ``source_time`` the board clock of the newest sample the message rests on (None for
    messages that rest on none, and for the recorder's own events, which have no ``seq``).
    """

    topic: str
    data: Body
    publisher: str | None = None
    seq: int | None = None
    source_time: float | None = None
    publish_time: float | None = None
    recv_time: float | None = None

    @classmethod
    def from_json(cls, record: Any) -> SessionRecord:
        """The record of one JSON line; raises :class:`MessageError` naming what is wrong."""
        if not isinstance(record, dict):
            raise MessageFieldError("record", "line", record, "a JSON object")
        topic = record.get("topic")
        if not isinstance(topic, str) or not topic:
            raise MessageFieldError("record", "topic", topic, "a topic name")
        body = record.get("body")
        if not isinstance(body, dict):
            raise MessageFieldError(topic, "body", body, "a JSON object")
        data = parse_body(topic, body)
        if data is None:
            raise MessageError(f"{topic}: a topic outside the message schema; no type reads it")
        publisher = record.get("publisher")
        if publisher is not None and not isinstance(publisher, str):
            raise MessageFieldError(topic, "publisher", publisher, "a string or null")
        seq = record.get("seq")
        if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0):
            raise MessageFieldError(topic, "seq", seq, "an integer ≥ 0 or null")
        return cls(
            topic=topic,
            data=data,
            publisher=publisher,
            seq=seq,
            source_time=_time(record, "source_time", topic),
            publish_time=_time(record, "publish_time", topic),
            recv_time=_time(record, "recv_time", topic),
        )


def _time(record: dict[str, Any], name: str, topic: str) -> float | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MessageFieldError(topic, name, value, "a finite number or null")
    return float(value)


@dataclass(frozen=True)
class SkippedRecord:
    """A line of a JSON-lines file that was left out: not JSON, or a body that failed
    validation (``reason`` is the :class:`~runtime.messages.MessageFieldError`'s text)."""

    path: Path
    line: int
    reason: str


@dataclass(frozen=True)
class RecordFile:
    """The valid records of one JSON-lines file, and the lines that were skipped."""

    records: list[SessionRecord]
    skipped: list[SkippedRecord]


def read_records(path: Path | str) -> RecordFile:
    """The records of a JSON-lines file with their typed bodies.

    A torn last line is skipped (as by :func:`iter_jsonl`). Any other line that is not JSON,
    or whose body fails validation, is skipped and counted in ``skipped``, and logged with
    the file, the line number and what is wrong (the first few one by one, then a total).
    """
    path = Path(path)
    records: list[SessionRecord] = []
    skipped: list[SkippedRecord] = []
    for number, raw in _json_lines(path):
        try:
            if raw is None:
                raise MessageError("not valid JSON")
            records.append(SessionRecord.from_json(raw))
        except MessageError as exc:
            skipped.append(SkippedRecord(path, number, str(exc)))
            if len(skipped) <= _LOGGED_BAD_LINES:
                logger.warning("recorder: %s, line %d: skipped a record: %s", path, number, exc)
    if len(skipped) > _LOGGED_BAD_LINES:
        logger.warning(
            "recorder: %s: skipped %d records in all (lines %d … %d); the first %d are logged",
            path, len(skipped), skipped[0].line, skipped[-1].line, _LOGGED_BAD_LINES,
        )
    return RecordFile(records, skipped)


@dataclass
class RecordedSession:
    """A session directory, loaded: metadata, raw samples per preset, and the bus messages
    (each a :class:`SessionRecord` with its typed body). ``skipped`` lists the lines of the
    JSON-lines files that were left out (see :func:`read_records`)."""

    directory: Path
    metadata: dict[str, Any]
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    #: Each person's raw samples per preset (empty in a single-person session, whose
    #: samples are ``raw``).
    person_raw: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    features: list[SessionRecord] = field(default_factory=list)
    control: list[SessionRecord] = field(default_factory=list)
    decisions: list[SessionRecord] = field(default_factory=list)
    markers: list[SessionRecord] = field(default_factory=list)
    status: list[SessionRecord] = field(default_factory=list)
    model: list[SessionRecord] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)

    @property
    def persons(self) -> tuple[str, ...]:
        """The persons whose raw data the session holds (:func:`session_persons`)."""
        return session_persons(self.metadata)

    def samples_of(self, person: str | None = None) -> dict[str, np.ndarray]:
        """Raw samples per preset of one board: ``raw`` for None, else the person's."""
        if person is None:
            return self.raw
        board_presets(self.metadata, person, directory=self.directory)  # names a bad person
        return self.person_raw.get(person, {})

    def layout(self, preset: str = "default", person: str | None = None) -> dict[str, Any]:
        """The row layout of a preset (``drivers.StreamLayout.to_dict()``) of the board
        that names nobody, or of ``person``'s board."""
        presets = board_presets(self.metadata, person, directory=self.directory)
        try:
            return dict(presets[preset]["layout"])
        except KeyError:
            whose = "" if person is None else f" for person {person!r}"
            raise SessionError(
                f"{self.directory}: no {preset!r} preset was recorded{whose} "
                f"(recorded: {', '.join(presets) or 'none'})"
            ) from None

    def fs(self, preset: str = "default", person: str | None = None) -> float:
        """Nominal sampling rate of a preset, Hz."""
        return float(self.layout(preset, person)["sampling_rate"])

    def marker_labels(self) -> dict[float, str]:
        """Marker value → label, from the recorded ``marker`` messages."""
        labels: dict[float, str] = {}
        for record in self.markers:
            if isinstance(record.data, Marker):
                labels[record.data.value] = record.data.label
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


def session_persons(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The persons whose raw rows a session holds apart (``persons`` of ``session.json``),
    sorted; empty for a single-person session (its chunks named nobody)."""
    return tuple(sorted(metadata.get("persons") or {}))


def read_persons(directory: Path | str) -> tuple[str, ...]:
    """The persons of a session directory (:func:`session_persons` of its manifest)."""
    return session_persons(read_metadata(directory))


def board_presets(
    metadata: dict[str, Any], person: str | None = None, *, directory: Path | str = "session"
) -> dict[str, Any]:
    """The presets (file, fs, num_rows, layout) of one board: ``presets`` for the chunks
    that named nobody (None), ``persons.<person>.presets`` for a person's; a person the
    session does not hold raises :class:`SessionError` naming the ones it does."""
    if person is None:
        presets: dict[str, Any] = metadata.get("presets") or {}
        return presets
    entry = (metadata.get("persons") or {}).get(person)
    if entry is None:
        held = ", ".join(session_persons(metadata)) or "none: its chunks named nobody"
        raise SessionError(
            f"{directory} holds no raw data of person {person!r} (persons: {held}); give one "
            "of its persons"
        )
    presets = entry.get("presets") or {}
    return presets


def read_raw(
    directory: Path | str, preset: str = "default", person: str | None = None
) -> BoardFile:
    """The raw samples of one preset of one board (``person``; None: the board that named
    nobody, ``raw.csv`` …), a torn last line skipped (:func:`read_board_file`)."""
    directory = Path(directory)
    presets = board_presets(read_metadata(directory), person, directory=directory)
    info = presets.get(preset)
    if info is None:
        whose = "" if person is None else f" for person {person!r}"
        raise SessionError(
            f"{directory}: no {preset!r} preset was recorded{whose} "
            f"(recorded: {', '.join(presets) or 'none'})"
        )
    return read_board_file(directory / info["file"], info.get("num_rows"))


def only_board(
    metadata: dict[str, Any], directory: Path | str, action: str, hint: str = ""
) -> str | None:
    """The person of a session's one board, for ``action`` (e.g. ``"replay"``), which reads
    one board's raw data: None when its chunks named nobody (a single-person session), the
    person when one person's rows are all it holds. A session with several boards raises
    :class:`SessionError` naming its persons, saying ``action`` does not support that yet,
    and ``hint`` (what to do instead)."""
    persons = session_persons(metadata)
    if not persons:
        return None
    if len(persons) == 1 and not metadata.get("presets"):
        return persons[0]
    boards = ", ".join(persons)
    if metadata.get("presets"):
        boards += " and a board that named no person (raw.csv)"
    raise SessionError(
        f"{directory} holds the raw data of several people ({boards}): {action} of a "
        "multi-person session is not supported yet, only of a session with one board"
        + (f"; {hint}" if hint else "")
    )


def load_session(directory: Path | str, *, raw: bool = True) -> RecordedSession:
    """Load a session directory; ``raw=False`` skips the (large) raw files."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    session = RecordedSession(directory, metadata)
    if raw:
        session.raw = _read_board(directory, metadata.get("presets") or {})
        for person in session_persons(metadata):
            session.person_raw[person] = _read_board(
                directory, board_presets(metadata, person, directory=directory)
            )
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
        loaded = read_records(directory / name)
        setattr(session, attribute[prefix], loaded.records)
        session.skipped.extend(loaded.skipped)
    return session


def _read_board(directory: Path, presets: dict[str, Any]) -> dict[str, np.ndarray]:
    """Each preset's samples of one board whose file exists."""
    raw: dict[str, np.ndarray] = {}
    for preset, info in presets.items():
        path = directory / info["file"]
        if path.is_file():
            raw[preset] = read_board_file(path, info.get("num_rows")).data
    return raw
