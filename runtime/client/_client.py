"""ControlClient: what a training job uses to receive control and report back.

A background thread owns the ZeroMQ sockets; the training thread only reads an immutable
``Control`` (an atomic reference swap) and appends to a bounded queue, so neither
``current()`` nor ``report()`` can block or raise because of the bus or the daemon. If the
thread's loop fails, it is logged, counted in :meth:`ControlClient.health` and started
again with backoff (new sockets; control meanwhile expires to the safe state by its TTL).
With ``KINTSUGI_RAISE_THREAD_ERRORS=1`` (tests) the failure is re-raised in the thread
instead, so a test sees it.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zmq

from runtime.bus import (
    DEFAULT_CLIENT,
    DEFAULT_PUBLISH_ENDPOINT,
    DEFAULT_SUBSCRIBE_ENDPOINT,
    BusPublisher,
    BusSubscriber,
    CurveKeys,
)
from runtime.messages import Control, ModelStatus, expire, safe_control

logger = logging.getLogger("runtime.client")

CONTROL_TOPIC = "control"
MODEL_STATUS_TOPIC = "model.status"
#: Set to 1 to re-raise a failure of the client's thread there (tests) instead of restarting.
RAISE_ENV = "KINTSUGI_RAISE_THREAD_ERRORS"
_BACKOFF_S = (0.05, 5.0)  # first and longest wait before the thread's loop starts again
_HEALTHY_S = 10.0  # a loop that ran this long resets the backoff


class ControlClient:
    """Receives ``control`` from the daemon; ``current()`` never blocks.

    ``endpoint`` is the broker's subscribe endpoint; ``publish_endpoint`` (optional) is
    where ``report()`` sends ``model.status`` (a :class:`~runtime.messages.ModelStatus`).
    ``keys``: a keys directory made by ``kintsugi keys`` (or loaded :class:`CurveKeys`)
    when the daemon runs with ``--keys``; ``key_name`` picks this client's certificate in
    it. When control expires (its TTL passes with no update: daemon gone, bus down)
    ``current()`` returns the safe state by itself. ZeroMQ reconnects on its own when the
    daemon comes back; the broker's last-value cache then hands over the current control
    at once.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_SUBSCRIBE_ENDPOINT,
        *,
        publish_endpoint: str | None = DEFAULT_PUBLISH_ENDPOINT,
        component: str = "training",
        keys: CurveKeys | str | Path | None = None,
        key_name: str = DEFAULT_CLIENT,
        report_queue: int = 64,
        start: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.publish_endpoint = publish_endpoint
        self.component = component
        self._curve = keys if isinstance(keys, CurveKeys | None) else CurveKeys.load(keys, key_name)
        self._latest: Control = safe_control("no-control-yet")
        self._received_at: float | None = None
        #: seq → time.time() when this client received that control (the newest 64).
        self._received_times: collections.OrderedDict[int, float] = collections.OrderedDict()
        self._reports: collections.deque[ModelStatus | dict[str, Any]] = collections.deque(
            maxlen=report_queue
        )
        self.reports_dropped = 0  # the oldest reports, when the queue was full
        self.reports_rejected = 0  # reports that did not validate or could not be encoded
        self.received = 0
        self.thread_errors = 0  # failures of the receive thread's loop (each one restarted)
        self.last_thread_error: str | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._context: zmq.Context | None = None
        if start:
            self.start()

    # -- training-thread API -----------------------------------------------------------------

    def current(self, now: float | None = None) -> Control:
        """The latest valid control, or the safe state when there is none or it has expired."""
        control = self._latest
        return expire(control, now) if control.expired(now) else control

    def received_time(self, seq: int) -> float | None:
        """When this client received the control with ``seq`` (``time.time()``), or None
        for one it did not receive or no longer remembers (it keeps the newest 64): what
        ``model.status`` reports as the applied control's ``received_at``."""
        return self._received_times.get(seq)

    def is_live(self, now: float | None = None) -> bool:
        """True when control from the daemon is held and has not expired."""
        return self._received_at is not None and not self._latest.expired(now)

    def health(self) -> dict[str, Any]:
        """The client's own state: thread alive, its failures (each restarted), the last
        one, and message counters. A training job can log it or put it in its status."""
        return {
            "alive": self._thread is not None and self._thread.is_alive(),
            "live": self.is_live(),
            "thread_errors": self.thread_errors,
            "last_thread_error": self.last_thread_error,
            "received": self.received,
            "reports_dropped": self.reports_dropped,
            "reports_rejected": self.reports_rejected,
        }

    def report(self, status: ModelStatus | Mapping[str, Any]) -> None:
        """Queue a ``model.status`` report; never blocks or raises (when the queue is full
        the oldest report is dropped and counted in ``reports_dropped``).

        ``status`` is a :class:`~runtime.messages.ModelStatus`. A mapping of its fields is
        still accepted (code written before the typed messages) and turned into one with
        ``ModelStatus.from_dict`` on the client's thread: one that does not validate (a
        negative ``step``, ``repairs`` that is not an object) or cannot be encoded (a NaN
        in a field of its own) is dropped there, counted in ``reports_rejected`` and logged
        naming the field.
        """
        if len(self._reports) == self._reports.maxlen:
            self.reports_dropped += 1
        if isinstance(status, Mapping):
            status = dict(status)  # a copy: the caller may change its dict after this
        self._reports.append(status)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout_s: float = 5.0) -> None:
        """Start the receiving thread (done by the constructor unless ``start=False``)."""
        if self._thread is not None:
            return
        self._context = zmq.Context()
        self._thread = threading.Thread(target=self._run, name="kintsugi-client", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"ControlClient thread did not start within {timeout_s} s")

    def close(self) -> None:
        """Stop the thread and close the sockets; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._context is not None and not self._context.closed:
            self._context.term()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        """Serve until stopped; a failed loop is logged, counted and started again."""
        backoff_s = _BACKOFF_S[0]
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._serve()
                return
            except Exception as exc:  # never take the training job down
                self.thread_errors += 1
                self.last_thread_error = f"{type(exc).__name__}: {exc}"
                self._ready.set()  # a failure while connecting must not hang start()
                if os.environ.get(RAISE_ENV) == "1":
                    raise
                if time.monotonic() - started >= _HEALTHY_S:
                    backoff_s = _BACKOFF_S[0]
                logger.exception(
                    "client: receive thread failed (%d so far); restarting in %.2f s, control "
                    "expires to safe meanwhile",
                    self.thread_errors,
                    backoff_s,
                )
                self._stop.wait(backoff_s)
                backoff_s = min(_BACKOFF_S[1], backoff_s * 2)

    def _serve(self) -> None:
        assert self._context is not None
        subscriber = BusSubscriber(
            self.endpoint, (CONTROL_TOPIC,), context=self._context, hwm=100, curve=self._curve
        )
        publisher = None
        try:
            if self.publish_endpoint:
                publisher = BusPublisher(
                    self.publish_endpoint,
                    self.component,
                    context=self._context,
                    hwm=100,
                    curve=self._curve,
                )
            self._ready.set()
            while not self._stop.is_set():
                message = subscriber.recv(timeout_s=0.05)
                while message is not None:
                    if isinstance(message.data, Control):  # validated by the subscriber
                        self._accept(message.data)
                    message = subscriber.recv_nowait()
                while publisher is not None and self._reports:
                    self._send_report(publisher, self._reports.popleft())
        finally:
            subscriber.close()
            if publisher is not None:
                publisher.close()

    def _send_report(self, publisher: BusPublisher, report: object) -> None:
        """Publish one report as a ``ModelStatus``. A mapping that does not validate, or a
        report that cannot be encoded (a NaN or an object JSON cannot carry), is dropped
        and counted, so a bad report costs that report, not the thread. The error names
        the field (a :class:`~runtime.messages.MessageFieldError` is a ValueError)."""
        try:
            status = report if isinstance(report, ModelStatus) else ModelStatus.from_dict(report)
            publisher.publish(MODEL_STATUS_TOPIC, status)
        except (TypeError, ValueError) as exc:
            self.reports_rejected += 1
            if self.reports_rejected in (1, 10, 100) or self.reports_rejected % 1000 == 0:
                logger.warning(
                    "client: dropped a model.status report that cannot be encoded (%d so "
                    "far): %s; report finite numbers, strings, lists and dicts only",
                    self.reports_rejected,
                    exc,
                )

    def _accept(self, control: Control) -> None:
        """Hold ``control`` (already validated by the subscriber: a malformed control body
        is rejected there, counted in its ``stats.rejected`` and logged once per kind)."""
        self._received_at = time.time()
        self._received_times[control.seq] = self._received_at
        while len(self._received_times) > 64:
            self._received_times.popitem(last=False)
        self._latest = control
        self.received += 1
