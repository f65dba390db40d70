"""Small bodies nested inside others: a subscriber's counters and a latency trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.messages._base import Body
from runtime.messages._fields import FieldReader

__all__ = ["BusCounters", "Trace"]


@dataclass(frozen=True)
class BusCounters(Body):
    """What a stage's subscriber has seen (``bus`` in its ``status.*``): messages received,
    rejected as malformed, dropped (gaps in ``seq``) and duplicates."""

    received: int = 0
    rejected: int = 0
    dropped: int = 0
    duplicates: int = 0
    last_error: str = ""

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "received": reader.integer("received", 0, low=0),
            "rejected": reader.integer("rejected", 0, low=0),
            "dropped": reader.integer("dropped", 0, low=0),
            "duplicates": reader.integer("duplicates", 0, low=0),
            "last_error": reader.string("last_error", ""),
        }


@dataclass(frozen=True)
class Trace(Body):
    """Where an estimate or control came from, for latency: the raw chunk it rests on.

    ``raw_publish_time`` is the wall clock when that chunk left the driver,
    ``raw_source_time`` the board clock of its newest sample (its BrainFlow timestamp) and
    ``raw_read_time`` the wall clock when the driver read the chunk from the board's buffer
    (the chunk's ``RawChunk.read_time``; None from an older driver or features stage).
    On a hub, a chunk from a sensor host has its three times put on the hub's clock:
    ``clock_offset_s`` is the sensor's clock minus the hub's that was taken off them (None:
    the times are the clock of the host that read the board, the hub's own or not yet known).
    """

    raw_publish_time: float | None = None
    raw_publisher: str | None = None
    raw_seq: int | None = None
    raw_source_time: float | None = None
    raw_read_time: float | None = None
    clock_offset_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.clock_offset_s is None:  # one host's times: the body is as it always was
            del out["clock_offset_s"]
        return out

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "raw_publish_time": reader.number("raw_publish_time", None, optional=True),
            "raw_publisher": reader.string("raw_publisher", None, optional=True),
            "raw_seq": reader.integer("raw_seq", None, low=0, optional=True),
            "raw_source_time": reader.number("raw_source_time", None, optional=True),
            "raw_read_time": reader.number("raw_read_time", None, optional=True),
            "clock_offset_s": reader.number("clock_offset_s", None, optional=True),
        }
