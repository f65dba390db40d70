"""Publishers for a driver: one that stamps the person on raw chunks, and one that sends
to a remote hub and keeps what it cannot send yet.

A sensor host has no broker: its driver publishes straight to the hub's publish endpoint.
A PUB socket would silently drop what is sent while the hub is unreachable (at start, or
during a network cut once the connection has been given up), so the uplink uses an XPUB
socket instead: the hub's broker (XSUB) subscribes to everything on each connection it
admits, after the CURVE handshake, so a subscription arriving here means "what you send
now reaches the hub", and the unsubscription ZeroMQ delivers when that connection ends
means it no longer does. In between, messages wait in order in a bounded queue and go
out, oldest first, once a hub subscribes again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
import zmq

from runtime.bus._envelope import encode
from runtime.bus._sockets import BusPublisher, body_json, configure_socket, new_publisher_id
from runtime.messages import Body, DriverStatus, RawBoardChunk, RawChunk

__all__ = ["PersonPublisher", "UplinkPublisher", "stamp_person"]

logger = logging.getLogger("runtime.bus")

#: Messages a sensor keeps while no hub is subscribed (``[bus] uplink_buffer_messages``).
DEFAULT_BUFFER_MESSAGES = 20_000


def stamp_person(body: Body | Mapping[str, Any], person: str | None) -> Body | Mapping[str, Any]:
    """``body`` with ``person`` set when it is a raw chunk or a driver's status
    (``status.driver``) that names nobody yet: whose samples, whose device."""
    stamped = RawChunk | RawBoardChunk | DriverStatus
    if person is not None and isinstance(body, stamped) and body.person is None:
        return dataclasses.replace(body, person=person)
    return body


class PersonPublisher(BusPublisher):
    """A :class:`BusPublisher` that puts ``person`` on every ``raw.*`` chunk and driver
    status it sends (:func:`stamp_person`)."""

    def __init__(self, endpoint: str, component: str, *, person: str | None, **kwargs: Any):
        super().__init__(endpoint, component, **kwargs)
        self.person = person

    def publish(
        self,
        topic: str,
        body: Body | Mapping[str, Any],
        *,
        array: np.ndarray | None = None,
        source_time: float | None = None,
        schema: str | None = None,
    ) -> int:
        return super().publish(
            topic,
            stamp_person(body, self.person),
            array=array,
            source_time=source_time,
            schema=schema,
        )


class UplinkPublisher(BusPublisher):
    """Publishes to a hub's broker over the network, keeping messages while it is away.

    ``connected`` says whether the hub's broker is subscribed (its connection admitted);
    ``waiting`` how many messages are queued for it. The queue holds at most
    ``buffer_messages``; when full the oldest is dropped and counted in ``overflowed`` (and
    ``dropped``). A full pipe to the hub (its high-water mark on a slow link) also makes
    messages wait instead of dropping them (``XPUB_NODROP``). ``person`` is stamped on
    raw chunks and driver statuses as :class:`PersonPublisher` does. Messages already
    handed to a connection that then fails are lost with it (ZeroMQ has no
    acknowledgement); TCP itself carries a short cut (about a second) without losing any.
    """

    def __init__(
        self,
        endpoint: str,
        component: str,
        *,
        context: zmq.Context | None = None,
        hwm: int = 1000,
        curve: Any = None,
        person: str | None = None,
        buffer_messages: int = DEFAULT_BUFFER_MESSAGES,
    ) -> None:
        # Not BusPublisher.__init__: it connects a PUB socket, which cannot tell whether
        # anyone receives. The attributes are the same.
        if buffer_messages < 1:
            raise ValueError(f"buffer_messages must be at least 1, not {buffer_messages}")
        self.endpoint = endpoint
        self.publisher_id = new_publisher_id(component)
        self.person = person
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.XPUB)
        configure_socket(self._socket, hwm=hwm)
        self._socket.setsockopt(zmq.XPUB_NODROP, 1)
        # A pipe only while connected: its end (the connection's) unsubscribes at once,
        # instead of a pipe kept across reconnections that hides the cut.
        self._socket.setsockopt(zmq.IMMEDIATE, 1)
        if curve is not None:
            curve.apply_client(self._socket)
        self._socket.connect(endpoint)
        self._seq: dict[str, int] = {}
        self._waiting: deque[list[Any]] = deque()
        self._buffer_messages = buffer_messages
        self.sent = 0
        self.dropped = 0
        self.overflowed = 0
        self.connected = False
        #: Times a hub subscribed (1 after the first connection; more after each rejoin).
        self.connects = 0

    @property
    def waiting(self) -> int:
        """Messages queued until a hub is subscribed."""
        return len(self._waiting)

    def publish(
        self,
        topic: str,
        body: Body | Mapping[str, Any],
        *,
        array: np.ndarray | None = None,
        source_time: float | None = None,
        schema: str | None = None,
    ) -> int:
        """Queue one message and send what the hub can take now; returns its seq."""
        seq = self._seq.get(topic, 0)
        frames = encode(
            topic,
            body_json(topic, stamp_person(body, self.person)),
            publisher=self.publisher_id,
            seq=seq,
            schema=schema,
            source_time=source_time,
            array=array,
        )
        self._seq[topic] = seq + 1
        if len(self._waiting) >= self._buffer_messages:
            self._waiting.popleft()
            self.overflowed += 1
            self.dropped += 1
            if self.overflowed in (1, 100) or self.overflowed % 10_000 == 0:
                logger.warning(
                    "uplink: %s unreachable; %d messages dropped (queue of %d full)",
                    self.endpoint,
                    self.overflowed,
                    self._buffer_messages,
                )
        self._waiting.append(frames)
        self.flush()
        return seq

    def flush(self) -> int:
        """Send queued messages while a hub is subscribed and takes them; returns how many."""
        self._watch_subscriptions()
        sent = 0
        while self.connected and self._waiting:
            try:
                self._socket.send_multipart(self._waiting[0], flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break  # the pipe is at its high-water mark: keep the rest queued
            self._waiting.popleft()
            sent += 1
        self.sent += sent
        return sent

    def _watch_subscriptions(self) -> None:
        sock = self._socket
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            event = sock.recv()
            if event[:1] == b"\x01" and not self.connected:
                self.connected = True
                self.connects += 1
                logger.info(
                    "uplink: %s subscribed; sending %d queued messages",
                    self.endpoint,
                    len(self._waiting),
                )
            elif event[:1] == b"\x00" and self.connected:
                self.connected = False
                logger.warning("uplink: connection to %s ended; queueing", self.endpoint)

    def close(self) -> None:
        """Close the socket (what is still queued is lost, and logged); safe to call twice."""
        if self._waiting and not self._socket.closed:
            logger.warning(
                "uplink: closing with %d messages never sent to %s",
                len(self._waiting),
                self.endpoint,
            )
        self._waiting.clear()
        self._socket.close(linger=0)
