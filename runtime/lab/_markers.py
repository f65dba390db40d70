"""Markers: a label from the experimenter, into the board's marker row and onto the bus.

A marker is published once on the ``marker`` topic as a :class:`~runtime.messages.Marker`
(``label``, ``value``, ``time``). The driver stage writes ``value`` into the board's marker
channel (``insert_marker``), the recorder keeps the message (so a session maps values back
to labels), and the LSL bridge forwards the label. BrainFlow's marker row holds numbers, so
each label gets a stable code: the same label always gives the same value, in any process,
without a registry.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from dataclasses import dataclass
from typing import Any

from runtime.errors import BusError, ConfigError
from runtime.messages import Marker, Probe

logger = logging.getLogger("runtime.lab")

MARKER_TOPIC = "marker"
#: Topic of the probe that tells a fresh PUB socket's connection is up (not cached, and
#: not matched by the driver's ``marker`` subscription).
PROBE_TOPIC = "lab.probe"
#: Marker codes are 1 … MAX_MARKER_CODE: small integers, exact in float32 and 16-bit formats.
MAX_MARKER_CODE = 65535


@dataclass(frozen=True)
class MarkerEvent:
    """A marker that reached the broker: its label, value, wall time and bus identity."""

    label: str
    value: float
    time: float
    publisher: str
    seq: int


def marker_value(label: str) -> float:
    """The stable code of ``label``: 1 … 65535, the same in every process (CRC-32 based).

    Two labels may share a code (rarely: about 1 pair in 1300 for 10 labels); the recorded
    marker messages always keep the label itself. Pass ``value=`` to choose codes yourself.
    """
    check_label(label)
    return float(zlib.crc32(label.encode("utf-8")) % MAX_MARKER_CODE + 1)


def check_label(label: str) -> str:
    """A marker label must be a non-empty string of at most 200 characters."""
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"marker label must be a non-empty string; {label!r} is invalid")
    if len(label) > 200:
        raise ConfigError(f"marker label is {len(label)} characters long; keep it to 200")
    return label


def check_value(value: float) -> float:
    """A marker value must be finite and non-zero (0 means 'no marker' in BrainFlow)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"marker value must be a number; {value!r} is invalid")
    if not math.isfinite(value) or value == 0:
        raise ConfigError(
            f"marker value must be finite and non-zero (0 means 'no marker' in BrainFlow); "
            f"{value!r} is invalid"
        )
    return float(value)


def mark(
    label: str,
    *,
    value: float | None = None,
    publish_endpoint: str | None = None,
    subscribe_endpoint: str | None = None,
    keys: Any = None,
    timeout_s: float = 5.0,
) -> MarkerEvent:
    """Publish one marker and return once the broker has forwarded it.

    ``publish_endpoint``/``subscribe_endpoint`` default to the daemon's defaults
    (``runtime.client.DEFAULT_*``); ``keys`` are :class:`runtime.bus.CurveKeys` when the bus
    uses CURVE. The marker is sent exactly once: a probe on ``lab.probe`` first confirms the
    connection (a fresh PUB socket drops what it sends before it is connected), then the
    marker, then this waits to see it come back from the broker. Raises BusError when no
    daemon answers within ``timeout_s``.
    """
    from runtime.bus import BusPublisher, BusSubscriber
    from runtime.client import DEFAULT_PUBLISH_ENDPOINT, DEFAULT_SUBSCRIBE_ENDPOINT

    check_label(label)
    code = marker_value(label) if value is None else check_value(value)
    pub_endpoint = publish_endpoint or DEFAULT_PUBLISH_ENDPOINT
    sub_endpoint = subscribe_endpoint or DEFAULT_SUBSCRIBE_ENDPOINT
    subscriber = BusSubscriber(sub_endpoint, (PROBE_TOPIC, MARKER_TOPIC), curve=keys)
    publisher = BusPublisher(pub_endpoint, "mark", curve=keys)
    try:
        deadline = time.monotonic() + timeout_s
        _wait_for_echo(subscriber, publisher, deadline, probe=True)
        marker = Marker(label=label, value=code, time=time.time())
        seq = publisher.publish(MARKER_TOPIC, marker)
        echo = _wait_for_echo(subscriber, publisher, deadline, probe=False)
        if echo is None:
            raise BusError(
                f"marker {label!r} was sent to {pub_endpoint} but did not come back from "
                f"{sub_endpoint} within {timeout_s} s; it may not have been recorded"
            )
        logger.info("mark: %r (value %g) at %.3f", label, code, marker.time)
        return MarkerEvent(label, code, marker.time, publisher.publisher_id, seq)
    finally:
        publisher.close()
        subscriber.close()


def _wait_for_echo(subscriber: Any, publisher: Any, deadline: float, *, probe: bool) -> Any:
    """Wait for our own message to come back; with ``probe``, keep sending probes meanwhile."""
    while time.monotonic() < deadline:
        if probe:
            publisher.publish(PROBE_TOPIC, Probe(component="mark"))
        message = subscriber.recv(timeout_s=0.05 if probe else 0.1)
        while message is not None:
            if message.publisher == publisher.publisher_id:
                wanted = PROBE_TOPIC if probe else MARKER_TOPIC
                if message.topic == wanted:
                    return message
            message = subscriber.recv_nowait()
    if probe:
        raise BusError(
            f"no daemon answered at {publisher.endpoint} / {subscriber.endpoint} in time: "
            "is `kintsugi run` running with these endpoints (and the same --keys)?"
        )
    return None
