"""Which body type travels on which topic, and the schema version of them all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.messages._base import Body
from runtime.messages._clock import ClockRequest, ClockResponse, ClockStatus
from runtime.messages._control import Control
from runtime.messages._decision import Decision
from runtime.messages._features import AttentionFeature, StressFeature
from runtime.messages._lab import Marker, Probe
from runtime.messages._model import ModelStatus
from runtime.messages._raw import RawBoardChunk, RawChunk
from runtime.messages._status import status_type

__all__ = ["SCHEMA_VERSION", "TOPIC_TYPES", "body_type", "parse_body"]

#: The version of the message schema, carried in every envelope as ``version``. A reader
#: accepts any minor version of its major: a newer minor may add fields (kept as extra),
#: never change or remove one.
SCHEMA_VERSION = "1.1"

#: Topics with one fixed body type. ``raw.<signal>``, ``raw.board.<preset>`` and
#: ``status.<component>`` are families (see :func:`body_type`).
TOPIC_TYPES: Mapping[str, type[Body]] = {
    cls.TOPIC: cls
    for cls in (AttentionFeature, StressFeature, Control, Decision, ModelStatus, Marker, Probe,
                ClockRequest, ClockResponse, ClockStatus)
}


def body_type(topic: str) -> type[Body] | None:
    """The body type of ``topic``; None for a topic outside the schema (a user's own)."""
    fixed = TOPIC_TYPES.get(topic)
    if fixed is not None:
        return fixed
    if topic.startswith("raw.board."):
        return RawBoardChunk
    if topic.startswith("raw."):
        return RawChunk
    if topic.startswith("status."):
        return status_type(topic)
    return None


def parse_body(topic: str, body: Mapping[str, Any]) -> Body | None:
    """The typed body of a message on ``topic`` (None for a topic outside the schema).

    Raises :class:`~runtime.messages.MessageFieldError` naming the topic and field.
    """
    cls = body_type(topic)
    return None if cls is None else cls.from_dict(body, topic)
