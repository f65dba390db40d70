"""Typed message bodies: one frozen dataclass per bus topic, standard library only.

Every publisher builds one of these and every subscriber reads one (``Message.data``);
nothing outside this package looks into a raw body dict. ``to_dict()`` gives the JSON
body; ``from_dict()`` validates one and raises :class:`MessageFieldError` (a
``MessageError``) naming the topic, the field, the value and what was expected. Fields a
newer minor version adds are kept in ``extra`` and sent on, never interpreted.
"""

from runtime.errors import MessageError
from runtime.messages._base import Body
from runtime.messages._clock import ClockRequest, ClockResponse, ClockStatus, SensorClock
from runtime.messages._common import BusCounters, Trace
from runtime.messages._control import (
    BASELINE_INTENSITY,
    CONTROL_MODES,
    Control,
    expire,
    safe_control,
)
from runtime.messages._decision import Decision, to_jsonable
from runtime.messages._features import AttentionFeature, Feature, StressFeature
from runtime.messages._fields import FieldReader, MessageFieldError
from runtime.messages._lab import Marker, Probe
from runtime.messages._model import AppliedControl, GuardMargins, ModelStatus, RepairCounts
from runtime.messages._raw import RAW_TOPICS, RawBoardChunk, RawChunk, person_id_problem
from runtime.messages._registry import SCHEMA_VERSION, TOPIC_TYPES, body_type, parse_body
from runtime.messages._status import (
    BrokerStatus,
    ComponentStatus,
    ControllerStatus,
    DaemonStatus,
    DriverStatus,
    FeaturesStatus,
    LatencySummary,
    RecorderStatus,
    StageHealth,
    status_component,
    status_type,
)

__all__ = [
    "BASELINE_INTENSITY",
    "CONTROL_MODES",
    "RAW_TOPICS",
    "SCHEMA_VERSION",
    "TOPIC_TYPES",
    "AppliedControl",
    "AttentionFeature",
    "Body",
    "BrokerStatus",
    "BusCounters",
    "ClockRequest",
    "ClockResponse",
    "ClockStatus",
    "ComponentStatus",
    "Control",
    "ControllerStatus",
    "DaemonStatus",
    "Decision",
    "DriverStatus",
    "Feature",
    "FeaturesStatus",
    "FieldReader",
    "GuardMargins",
    "LatencySummary",
    "Marker",
    "MessageError",
    "MessageFieldError",
    "ModelStatus",
    "Probe",
    "RawBoardChunk",
    "RawChunk",
    "RecorderStatus",
    "RepairCounts",
    "SensorClock",
    "StageHealth",
    "person_id_problem",
    "status_component",
    "status_type",
    "StressFeature",
    "Trace",
    "body_type",
    "expire",
    "parse_body",
    "safe_control",
    "to_jsonable",
]
