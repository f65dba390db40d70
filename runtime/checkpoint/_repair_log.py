"""The one reader of repair logs (JSONL, one JSON object per line).

:func:`read_json_lines` reads the lines, once for every caller: blank lines skipped, a torn
last line skipped with a warning, corruption anywhere else an error naming the file and
line. On top of it, :func:`read_repair_log` turns the objects into records art-therapy can
draw, and ``runtime.training.RepairLog.load`` into ``RepairEvent``s (the writer,
``RepairLog``, stays in ``runtime.training``).

Accepted record shapes (unknown keys are ignored in both):

1. One fracture kind per line::

       {"tensor": "encoder.0.weight", "kind": "outlier", "count": 3, "step": 120}
       {"module": "encoder.0", "kind": "nonfinite", "index": [4, 17], "step": 121}

   ``tensor`` or ``module`` (or ``name``) names where it happened; ``kind`` is any string
   (the checkpoint kinds are drawn with their own seam style, others as plain seams; the
   old spelling ``non_finite`` is read as ``nonfinite``);
   ``count`` (default 1) or ``index`` (an int or a list of ints) says how many or where;
   ``step`` is optional (the line number is used without it); ``numel`` or ``shape``, if
   present, place an ``index`` inside its tile (and size the tile).
2. The aggregate events of ``runtime.training.RepairLog`` (``RepairEvent.to_dict()``)::

       {"step": 40, "module": "blocks.1.mlp", "nonfinite": 2, "outliers": 17, ...}

   which become a ``nonfinite`` record with ``count = nonfinite`` and an ``outlier``
   record with ``count = outliers`` (zero counts are dropped; a ``non_finite`` count, the
   old spelling, is read as ``nonfinite``).

A blank line is skipped. A last (non-blank) line that is not valid JSON is a torn write
(the writer died mid-line) and is skipped with a warning. Invalid JSON on any other line is
corruption and raises :class:`RepairLogError` (a :class:`CheckpointError` and a
``ConfigError``) naming the file and line. In :func:`read_repair_log`, a valid JSON object
that is not a repair record (no name, or neither ``kind`` nor the aggregate counts) is
skipped and counted in :attr:`RepairLogData.ignored`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.checkpoint._errors import RepairLogError

logger = logging.getLogger("runtime.checkpoint")

_NAME_KEYS = ("tensor", "module", "name")
# Count keys of an aggregate event (the first spelling is the one written) → record kind.
_AGGREGATE_KEYS = ((("nonfinite", "non_finite"), "nonfinite"), (("outliers",), "outlier"))
# Old spellings of kinds, read as the current one.
_KIND_ALIASES = {"non_finite": "nonfinite"}


@dataclass(frozen=True)
class RepairRecord:
    """Repairs of one kind at one place and step."""

    tensor: str
    kind: str
    count: int
    step: int
    index: tuple[int, ...] | None = None
    shape: tuple[int, ...] | None = None


@dataclass
class RepairLogData:
    """The records of a log, plus what was skipped (``ignored`` objects, ``torn`` last line)."""

    path: Path
    records: list[RepairRecord] = field(default_factory=list)
    ignored: int = 0
    torn: bool = False

    @property
    def repairs(self) -> int:
        """Total repaired elements over all records."""
        return sum(r.count for r in self.records)


@dataclass
class JsonLines:
    """The JSON values of a JSONL file with their (1-based) line numbers, and whether a
    torn last line was skipped."""

    path: Path
    values: list[tuple[int, Any]] = field(default_factory=list)
    torn: bool = False


def read_json_lines(
    path: str | os.PathLike[str],
    *,
    label: str = "--input",
    component: str = "repair log reader",
    log: logging.Logger = logger,
) -> JsonLines:
    """Read a JSONL repair log's lines as JSON values (see the module docstring).

    ``label`` names the file in errors (the CLI flag, or the Python call); ``component``
    and ``log`` are where the warning about a torn last line goes.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RepairLogError(
            f"{label} {str(source)!r} cannot be read as a UTF-8 JSONL repair log: {exc}."
        ) from exc
    lines = text.splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    data = JsonLines(source)
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            data.values.append((number + 1, json.loads(line)))
        except json.JSONDecodeError as exc:
            if number == last:
                log.warning(
                    "%s: %s: skipped torn last line %d (%s)", component, source, number + 1, exc.msg
                )
                data.torn = True
                continue
            raise RepairLogError(
                f"{label} {str(source)!r} line {number + 1} is not JSON ({exc.msg}); a repair "
                "log has one JSON object per line. Fix or delete that line."
            ) from exc
    return data


def read_repair_log(path: str | os.PathLike[str]) -> RepairLogData:
    """Parse a JSONL repair log (see the module docstring for the accepted shapes)."""
    lines = read_json_lines(path)
    data = RepairLogData(lines.path, torn=lines.torn)
    for number, body in lines.values:
        records = _records_from(body, number)
        if records is None:
            data.ignored += 1
            continue
        data.records.extend(records)
    if data.ignored:
        logger.warning(
            "repair log reader: %s: ignored %d JSON lines that are not repair records",
            data.path,
            data.ignored,
        )
    return data


def _records_from(body: Any, line_number: int) -> list[RepairRecord] | None:
    if not isinstance(body, dict):
        return None
    name = next((body[k] for k in _NAME_KEYS if isinstance(body.get(k), str)), None)
    if not name:
        return None
    step = _as_int(body.get("step"), line_number)
    shape = _shape(body)
    if isinstance(body.get("kind"), str):
        index = _index(body.get("index"))
        count = _as_int(body.get("count"), 1)
        if count < 1:
            return []
        kind = _KIND_ALIASES.get(body["kind"], body["kind"])
        return [RepairRecord(name, kind, count, step, index, shape)]
    if not any(key in body for keys, _ in _AGGREGATE_KEYS for key in keys):
        return None
    records = []
    for keys, kind in _AGGREGATE_KEYS:
        key = next((k for k in keys if k in body), keys[0])
        count = _as_int(body.get(key), 0)
        if count > 0:
            records.append(RepairRecord(name, kind, count, step, None, shape))
    return records


def _as_int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return int(value)


def _index(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return tuple(value)
    return None


def _shape(body: dict[str, Any]) -> tuple[int, ...] | None:
    shape = body.get("shape")
    if (
        isinstance(shape, list)
        and shape
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        return tuple(shape)
    numel = body.get("numel")
    if isinstance(numel, int) and not isinstance(numel, bool) and numel > 0:
        return (numel,)
    return None
