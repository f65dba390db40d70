"""``status.<component>`` bodies: each component's state and counters, as heartbeats.

Every status has ``component`` and ``state``; a supervisor's restart report adds
``error`` and ``retry_in_s``. The per-component types add that component's counters;
a component without its own type (a new stage) is read as :class:`ComponentStatus`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.messages._base import Body
from runtime.messages._common import BusCounters
from runtime.messages._fields import FieldReader
from runtime.messages._person import read_person, write_person

__all__ = [
    "BrokerStatus",
    "ComponentStatus",
    "ControllerStatus",
    "DaemonStatus",
    "DriverStatus",
    "FeaturesStatus",
    "LatencySummary",
    "RecorderStatus",
    "StageHealth",
    "status_component",
    "status_type",
]


@dataclass(frozen=True)
class ComponentStatus(Body):
    """What every ``status.*`` carries: who, in which state, and the last failure if any."""

    TOPIC = "status.*"

    component: str
    state: str
    error: str | None = None
    retry_in_s: float | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "component": reader.string("component"),
            "state": reader.string("state"),
            "error": reader.string("error", None, optional=True),
            "retry_in_s": reader.number("retry_in_s", None, low=0.0, optional=True),
        }


@dataclass(frozen=True)
class DriverStatus(ComponentStatus):
    """The driver: ``state`` is ``opening``, ``streaming``, ``stalled``, ``lost``,
    ``reconnecting``, ``ended`` or ``stopped``; samples and board drops per preset;
    ``since_data_s`` since the last sample; ``presets`` each preset's row layout.
    ``person``: the pseudonymous id of the person the board is on (``[source] person``),
    so a controller fed by several sources knows whose device it is; None (left off the
    wire) when the config names nobody. A daemon with several sources reports each on
    ``status.driver-<person>`` (the stage's name), one topic per source."""

    TOPIC = "status.driver"

    board: str | None = None
    samples: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    since_data_s: float | None = None
    presets: dict[str, Any] = field(default_factory=dict)
    person: str | None = None

    @property
    def streaming(self) -> bool:
        return self.state == "streaming"

    def to_dict(self) -> dict[str, Any]:
        return write_person(super().to_dict(), "person")

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        values.update(
            board=reader.string("board", None, optional=True),
            samples=reader.int_map("samples", {}),
            dropped=reader.int_map("dropped", {}),
            since_data_s=reader.number("since_data_s", None, low=0.0, optional=True),
            presets=reader.mapping("presets", {}),
            person=read_person(reader, "person"),
        )
        return values


@dataclass(frozen=True)
class FeaturesStatus(ComponentStatus):
    """The feature stage: estimates published, NaN-filled gap samples, chunks rejected;
    ``people``: the persons it keeps estimators for (empty in a single-person session)."""

    TOPIC = "status.features"

    attention: int = 0
    stress: int = 0
    gap_samples: int = 0
    rejected: int = 0
    bus: BusCounters | None = None
    people: tuple[str, ...] = ()

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        values.update(
            attention=reader.integer("attention", 0, low=0),
            stress=reader.integer("stress", 0, low=0),
            gap_samples=reader.integer("gap_samples", 0, low=0),
            rejected=reader.integer("rejected", 0, low=0),
            bus=BusCounters.read_nested(reader, "bus"),
            people=reader.strings("people", ()),
        )
        return values


@dataclass(frozen=True)
class LatencySummary(Body):
    """Percentiles (ms) of ``n`` latencies."""

    p50: float
    p99: float
    n: int

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "p50": reader.number("p50", low=0.0),
            "p99": reader.number("p99", low=0.0),
            "n": reader.integer("n", low=0),
        }


@dataclass(frozen=True)
class ControllerStatus(ComponentStatus):
    """The controller: its mode and the sample→applied latency training jobs report."""

    TOPIC = "status.controller"

    mode: str | None = None
    bus: BusCounters | None = None
    applied_latency_ms: LatencySummary | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        values.update(
            mode=reader.string("mode", None, optional=True),
            bus=BusCounters.read_nested(reader, "bus"),
            applied_latency_ms=LatencySummary.read_nested(reader, "applied_latency_ms"),
        )
        return values


@dataclass(frozen=True)
class BrokerStatus(ComponentStatus):
    """The broker: messages forwarded and rejected, subscriptions, cache re-sends."""

    TOPIC = "status.broker"

    forwarded: int = 0
    rejected: int = 0
    subscriptions: int = 0
    cache_replays: int = 0
    last_error: str = ""

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        values.update(
            forwarded=reader.integer("forwarded", 0, low=0),
            rejected=reader.integer("rejected", 0, low=0),
            subscriptions=reader.integer("subscriptions", 0, low=0),
            cache_replays=reader.integer("cache_replays", 0, low=0),
            last_error=reader.string("last_error", ""),
        )
        return values


@dataclass(frozen=True)
class StageHealth(Body):
    """One supervised stage in ``status.daemon``: alive, restarts, last failure."""

    alive: bool
    restarts: int = 0
    last_failure: str | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "alive": reader.boolean("alive"),
            "restarts": reader.integer("restarts", 0, low=0),
            "last_failure": reader.string("last_failure", None, optional=True),
        }


@dataclass(frozen=True)
class DaemonStatus(ComponentStatus):
    """The daemon: its endpoints, each stage's health, the broker's counters."""

    TOPIC = "status.daemon"

    publish_endpoint: str | None = None
    subscribe_endpoint: str | None = None
    stages: dict[str, StageHealth] = field(default_factory=dict)
    broker: dict[str, Any] = field(default_factory=dict)
    broker_restarts: int = 0

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        stages_reader = reader.nested("stages")
        stages: dict[str, StageHealth] = {}
        if stages_reader is not None:
            for name in list(stages_reader.body):
                health = StageHealth.read_nested(stages_reader, name)
                if health is not None:
                    stages[str(name)] = health
        values.update(
            publish_endpoint=reader.string("publish_endpoint", None, optional=True),
            subscribe_endpoint=reader.string("subscribe_endpoint", None, optional=True),
            stages=stages,
            broker=reader.mapping("broker", {}),
            broker_restarts=reader.integer("broker_restarts", 0, low=0),
        )
        return values


@dataclass(frozen=True)
class RecorderStatus(ComponentStatus):
    """The recorder: where, samples written and lost per preset, messages and bytes;
    ``event`` names a recorder event (a gap, a file problem) when there is one."""

    TOPIC = "status.recorder"

    directory: str | None = None
    samples: dict[str, int] = field(default_factory=dict)
    lost_samples: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    bytes: int = 0
    bus: BusCounters | None = None
    event: str | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        samples = reader.body.get("samples")
        if isinstance(samples, int) and reader.body.get("event") == "lost":
            # Recordings made before schema 1.1 wrote a gap's size as "samples": keep it
            # readable, as the field its successor writes (an extra field).
            reader.body = {**reader.body, "missed_samples": samples}
            reader.body.pop("samples")
        values.update(
            directory=reader.string("directory", None, optional=True),
            samples=reader.int_map("samples", {}),
            lost_samples=reader.int_map("lost_samples", {}),
            messages=reader.integer("messages", 0, low=0),
            bytes=reader.integer("bytes", 0, low=0),
            bus=BusCounters.read_nested(reader, "bus"),
            event=reader.string("event", None, optional=True),
        )
        return values


_BY_COMPONENT: dict[str, type[ComponentStatus]] = {
    cls.TOPIC.removeprefix("status."): cls
    for cls in (DriverStatus, FeaturesStatus, ControllerStatus, BrokerStatus, DaemonStatus,
                RecorderStatus)
}


#: The stage name of one source of several (``driver-P01``): its status is a DriverStatus.
DRIVER_STAGE_PREFIX = "driver-"


def status_component(topic: str, status: ComponentStatus) -> str:
    """The name a status is shown under: its topic's component (``driver``,
    ``driver-P01``), or for a driver status of a person on the shared ``status.driver``
    (sensor hosts feeding one hub) ``driver-<person>``, so each person's device is kept
    apart."""
    component = topic.removeprefix("status.")
    if component == "driver" and isinstance(status, DriverStatus) and status.person:
        return f"{DRIVER_STAGE_PREFIX}{status.person}"
    return component


def status_type(topic: str) -> type[ComponentStatus]:
    """The body type of ``status.<component>`` (``status.driver-<person>``: a driver's)."""
    component = topic.removeprefix("status.")
    if component.startswith(DRIVER_STAGE_PREFIX):
        return DriverStatus
    return _BY_COMPONENT.get(component, ComponentStatus)
