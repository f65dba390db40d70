"""Clock bodies: the hub's ``clock.request``, a sensor's ``clock.response`` and ``status.clock``.

A hub estimates each sensor host's clock by an NTP-style exchange (``runtime.clock``): it
stamps ``t1`` on its own clock and publishes a request; the sensor stamps ``t2`` when the
request arrives and ``t3`` just before it answers; the hub stamps ``t4`` when the answer
arrives. Offsets are *sensor minus hub*: a sensor whose clock is 250 ms ahead has
``offset_ms`` +250. All times are wall-clock seconds (``time.time()`` of that host), the
clock BrainFlow stamps samples with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.messages._base import Body
from runtime.messages._common import BusCounters
from runtime.messages._fields import FieldReader
from runtime.messages._status import ComponentStatus

__all__ = ["ClockRequest", "ClockResponse", "ClockStatus", "SensorClock"]


@dataclass(frozen=True)
class ClockRequest(Body):
    """The hub asks for a sensor's clock: ``requester`` (the hub requester's id, echoed so
    another hub ignores the answer), ``seq`` (per requester, from 0), ``t1`` (the hub's
    clock when sent, s) and ``sensor``: the sensor id that should answer, or None for every
    sensor on the bus."""

    TOPIC = "clock.request"

    requester: str
    seq: int
    t1: float
    sensor: str | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "requester": reader.string("requester"),
            "seq": reader.integer("seq", low=0),
            "t1": reader.number("t1"),
            "sensor": reader.string("sensor", None, optional=True),
        }


@dataclass(frozen=True)
class ClockResponse(Body):
    """A sensor's answer: who answers (``sensor``, its id; ``responder``, this run of the
    responder, so a restarted sensor starts a fresh estimate), the request's ``requester``,
    ``seq`` and ``t1`` echoed, ``t2`` (the sensor's clock when the request arrived, s) and
    ``t3`` (the sensor's clock just before this answer was sent, s; never before ``t2``)."""

    TOPIC = "clock.response"

    sensor: str
    responder: str
    requester: str
    seq: int
    t1: float
    t2: float
    t3: float

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        t2 = reader.number("t2")
        t3 = reader.number("t3")
        if t3 < t2:
            reader.fail("t3", t3, f"a time ≥ t2 ({t2!r}): the answer leaves after the request came")
        return {
            "sensor": reader.string("sensor"),
            "responder": reader.string("responder"),
            "requester": reader.string("requester"),
            "seq": reader.integer("seq", low=0),
            "t1": reader.number("t1"),
            "t2": t2,
            "t3": t3,
        }


@dataclass(frozen=True)
class SensorClock(Body):
    """One sensor host's clock as the hub estimates it (in ``status.clock``'s ``sensors``).

    ``offset_ms`` is sensor minus hub at hub time ``at_time`` (s), ``drift_ppm`` how fast
    the offset grows (µs per s), so a sensor time ``s`` near ``at_time`` is hub time
    ``s - offset``; ``uncertainty_ms`` bounds the offset's error (half the round trips the
    estimate rests on plus twice the fit's standard error: docs/clocks.md). ``samples``
    counts the exchanges completed, ``kept`` the lowest-delay ones the fit uses;
    ``last_rtt_ms`` and ``min_rtt_ms`` are round trips without the sensor's own time;
    ``since_exchange_s`` is the time since the last exchange.
    """

    offset_ms: float
    drift_ppm: float
    uncertainty_ms: float
    samples: int
    last_rtt_ms: float
    at_time: float
    kept: int = 0
    min_rtt_ms: float | None = None
    since_exchange_s: float | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "offset_ms": reader.number("offset_ms"),
            "drift_ppm": reader.number("drift_ppm"),
            "uncertainty_ms": reader.number("uncertainty_ms", low=0.0),
            "samples": reader.integer("samples", low=0),
            "last_rtt_ms": reader.number("last_rtt_ms", low=0.0),
            "at_time": reader.number("at_time"),
            "kept": reader.integer("kept", 0, low=0),
            "min_rtt_ms": reader.number("min_rtt_ms", None, low=0.0, optional=True),
            "since_exchange_s": reader.number("since_exchange_s", None, low=0.0, optional=True),
        }


@dataclass(frozen=True)
class ClockStatus(ComponentStatus):
    """The hub's clock requester: each sensor's clock (``sensors``: sensor id →
    :class:`SensorClock`), requests sent, responses used, ``late`` responses (past the
    longest round trip waited for, to an unknown request, or with times that cannot be one
    exchange) and its subscriber's ``bus``."""

    TOPIC = "status.clock"

    sensors: dict[str, SensorClock] = field(default_factory=dict)
    requests: int = 0
    responses: int = 0
    late: int = 0
    bus: BusCounters | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        sensors_reader = reader.nested("sensors")
        sensors: dict[str, SensorClock] = {}
        if sensors_reader is not None:
            for name in list(sensors_reader.body):
                clock = SensorClock.read_nested(sensors_reader, name)
                if clock is not None:
                    sensors[str(name)] = clock
        values.update(
            sensors=sensors,
            requests=reader.integer("requests", 0, low=0),
            responses=reader.integer("responses", 0, low=0),
            late=reader.integer("late", 0, low=0),
            bus=BusCounters.read_nested(reader, "bus"),
        )
        return values
