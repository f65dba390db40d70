"""Publisher and subscriber sockets attached to the broker.

A socket belongs to the thread that created it (ZeroMQ sockets are not thread-safe):
create a ``BusPublisher``/``BusSubscriber`` in the thread that uses it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq

from runtime.bus._envelope import Message, decode, encode
from runtime.errors import MessageError
from runtime.messages import Body, body_type

logger = logging.getLogger("runtime.bus")

RECONNECT_IVL_MS = 100
RECONNECT_IVL_MAX_MS = 2000
#: TCP keepalive finds a dead peer on a silent connection (a pulled cable on a remote
#: link): first probe after 5 s idle, then every 1 s, 3 misses.
TCP_KEEPALIVE_IDLE_S = 5
TCP_KEEPALIVE_INTVL_S = 1
TCP_KEEPALIVE_CNT = 3


def configure_socket(sock: zmq.Socket, *, hwm: int) -> None:
    """Options every bus socket gets, set before bind/connect (they apply to new pipes only).

    ZMTP heartbeats are deliberately off: with them on, a receiver whose queue reaches its
    high-water mark stops reading, its heartbeat times out, and the reconnect that follows
    can abort the whole process (libzmq 4.3.5: "Assertion failed: _input_stopped",
    zeromq/libzmq#3937, reproduced here with a stuck subscriber). Liveness is kept instead by
    TCP keepalive, by the control messages' time to live, and by status.* heartbeats;
    reconnection after a daemon or broker restart is ZeroMQ's own (the peer's close is seen).
    """
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
    sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, TCP_KEEPALIVE_IDLE_S)
    sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, TCP_KEEPALIVE_INTVL_S)
    sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, TCP_KEEPALIVE_CNT)


def new_publisher_id(component: str) -> str:
    """A publisher id: the component name plus a short random suffix (unique per run)."""
    return f"{component}-{uuid.uuid4().hex[:8]}"


class BusPublisher:
    """Publishes messages to the broker's publish endpoint, with per-topic sequence numbers.

    ``publish`` never blocks: when the send queue is full (high-water mark) the message is
    dropped and counted in ``dropped``; receivers see the gap in ``seq``.
    """

    def __init__(
        self,
        endpoint: str,
        component: str,
        *,
        context: zmq.Context | None = None,
        hwm: int = 1000,
        curve: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self.publisher_id = new_publisher_id(component)
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.PUB)
        configure_socket(self._socket, hwm=hwm)
        if curve is not None:
            curve.apply_client(self._socket)
        self._socket.connect(endpoint)
        self._seq: dict[str, int] = {}
        self.sent = 0
        self.dropped = 0

    def next_seq(self, topic: str) -> int:
        """The sequence number the next message on ``topic`` will carry."""
        return self._seq.get(topic, 0)

    def publish(
        self,
        topic: str,
        body: Body | Mapping[str, Any],
        *,
        array: np.ndarray | None = None,
        source_time: float | None = None,
        schema: str | None = None,
    ) -> int:
        """Send one message; returns its sequence number.

        ``body`` is the topic's typed body (:func:`runtime.messages.body_type`); it is
        checked as a receiver would check it, so a bad value raises here, naming the
        field, instead of being dropped by the broker. Only a topic outside the schema
        takes a plain mapping.
        """
        seq = self._seq.get(topic, 0)
        frames = encode(
            topic,
            body_json(topic, body),
            publisher=self.publisher_id,
            seq=seq,
            schema=schema,
            source_time=source_time,
            array=array,
        )
        self._seq[topic] = seq + 1  # after encoding: a body that fails leaves no seq gap
        try:
            self._socket.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1
        return seq

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        self._socket.close(linger=0)


def body_json(topic: str, body: Body | Mapping[str, Any]) -> Mapping[str, Any]:
    """The JSON body of ``body`` for ``topic``, checked against the topic's type."""
    expected = body_type(topic)
    if isinstance(body, Body):
        if expected is None or not isinstance(body, expected):
            wanted = "a plain mapping" if expected is None else expected.__name__
            raise TypeError(
                f"topic {topic!r} carries {wanted}, not {type(body).__name__}"
            )
        out = body.to_dict()
        expected.from_dict(out, topic)  # what the broker and readers will check
        return out
    if expected is not None:
        raise TypeError(
            f"topic {topic!r} carries runtime.messages.{expected.__name__}: build one "
            f"instead of a {type(body).__name__}"
        )
    return body


@dataclass
class ReceiveStats:
    """What a subscriber has seen: messages, decode errors, and drops from sequence gaps."""

    received: int = 0
    rejected: int = 0
    dropped: int = 0
    duplicates: int = 0
    last_error: str = ""
    _last_seq: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _rejected_by_kind: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "duplicates": self.duplicates,
            "last_error": self.last_error,
        }


class BusSubscriber:
    """Receives decoded messages for topic prefixes from the broker's subscribe endpoint.

    Malformed messages are dropped, counted and logged; duplicates (the broker's last-value
    cache may resend a message a subscriber already has) are dropped by ``(publisher, topic,
    seq)``; gaps in ``seq`` are counted as drops.
    """

    def __init__(
        self,
        endpoint: str,
        topics: Iterable[str] = ("",),
        *,
        context: zmq.Context | None = None,
        hwm: int = 1000,
        curve: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.SUB)
        configure_socket(self._socket, hwm=hwm)
        if curve is not None:
            curve.apply_client(self._socket)
        for topic in topics:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._socket.connect(endpoint)
        self.stats = ReceiveStats()

    @property
    def socket(self) -> zmq.Socket:
        """The underlying socket, for polling several sources at once."""
        return self._socket

    def recv(self, timeout_s: float | None = None) -> Message | None:
        """The next valid message, or None when ``timeout_s`` passes first (None: wait)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if deadline is not None:
                remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
                if not self._socket.poll(remaining_ms):
                    return None
            frames = self._socket.recv_multipart(copy=False)
            message = self._accept(frames)
            if message is not None:
                return message
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def recv_nowait(self) -> Message | None:
        """A waiting valid message, or None."""
        # Ask the socket first: a receive that finds nothing raises zmq.Again, and building
        # that exception cost a polling driver more than the rest of its marker check.
        if not self._socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            return None
        while True:
            try:
                frames = self._socket.recv_multipart(flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return None
            message = self._accept(frames)
            if message is not None:
                return message

    def _accept(self, frames: list[Any]) -> Message | None:
        stats = self.stats
        try:
            message = decode(frames)
        except MessageError as exc:
            stats.rejected += 1
            stats.last_error = str(exc)
            kind = (getattr(exc, "topic", ""), getattr(exc, "field", ""))
            count = stats._rejected_by_kind[kind] = stats._rejected_by_kind.get(kind, 0) + 1
            if count in (1, 10, 100) or count % 1000 == 0:
                logger.warning(
                    "subscriber: dropped a malformed message (%d of this kind): %s", count, exc
                )
            return None
        key = (message.publisher, message.topic)
        last = stats._last_seq.get(key)
        if last is not None:
            if message.seq <= last:
                stats.duplicates += 1
                return None
            stats.dropped += message.seq - last - 1
        stats._last_seq[key] = message.seq
        stats.received += 1
        return message

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        self._socket.close(linger=0)
