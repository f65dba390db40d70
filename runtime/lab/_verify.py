"""Verify that two runs of a session behaved the same: features, controls, decisions.

What is compared is what determines behaviour, exactly (floats bit for bit, as recorded):

- features: ``kind``, ``sample_index``, ``time_s``, the level, ``valid``, ``reason``;
- controls: ``seq``, ``mode``, ``intensity``, ``gentle``, ``rule``, ``safe``, ``trigger``,
  ``time_s`` (the data time);
- decisions: the whole body but ``latency_ms`` (the wall time spent deciding).

Wall-clock stamps (``publish_time``, ``issued_at``, ``expires_at``, traces) are not
compared: they differ between any two runs. Each stream is compared record by record in
recorded order; a record changed, missing or added is a difference, and the first one in
data time is reported with both values.

One asymmetry, always reported: the *other* run may go on after the reference's end (its
newest data time). A live session stopped with Ctrl-C stops with its last chunks still in
the pipeline, while its replay plays every recorded sample and then sees the file end; what
the replay has after the original's end is listed, not counted as a difference. Anything
inside the reference's span is compared, wall-clock safe controls included: a
``liveness`` or ``device`` control that one run has and the other has not is a difference.
A line of either session that could not be read is a difference too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.messages import Control, Decision, Feature
from runtime.recorder import RecordedSession, SessionRecord, load_session

__all__ = [
    "CONTROL_FIELDS",
    "FEATURE_FIELDS",
    "Comparison",
    "Difference",
    "compare_sessions",
    "compare_loaded",
    "control_view",
    "decision_view",
    "feature_view",
]

FEATURE_FIELDS = ("kind", "person", "sample_index", "time_s", "level", "valid", "reason")
CONTROL_FIELDS = (
    "seq", "mode", "intensity", "gentle", "rule", "safe", "trigger", "trigger_person", "time_s",
)
#: Decision fields that are wall-clock measurements, not behaviour.
DECISION_IGNORED = ("latency_ms",)
STREAMS = ("features", "controls", "decisions")


def feature_view(data: Any) -> dict[str, Any]:
    """The compared fields of a feature record's body."""
    if not isinstance(data, Feature):
        return {"type": type(data).__name__}
    return {name: getattr(data, name) for name in FEATURE_FIELDS}


def control_view(data: Any) -> dict[str, Any]:
    """The compared fields of a control record's body."""
    if not isinstance(data, Control):
        return {"type": type(data).__name__}
    return {name: getattr(data, name) for name in CONTROL_FIELDS}


def decision_view(data: Any) -> dict[str, Any]:
    """A decision's body without its wall-clock fields."""
    if not isinstance(data, Decision):
        return {"type": type(data).__name__}
    body = data.to_dict()
    for name in DECISION_IGNORED:
        body.pop(name, None)
    return body


_VIEWS = {"features": feature_view, "controls": control_view, "decisions": decision_view}


@dataclass(frozen=True)
class Difference:
    """The first way two runs differ: in ``stream`` at record ``index`` (0-based), at data
    time ``time_s``; ``field`` the differing field (None: a record one run lacks, or a line
    that could not be read), ``reference`` and ``other`` the two values (None: no record)."""

    stream: str
    index: int
    time_s: float | None
    field: str | None
    reference: Any
    other: Any

    def describe(self, names: tuple[str, str] = ("DIR", "OTHER")) -> str:
        """One line for a person: where, when, and both values."""
        when = "data time ?" if self.time_s is None else f"data time {self.time_s:.3f} s"
        where = f"{self.stream} #{self.index} ({when})"
        if self.field is not None:
            return (f"{where}: {self.field} is {self.reference!r} in {names[0]} and "
                    f"{self.other!r} in {names[1]}")
        if self.other is None:
            return f"{where}: {names[0]} has {self.reference!r}; {names[1]} has no such record"
        if self.reference is None:
            return f"{where}: {names[1]} has {self.other!r}; {names[0]} has no such record"
        return f"{where}: {self.reference} ({names[0]}) / {self.other} ({names[1]})"


@dataclass(frozen=True)
class Comparison:
    """How two runs compare: record counts per stream (reference, other), the first
    difference (None: they match), the reference's end (its newest data time) and what the
    other run has after it (not a difference, but shown)."""

    counts: dict[str, tuple[int, int]]
    difference: Difference | None
    end_time_s: float | None
    beyond: dict[str, int] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return self.difference is None

    def summary(self, names: tuple[str, str] = ("DIR", "OTHER")) -> list[str]:
        """Lines for a person: the counts, what lies beyond the end, the verdict."""
        lines = [
            f"{stream}: {a} in {names[0]}, {b} in {names[1]}"
            for stream, (a, b) in self.counts.items()
        ]
        extra = {s: n for s, n in self.beyond.items() if n}
        if extra:
            end = "?" if self.end_time_s is None else f"{self.end_time_s:.3f} s"
            listed = ", ".join(f"{n} {s}" for s, n in extra.items())
            lines.append(
                f"after {names[0]}'s end (data time {end}) {names[1]} goes on with {listed} "
                f"(not compared: {names[0]} stopped there)"
            )
        if self.difference is None:
            lines.append("match: the same features, controls and decisions")
        else:
            lines.append("first difference: " + self.difference.describe(names))
        return lines


def _time(record: SessionRecord) -> float | None:
    value = getattr(record.data, "time_s", None)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _end_time(session: RecordedSession) -> float | None:
    times = [t for r in (*session.features, *session.control) if (t := _time(r)) is not None]
    return max(times, default=None)


def _first_difference(
    stream: str, reference: list[SessionRecord], other: list[SessionRecord], end: float | None
) -> tuple[Difference | None, int]:
    """The first difference of one stream, and how many of ``other``'s records lie after
    the reference's end (``end``)."""
    view = _VIEWS[stream]
    for index, (a, b) in enumerate(zip(reference, other, strict=False)):
        va, vb = view(a.data), view(b.data)
        if va != vb:
            name = next(k for k in (*va, *vb) if va.get(k, _MISSING) != vb.get(k, _MISSING))
            times = [t for t in (_time(a), _time(b)) if t is not None]
            when = min(times) if times else None  # where the runs part: the earlier time
            return Difference(stream, index, when, name, va.get(name), vb.get(name)), 0
    n = len(reference)
    if len(other) < n:
        missing = reference[len(other)]
        return Difference(stream, len(other), _time(missing), None, view(missing.data), None), 0
    for index, record in enumerate(other[n:], start=n):
        t = _time(record)
        if end is None or t is None or t < end:
            return Difference(stream, index, t, None, None, view(record.data)), 0
    return None, len(other) - n


_MISSING = object()


def compare_loaded(reference: RecordedSession, other: RecordedSession) -> Comparison:
    """Compare two loaded sessions (``reference`` is the one whose end bounds the
    comparison: the original session); see the module docstring for what counts."""
    end = _end_time(reference)
    pairs = {
        "features": (reference.features, other.features),
        "controls": (reference.control, other.control),
        "decisions": (reference.decisions, other.decisions),
    }
    counts = {s: (len(a), len(b)) for s, (a, b) in pairs.items()}
    found: list[Difference] = []
    beyond: dict[str, int] = {}
    for stream, (a, b) in pairs.items():
        difference, after = _first_difference(stream, a, b, end)
        beyond[stream] = after
        if difference is not None:
            found.append(difference)
    for index, session in enumerate((reference, other)):
        for skipped in session.skipped:
            found.append(Difference(
                "unreadable", skipped.line, None, None,
                *((f"{skipped.path.name}: {skipped.reason}", "") if index == 0
                  else ("", f"{skipped.path.name}: {skipped.reason}")),
            ))
    first = min(found, key=_order) if found else None
    return Comparison(counts, first, end, {} if first is not None else beyond)


def _order(difference: Difference) -> tuple[float, int, int]:
    t = math.inf if difference.time_s is None else difference.time_s
    return (t, STREAMS.index(difference.stream) if difference.stream in STREAMS else 3,
            difference.index)


def compare_sessions(reference: Path | str, other: Path | str) -> Comparison:
    """Compare two session directories (``reference``: the original)."""
    return compare_loaded(load_session(reference, raw=False), load_session(other, raw=False))
