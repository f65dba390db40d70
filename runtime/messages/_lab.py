"""Lab bodies: ``marker`` (an event to stamp into the recording) and ``lab.probe``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.messages._base import Body
from runtime.messages._fields import FieldReader

__all__ = ["Marker", "Probe"]


@dataclass(frozen=True)
class Marker(Body):
    """An experiment event: ``label``, its non-zero numeric code ``value`` (written into the
    board's marker channel) and ``time``, the sender's wall clock."""

    TOPIC = "marker"

    label: str
    value: float
    time: float

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        value = reader.number("value")
        if value == 0:
            reader.fail("value", value, "a non-zero number (0 means 'no marker' on a board)")
        return {"label": reader.string("label"), "value": value, "time": reader.number("time")}


@dataclass(frozen=True)
class Probe(Body):
    """A connection check (``lab.probe``): a sender waits to see it come back."""

    TOPIC = "lab.probe"

    component: str

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {"component": reader.string("component")}
