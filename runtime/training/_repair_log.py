"""RepairLog: a bounded log of repair events with JSONL persistence, a summary and a plot.

The seed documents call this the "traumatic memory bank". Events are aggregates: one per
module per :meth:`GoldenRepair.collect` call, so logging costs nothing on the hot path.
With ``path`` set, every appended event is also written as one JSON line (append mode,
flushed), so a crash loses at most the line being written; :meth:`RepairLog.load` tolerates
such a torn last line.
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any, NoReturn

from runtime.checkpoint import RepairLogError, read_json_lines
from runtime.training._validate import check_positive_int

logger = logging.getLogger("runtime.training")


@dataclass(frozen=True)
class RepairEvent:
    """Repairs of one module over the forwards since the previous collection.

    ``nonfinite`` / ``outliers``: elements replaced / detected; ``guard_scaled``: samples
    whose blend the identity guard scaled back; ``entropy_limited``: samples whose outliers
    the entropy limit left alone; ``repaired_calls``: forwards with at least one fracture;
    ``min_similarity``: lowest cosine similarity (repaired vs original) before the guard;
    ``max_entropy_bits``: highest repair entropy; ``intensity``/``gentle``: control in force
    at collection; ``time``: wall-clock seconds; ``spikes``: of the ``outliers``, those so far
    out that the blend would have left them outliers, replaced by the threshold band's edge
    instead (0 in logs written before the spike rule).
    """

    step: int
    module: str
    nonfinite: int
    outliers: int
    guard_scaled: int = 0
    entropy_limited: int = 0
    repaired_calls: int = 0
    min_similarity: float | None = None
    max_entropy_bits: float = 0.0
    intensity: float = 1.0
    gentle: bool = True
    time: float = 0.0
    spikes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> RepairEvent:
        """Build from :meth:`to_dict` output; unknown keys are ignored, and ``non_finite``
        (an old spelling) is read as ``nonfinite``."""
        if not isinstance(body, dict):
            raise TypeError(f"a repair event is a JSON object, not {type(body).__name__}")
        if "non_finite" in body and "nonfinite" not in body:
            body = {**body, "nonfinite": body["non_finite"]}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in body.items() if k in known})


class RepairLog:
    """The newest ``maxlen`` repair events, optionally mirrored to a JSONL file.

    ``dropped`` counts events evicted from memory (they stay in the file).
    """

    def __init__(self, maxlen: int = 10_000, path: str | Path | None = None) -> None:
        self.maxlen = check_positive_int("maxlen", maxlen)
        self._events: deque[RepairEvent] = deque(maxlen=self.maxlen)
        self.dropped = 0
        self.path = None if path is None else Path(path)
        self._file: IO[str] | None = None

    def append(self, event: RepairEvent) -> None:
        """Add one event (and write it to ``path`` when set)."""
        if len(self._events) == self.maxlen:
            self.dropped += 1
        self._events.append(event)
        if self.path is not None:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(json.dumps(event.to_dict()) + "\n")
            self._file.flush()

    def extend(self, events: Iterable[RepairEvent]) -> None:
        """Add several events in order."""
        for event in events:
            self.append(event)

    def close(self) -> None:
        """Close the JSONL file (safe to call twice)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RepairLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[RepairEvent]:
        return iter(list(self._events))

    @property
    def events(self) -> list[RepairEvent]:
        """The events in memory, oldest first (a copy)."""
        return list(self._events)

    def save(self, path: str | Path) -> Path:
        """Write the events in memory to ``path`` as JSONL (overwriting); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as handle:
            for event in self._events:
                handle.write(json.dumps(event.to_dict()) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path, maxlen: int = 10_000) -> RepairLog:
        """Read a JSONL file; a torn (unparseable) last line is skipped with a warning.

        The lines are read by the one repair-log reader (``runtime.checkpoint``'s
        ``read_json_lines``). A malformed line anywhere else, or one that is not a repair
        event, is a real corruption and raises ``RepairLogError`` (a ConfigError) naming the
        file and the line number; a last line that is valid JSON but not an event is skipped
        with a warning, as a torn one is.
        """
        lines = read_json_lines(path, label="RepairLog.load:", component="RepairLog", log=logger)
        log = cls(maxlen=maxlen)
        last = lines.values[-1][0] if lines.values and not lines.torn else None
        for number, body in lines.values:
            try:
                event = RepairEvent.from_dict(body)
            except TypeError as exc:
                if number == last:
                    logger.warning(
                        "RepairLog: %s: skipped torn last line %d (%s)", lines.path, number, exc
                    )
                    break
                _raise_not_an_event(lines.path, number, exc)
            log.append(event)
        return log

    def summary(self) -> dict[str, Any]:
        """Totals per module and overall: repairs, guard actions, lowest similarity, steps."""
        per_module: dict[str, dict[str, Any]] = {}
        for event in self._events:
            row = per_module.setdefault(
                event.module,
                {
                    "events": 0,
                    "nonfinite": 0,
                    "outliers": 0,
                    "guard_scaled": 0,
                    "entropy_limited": 0,
                    "spikes": 0,
                    "min_similarity": None,
                    "max_entropy_bits": 0.0,
                    "first_step": event.step,
                    "last_step": event.step,
                },
            )
            row["events"] += 1
            for key in ("nonfinite", "outliers", "guard_scaled", "entropy_limited", "spikes"):
                row[key] += getattr(event, key)
            if event.min_similarity is not None:
                current = row["min_similarity"]
                row["min_similarity"] = (
                    event.min_similarity if current is None else min(current, event.min_similarity)
                )
            row["max_entropy_bits"] = max(row["max_entropy_bits"], event.max_entropy_bits)
            row["first_step"] = min(row["first_step"], event.step)
            row["last_step"] = max(row["last_step"], event.step)
        sims = [r["min_similarity"] for r in per_module.values() if r["min_similarity"] is not None]
        return {
            "events": len(self._events),
            "dropped": self.dropped,
            "repairs": sum(r["nonfinite"] + r["outliers"] for r in per_module.values()),
            "guard_scaled": sum(r["guard_scaled"] for r in per_module.values()),
            "entropy_limited": sum(r["entropy_limited"] for r in per_module.values()),
            "spikes": sum(r["spikes"] for r in per_module.values()),
            "min_similarity": min(sims) if sims else None,
            "modules": per_module,
        }

    def plot(self, path: str | Path) -> Path:
        """Save a figure of repairs per collection step, one line per module (needs matplotlib)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        by_module: dict[str, list[RepairEvent]] = {}
        for event in self._events:
            by_module.setdefault(event.module, []).append(event)
        for name, events in by_module.items():
            steps = [e.step for e in events]
            top.plot(steps, [e.nonfinite + e.outliers for e in events], marker=".", label=name)
            sims = [math.nan if e.min_similarity is None else e.min_similarity for e in events]
            bottom.plot(steps, sims, marker=".", label=name)
        top.set_ylabel("repaired elements")
        bottom.set_ylabel("min identity similarity")
        bottom.set_xlabel("step")
        if by_module:
            top.legend(fontsize="small")
        fig.tight_layout()
        target = Path(path)
        fig.savefig(target)
        plt.close(fig)
        return target


def _raise_not_an_event(source: Path, number: int, exc: Exception) -> NoReturn:
    raise RepairLogError(
        f"RepairLog.load: {str(source)!r} line {number} is not a repair event ({exc}); fix or "
        "remove that line."
    ) from exc
