"""The broker: every publisher connects to its XSUB side, every subscriber to its XPUB side.

Besides forwarding, the broker keeps the last message of each cached topic (``control``
and ``status.*`` by default) and sends it again whenever a subscription for it arrives,
so a training job that joins late has valid control at once instead of waiting for the
next update (ZeroMQ's slow-joiner problem). Subscribers drop the resulting duplicates by
sequence number. Malformed messages are counted and dropped here, so junk sent to the
publish endpoint never reaches a subscriber.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from runtime.bus._endpoints import check_bind_allowed
from runtime.bus._envelope import decode, encode
from runtime.bus._sockets import configure_socket, new_publisher_id
from runtime.errors import BusError, MessageError
from runtime.messages import BrokerStatus

logger = logging.getLogger("runtime.bus")

DEFAULT_CACHED_PREFIXES = ("control", "status.")


@dataclass
class BrokerStats:
    """Counters of one broker run."""

    forwarded: int = 0
    rejected: int = 0
    subscriptions: int = 0
    cache_replays: int = 0
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Broker:
    """XSUB/XPUB forwarder with a last-value cache, run in its own thread.

    ``start()`` binds both endpoints (raising BusError if it cannot) and returns once the
    broker is serving; ``stop()`` is safe to call twice. With ``curve`` (a
    :class:`~runtime.bus.CurveKeys`) both sockets are CURVE servers and only authorized
    client keys are admitted. ``publish_endpoint`` and
    ``subscribe_endpoint`` hold the bound addresses (a ``*`` port is resolved).
    """

    def __init__(
        self,
        publish_endpoint: str,
        subscribe_endpoint: str,
        *,
        hwm: int = 1000,
        cached_prefixes: Sequence[str] = DEFAULT_CACHED_PREFIXES,
        curve: Any = None,
        status_interval_s: float = 1.0,
        context: zmq.Context | None = None,
    ) -> None:
        for endpoint in (publish_endpoint, subscribe_endpoint):
            check_bind_allowed(endpoint, have_keys=curve is not None)
        self.publish_endpoint = publish_endpoint
        self.subscribe_endpoint = subscribe_endpoint
        self.stats = BrokerStats()
        self._hwm = hwm
        self._cached_prefixes = tuple(p.encode() for p in cached_prefixes)
        self._curve = curve
        self._status_interval_s = status_interval_s
        # A context of its own (made in start()): CURVE's ZAP handler is per context.
        self._own_context = context is None
        self._context: zmq.Context = context  # type: ignore[assignment]
        self._cache: dict[bytes, list[bytes]] = {}
        self._publisher_id = new_publisher_id("broker")
        self._status_seq = 0
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._authenticator: Any = None

    def start(self, timeout_s: float = 5.0) -> None:
        """Bind and serve in a background thread; raises BusError if binding fails."""
        if self._thread is not None:
            return
        if self._own_context:
            self._context = zmq.Context()
        if self._curve is not None:
            # ZAP: only the authorized client keys may connect to CURVE sockets of this context.
            self._authenticator = self._curve.start_authenticator(self._context)
        self._thread = threading.Thread(target=self._run, name="kintsugi-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise BusError(f"broker did not start within {timeout_s} s")
        if self._error is not None:
            self.stop()
            raise BusError(f"broker could not start: {self._error}") from self._error

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop serving and close the sockets; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning("broker: thread did not stop within %.1f s", timeout_s)
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None
        context = self._context
        if self._own_context and context is not None and not self.running and not context.closed:
            context.term()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> tuple[zmq.Socket, zmq.Socket]:
        frontend = self._context.socket(zmq.XSUB)
        backend = self._context.socket(zmq.XPUB)
        for sock in (frontend, backend):
            configure_socket(sock, hwm=self._hwm)
            if self._curve is not None:
                self._curve.apply_server(sock)
        backend.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscription, so each can be replayed
        try:
            frontend.bind(self.publish_endpoint)
            backend.bind(self.subscribe_endpoint)
        except zmq.ZMQError as exc:
            frontend.close(linger=0)
            backend.close(linger=0)
            raise BusError(
                f"cannot bind the bus ({self.publish_endpoint}, {self.subscribe_endpoint}): "
                f"{exc}. Another daemon may be running: stop it, or choose other endpoints "
                "in the [bus] table"
            ) from exc
        self.publish_endpoint = frontend.getsockopt_string(zmq.LAST_ENDPOINT)
        self.subscribe_endpoint = backend.getsockopt_string(zmq.LAST_ENDPOINT)
        frontend.send(b"\x01")  # subscribe to everything upstream
        return frontend, backend

    def _run(self) -> None:
        try:
            frontend, backend = self._bind()
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        logger.info(
            "broker: publishers → %s, subscribers ← %s",
            self.publish_endpoint,
            self.subscribe_endpoint,
        )
        poller = zmq.Poller()
        poller.register(frontend, zmq.POLLIN)
        poller.register(backend, zmq.POLLIN)
        next_status = time.monotonic()
        try:
            while not self._stop.is_set():
                for sock, _ in poller.poll(100):
                    if sock is frontend:
                        self._forward(frontend, backend)
                    else:
                        self._subscription(backend)
                if self._status_interval_s > 0 and time.monotonic() >= next_status:
                    next_status = time.monotonic() + self._status_interval_s
                    self._publish_status(backend)
        except Exception as exc:  # keep the reason; the daemon's supervisor restarts us
            self._error = exc
            logger.exception("broker: stopped by an error")
        finally:
            frontend.close(linger=0)
            backend.close(linger=0)

    def _forward(self, frontend: zmq.Socket, backend: zmq.Socket) -> None:
        # Drain what is waiting, up to a bound, so subscriptions are not starved.
        for _ in range(1000):
            try:
                frames = frontend.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                decode(frames)
            except MessageError as exc:
                self.stats.rejected += 1
                self.stats.last_error = str(exc)
                logger.debug("broker: rejected a malformed message: %s", exc)
                continue
            topic = frames[0]
            if topic.startswith(self._cached_prefixes):
                self._cache[topic] = frames
            # XPUB never blocks: a subscriber at its high-water mark loses this message
            # (it sees the gap in seq); memory stays bounded by the high-water marks.
            backend.send_multipart(frames)
            self.stats.forwarded += 1

    def _subscription(self, backend: zmq.Socket) -> None:
        while True:
            try:
                event = backend.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            if not event or event[0] != 1:
                continue  # an unsubscription
            self.stats.subscriptions += 1
            prefix = event[1:]
            for topic, frames in list(self._cache.items()):
                if topic.startswith(prefix):
                    backend.send_multipart(frames)
                    self.stats.cache_replays += 1

    def _publish_status(self, backend: zmq.Socket) -> None:
        stats = self.stats
        status = BrokerStatus(
            component="broker",
            state="running",
            forwarded=stats.forwarded,
            rejected=stats.rejected,
            subscriptions=stats.subscriptions,
            cache_replays=stats.cache_replays,
            last_error=stats.last_error,
        )
        frames = encode(
            "status.broker", status.to_dict(), publisher=self._publisher_id, seq=self._status_seq
        )
        self._status_seq += 1
        self._cache[b"status.broker"] = [bytes(f) for f in frames]
        backend.send_multipart(frames)
