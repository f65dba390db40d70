"""The training job's step-aligned log: one JSON line per step with the control it applied.

``Biofeedback(..., log=DIR)`` writes ``DIR/training.jsonl`` (``log=FILE.jsonl`` writes that
file). Its first line identifies the job (``{"kind": "job", ...}``: format, seeds, the
session directory and id, the log it followed); then one line per step::

    {"step": 12, "seq": 40, "intensity": 1.5, "gentle": false, "rule": "intensify: ...",
     "repairs": 3, "repairs_by_module": {"0": 3}}

Step ``n`` is the stretch of training between boundary ``n`` (``start()`` for 0, the
``n``-th ``step()``) and the next boundary (or ``close()``): the control in force over it
and the activations GoldenRepair repaired in it (``repairs_by_module`` only when some
were). A last ``{"kind": "end", ...}`` line is written by ``close()``.

Writes are cheap: lines are kept in memory and appended with one ``write`` at each status
report (every ``status_every`` steps), every :data:`FLUSH_LINES` lines and on close, and
fsynced at most every :data:`SYNC_INTERVAL_S`. A crash loses at most the lines not yet
written; earlier lines are never touched (append-only), and a torn last line is skipped
by :func:`read_training_log`. A log that cannot be written warns once and is switched off:
training goes on.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import KintsugiError
from runtime.training._validate import raise_config_error

logger = logging.getLogger("runtime.training")

#: The log's file name in a session directory.
TRAINING_LOG_FILE = "training.jsonl"
#: ``format`` of the header line.
TRAINING_LOG_FORMAT = "kintsugi-training-log/1"
#: Buffered lines are written at the latest after this many.
FLUSH_LINES = 1024
#: Seconds between two fsyncs of the log (a flush in between only reaches the page cache,
#: which survives a killed process; the fsync bounds what a power cut loses).
SYNC_INTERVAL_S = 5.0


class TrainingLogError(KintsugiError, ValueError):
    """A training log that cannot be read: the message names the file, the line and why."""


def training_log_path(target: str | Path) -> Path:
    """The log file of ``log=target``: ``target`` itself when it ends in ``.jsonl``,
    else ``target/training.jsonl`` (a session directory)."""
    path = Path(target)
    return path if path.suffix == ".jsonl" else path / TRAINING_LOG_FILE


@dataclass(frozen=True)
class TrainingStep:
    """One line of the log: the control in force over step ``step`` and its repairs."""

    step: int
    seq: int
    intensity: float
    gentle: bool
    rule: str
    repairs: int = 0
    repairs_by_module: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON line's object (``repairs_by_module`` only when something was repaired)."""
        line: dict[str, Any] = {
            "step": self.step,
            "seq": self.seq,
            "intensity": self.intensity,
            "gentle": self.gentle,
            "rule": self.rule,
            "repairs": self.repairs,
        }
        if self.repairs_by_module:
            line["repairs_by_module"] = self.repairs_by_module
        return line

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> TrainingStep:
        """A step line, checked; :class:`TrainingLogError` names ``where`` and the field."""

        def need(name: str, kinds: Any, check: Any = None) -> Any:
            value = data.get(name)
            ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in
                                                   (kinds if isinstance(kinds, tuple) else
                                                    (kinds,)))
            if not ok or (check is not None and not check(value)):
                raise TrainingLogError(f"{where}: field {name!r} is {value!r}, which is invalid")
            return value

        by_module = data.get("repairs_by_module", {})
        if not isinstance(by_module, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in by_module.values()
        ):
            raise TrainingLogError(
                f"{where}: field 'repairs_by_module' is {by_module!r}; expected module → count"
            )
        return cls(
            step=need("step", int, lambda v: v >= 0),
            seq=need("seq", int, lambda v: v >= -1),
            intensity=float(need("intensity", (int, float), math.isfinite)),
            gentle=need("gentle", bool),
            rule=need("rule", str),
            repairs=need("repairs", int, lambda v: v >= 0),
            repairs_by_module={str(k): int(v) for k, v in by_module.items()},
        )


@dataclass(frozen=True)
class TrainingLog:
    """A training log read back: its header, its steps in order, its end line (None when
    the job did not close it: killed), and whether a torn last line was skipped."""

    path: Path
    header: dict[str, Any] | None
    steps: list[TrainingStep]
    end: dict[str, Any] | None = None
    torn_last_line: bool = False


def read_training_log(path: str | Path) -> TrainingLog:
    """Read a training log (``DIR`` or ``DIR/training.jsonl``); a torn last line (a crash
    while writing) is skipped, any other bad line raises :class:`TrainingLogError`."""
    path = training_log_path(path)
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise TrainingLogError(
            f"training log {str(path)!r} cannot be read ({exc.strerror or exc}); give the "
            f"{TRAINING_LOG_FILE} a job wrote with log=DIR (or --session DIR)"
        ) from None
    header = end = None
    steps: list[TrainingStep] = []
    torn = False
    unfinished = len(lines) - 1 if lines[-1] else -1  # a last line with no newline after it
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        where = f"{path}, line {index + 1}"
        try:
            data = json.loads(raw)
        except ValueError:
            if index != unfinished:
                raise TrainingLogError(f"{where}: not valid JSON") from None
            torn = True  # cut short by a crash while it was written
            logger.warning("Biofeedback: %s: skipped a torn last line", path)
            break
        if not isinstance(data, dict):
            raise TrainingLogError(f"{where}: not a JSON object")
        kind = data.get("kind")
        if kind == "job":
            header = data
        elif kind == "end":
            end = data
        else:
            steps.append(TrainingStep.from_dict(data, where))
    if header is not None and header.get("format") != TRAINING_LOG_FORMAT:
        raise TrainingLogError(
            f"{path}: format {header.get('format')!r}; this kintsugi reads {TRAINING_LOG_FORMAT}"
        )
    return TrainingLog(path, header, steps, end, torn)


def first_difference(expected: Sequence[TrainingStep], got: Sequence[TrainingStep]) -> str | None:
    """None when the two step sequences are equal, else the first step that differs
    (what each has), or which is shorter."""
    for want, have in zip(expected, got, strict=False):
        if want != have:
            return f"step {want.step}: expected {want.to_dict()}, got {have.to_dict()}"
    if len(expected) != len(got):
        return f"{len(expected)} steps expected, {len(got)} logged"
    return None


def session_id_of(directory: Path) -> str | None:
    """The ``session_id`` of ``directory/session.json`` when there is one (else None)."""
    return _manifest_field(directory, "session_id")


def participant_of(directory: Path) -> str | None:
    """The ``participant`` of ``directory/session.json`` when there is one (else None), so
    a log is filed under the same pseudonymous id as its session (``kintsugi forget``)."""
    return _manifest_field(directory, "participant")


def _manifest_field(directory: Path, name: str) -> str | None:
    try:
        manifest = json.loads((directory / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = manifest.get(name) if isinstance(manifest, dict) else None
    return found if isinstance(found, str) else None


class TrainingLogWriter:
    """Appends a training log (see the module docstring); never raises once training runs.

    The file must not exist yet (a log is never overwritten or appended to): that is
    checked here, before training, and raises :class:`~runtime.errors.ConfigError`. A
    failure to create or write it later is logged once, with the file and the error, and
    switches the log off (``failed``): the training job goes on.
    """

    def __init__(self, target: str | Path, header: Mapping[str, Any]) -> None:
        self.path = training_log_path(target)
        if self.path.exists():
            raise_config_error(
                f"The training log {str(self.path)!r} exists already; give a new session "
                "directory (--session DIR) or another file (log=DIR/training-2.jsonl): a log "
                "is never overwritten or appended to."
            )
        self.header = dict(header)
        self.failed = False
        self.lines_written = 0
        self._buffer: list[str] = []
        self._fd = -1
        self._last_sync = 0.0

    def open(self) -> None:
        """Create the file (and its directory) and write the header line."""
        if self._fd >= 0 or self.failed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND,
                               0o644)
        except OSError as exc:
            self._fail(exc)
            return
        header = {
            "kind": "job",
            "format": TRAINING_LOG_FORMAT,
            "session": str(self.path.parent.resolve()),
            "session_id": session_id_of(self.path.parent),
            "participant": participant_of(self.path.parent),
            **self.header,
        }
        self._buffer.append(json.dumps(header, separators=(",", ":"), default=str))
        self.flush()

    def add(self, step: TrainingStep) -> None:
        """Buffer one step line (written at the next flush)."""
        if self.failed:
            return
        self._buffer.append(json.dumps(step.to_dict(), separators=(",", ":")))
        if len(self._buffer) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        """Append the buffered lines with one write (fsync at most every SYNC_INTERVAL_S)."""
        if self.failed or self._fd < 0 or not self._buffer:
            return
        data = ("\n".join(self._buffer) + "\n").encode()
        count = len(self._buffer)
        self._buffer.clear()
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked
                view = view[os.write(self._fd, view):]
            now = time.monotonic()
            if now - self._last_sync >= SYNC_INTERVAL_S:
                os.fsync(self._fd)
                self._last_sync = now
        except OSError as exc:
            self._fail(exc)
            return
        self.lines_written += count

    def close(self, **end: Any) -> None:
        """Write the end line (``end``'s fields), flush, fsync and close; safe to call twice."""
        if self._fd >= 0 and not self.failed:
            line = {"kind": "end", "ended_at": time.time(), **end}
            self._buffer.append(json.dumps(line, separators=(",", ":"), default=str))
            self.flush()
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self._fail(exc)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _fail(self, exc: OSError) -> None:
        self.failed = True
        self._buffer.clear()
        logger.warning(
            "Biofeedback: the training log %s cannot be written (%s); training goes on "
            "without it (%d lines were written)",
            self.path, exc.strerror or exc, self.lines_written,
        )
