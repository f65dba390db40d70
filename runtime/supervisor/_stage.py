"""How a stage runs: how it reaches the bus, and a supervisor that restarts it.

A stage is a function ``run(context)`` that loops until ``context.stop`` is set. It
creates its own sockets inside that function (ZeroMQ sockets belong to one thread). If it
raises, the supervisor reports it on ``status.<stage>`` and runs it again after an
exponential backoff with jitter; one failing stage never ends the daemon.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import zmq

from runtime.bus import BusPublisher, BusSubscriber, ReceiveStats
from runtime.errors import BusError
from runtime.messages import BusCounters, ComponentStatus, body_type

logger = logging.getLogger("runtime.stages")

#: Under tests, a stage error is re-raised after reporting so it cannot go unnoticed
#: (like mne-lsl's MNE_LSL_RAISE_STREAM_ERRORS); the daemon itself restarts the stage.
RAISE_ERRORS_ENV = "KINTSUGI_RAISE_STAGE_ERRORS"


@dataclass
class StageContext:
    """What a running stage needs: bus endpoints, its stop flag, and a place for counters."""

    name: str
    publish_endpoint: str
    subscribe_endpoint: str
    stop: threading.Event
    hwm: int = 1000
    curve: Any = None
    zmq_context: zmq.Context = field(default_factory=zmq.Context.instance)
    restarts: int = 0
    ready: threading.Event = field(default_factory=threading.Event)

    def publisher(self) -> BusPublisher:
        """A publisher for this stage (call inside the stage's thread)."""
        return BusPublisher(
            self.publish_endpoint,
            self.name,
            context=self.zmq_context,
            hwm=self.hwm,
            curve=self.curve,
        )

    def subscriber(self, topics: tuple[str, ...]) -> BusSubscriber:
        """A subscriber for this stage (call inside the stage's thread)."""
        return BusSubscriber(
            self.subscribe_endpoint,
            topics,
            context=self.zmq_context,
            hwm=self.hwm,
            curve=self.curve,
        )


def confirm_subscribed(subscriber: BusSubscriber, timeout_s: float = 10.0) -> None:
    """Return once the broker has registered ``subscriber``'s subscriptions.

    Subscribes to ``status.broker`` too: the broker's last-value cache replays it as soon
    as that subscription arrives, and subscriptions of one connection arrive in order, so
    the ones made before it are registered as well. Without this a stage could miss the
    first messages (ZeroMQ's slow joiner).
    """
    subscriber.socket.setsockopt(zmq.SUBSCRIBE, b"status.broker")
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        message = subscriber.recv(timeout_s=0.1)
        if message is not None and message.topic == "status.broker":
            break
    else:
        raise BusError(f"no answer from the broker at {subscriber.endpoint} in {timeout_s} s")
    subscriber.socket.setsockopt(zmq.UNSUBSCRIBE, b"status.broker")


def confirm_publishing(
    context: StageContext, publisher: BusPublisher, timeout_s: float = 10.0
) -> None:
    """Return once messages from ``publisher`` reach the broker's subscribers.

    A PUB socket drops what it sends before its connection is up; this sends probes on
    ``status.<stage>`` until one comes back through the broker.
    """
    topic = f"status.{context.name}"
    # The stage's own status type (DriverStatus on status.driver): the topic requires it.
    status_type = cast(type[ComponentStatus], body_type(topic))
    starting = status_type(component=context.name, state="starting")
    probe = context.subscriber((topic,))
    try:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            publisher.publish(topic, starting)
            message = probe.recv(timeout_s=0.05)
            if message is not None and message.publisher == publisher.publisher_id:
                return
        raise BusError(f"{context.name}: messages do not reach the broker within {timeout_s} s")
    finally:
        probe.close()


def bus_counters(stats: ReceiveStats) -> BusCounters:
    """A subscriber's counters as the ``bus`` field of a stage's ``status.*``."""
    return BusCounters(
        received=stats.received,
        rejected=stats.rejected,
        dropped=stats.dropped,
        duplicates=stats.duplicates,
        last_error=stats.last_error,
    )


StageFunction = Callable[[StageContext], None]


class SupervisedStage:
    """Runs a stage function in a thread and restarts it with backoff when it raises."""

    def __init__(
        self,
        context: StageContext,
        run: StageFunction,
        *,
        backoff_s: float = 0.5,
        backoff_max_s: float = 10.0,
        on_failure: Callable[[str, BaseException, float], None] | None = None,
    ) -> None:
        self.context = context
        self._run = run
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._on_failure = on_failure
        self._thread: threading.Thread | None = None
        self.failures: list[str] = []

    @property
    def name(self) -> str:
        return self.context.name

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._supervise, name=f"kintsugi-{self.name}", daemon=True
            )
            self._thread.start()

    def join(self, timeout_s: float) -> bool:
        """Wait for the stage to end; True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _supervise(self) -> None:
        delay = self._backoff_s
        stop = self.context.stop
        while not stop.is_set():
            started = time.monotonic()
            try:
                self._run(self.context)
                return  # a stage returns only when asked to stop
            except Exception as exc:
                if time.monotonic() - started > 30.0:
                    delay = self._backoff_s  # it had been healthy: start the backoff afresh
                wait = min(delay, self._backoff_max_s) * random.uniform(0.8, 1.2)
                self.failures.append(f"{type(exc).__name__}: {exc}")
                self.context.restarts += 1
                logger.exception("%s: stage failed; restarting in %.2f s", self.name, wait)
                if self._on_failure is not None:
                    self._on_failure(self.name, exc, wait)
                if os.environ.get(RAISE_ERRORS_ENV) == "1":
                    raise
                stop.wait(wait)
                delay = min(delay * 2.0, self._backoff_max_s)
