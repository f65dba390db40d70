"""The requester, on the hub: asks every sensor for its clock and keeps one estimator each.

It publishes ``clock.request`` at ``rate_hz`` (``start_rate_hz`` while a sensor that has
answered has fewer than ``start_samples`` exchanges, so a new sensor's estimate settles in
seconds), stamps ``t4`` as soon as an answer is waiting on its socket, before
decoding it, and feeds each answer to that sensor's :class:`ClockEstimator`. Every
``status_interval_s`` it publishes each sensor's offset, drift and uncertainty on
``status.clock`` (:class:`~runtime.messages.ClockStatus`), which hub stages read to put
sample times on the hub's clock (:class:`~runtime.clock.ClockMaps`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime.bus import BusPublisher, BusSubscriber
from runtime.clock._estimator import ClockEstimate, ClockEstimator
from runtime.clock._exchange import ClockExchangeError
from runtime.clock._topics import REQUEST_TOPIC, RESPONSE_TOPIC, STATUS_TOPIC
from runtime.errors import ConfigError
from runtime.messages import ClockRequest, ClockResponse, ClockStatus
from runtime.supervisor import (
    StageContext,
    bus_counters,
    confirm_publishing,
    confirm_subscribed,
)

logger = logging.getLogger("runtime.clock")

#: The longest one wait lasts before the stop flag is looked at again, s.
_MAX_WAIT_S = 0.05


@dataclass
class _SensorState:
    responder: str
    estimator: ClockEstimator
    last_t4: float


def _positive(name: str, value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not (
        math.isfinite(value) and value > 0
    ):
        raise ConfigError(f"clock requester: {name} must be a number > 0; {value!r} is invalid")
    return float(value)


class ClockRequesterStage:
    """Estimates each sensor host's clock from ``clock.request``/``clock.response``.

    ``sensors`` names the sensors to ask (one addressed request each per tick); empty asks
    every sensor on the bus with one request. ``max_round_trip_s``: an answer later than
    this is counted as ``late`` and not used. ``window_s`` and ``windows`` set each
    estimator's filter. ``clock`` is the hub's clock (``time.time``). Run it as a stage
    named ``clock`` so that its start-up probe goes to ``status.clock`` too.
    """

    def __init__(
        self,
        *,
        rate_hz: float = 4.0,
        start_rate_hz: float = 16.0,
        start_samples: int = 32,
        sensors: tuple[str, ...] = (),
        max_round_trip_s: float = 1.0,
        status_interval_s: float = 1.0,
        window_s: float = 2.0,
        windows: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_hz = _positive("rate_hz", rate_hz)
        self.start_rate_hz = _positive("start_rate_hz", start_rate_hz)
        if not isinstance(start_samples, int) or start_samples < 0:
            raise ConfigError(
                f"clock requester: start_samples must be an integer ≥ 0; {start_samples!r} "
                "is invalid"
            )
        self.start_samples = start_samples
        self.sensors = tuple(sensors)
        self.max_round_trip_s = _positive("max_round_trip_s", max_round_trip_s)
        self.status_interval_s = _positive("status_interval_s", status_interval_s)
        ClockEstimator(window_s=window_s, windows=windows)  # checks the filter settings now
        self.window_s = window_s
        self.windows = windows
        self.clock = clock
        self.requests = 0
        self.responses = 0
        self.late = 0
        self.rejected = 0
        self._states: dict[str, _SensorState] = {}
        self._pending: dict[int, float] = {}

    def __call__(self, context: StageContext) -> None:
        subscriber = context.subscriber((RESPONSE_TOPIC,))
        publisher = context.publisher()
        try:
            confirm_subscribed(subscriber)
            confirm_publishing(context, publisher)
            context.ready.set()
            self._run(context, subscriber, publisher)
        finally:
            subscriber.close()
            publisher.close()

    def estimates(self) -> dict[str, ClockEstimate]:
        """Each sensor's estimate now (call from the stage's thread, or after it ended)."""
        now = self.clock()
        out = {}
        for sensor, state in self._states.items():
            estimate = state.estimator.estimate(now)
            if estimate is not None:
                out[sensor] = estimate
        return out

    def _run(
        self, context: StageContext, subscriber: BusSubscriber, publisher: BusPublisher
    ) -> None:
        socket = subscriber.socket
        clock = self.clock
        seq = 0
        next_request = time.monotonic()
        next_status = next_request + self.status_interval_s
        while not context.stop.is_set():
            now = time.monotonic()
            if now >= next_request:
                seq = self._send_requests(publisher, seq)
                period = 1.0 / self._rate_hz()
                next_request = max(next_request + period, now)  # behind: no catch-up burst
            if now >= next_status:
                next_status = now + self.status_interval_s
                publisher.publish(STATUS_TOPIC, self._status(subscriber))
            wait_s = min(next_request, next_status, now + _MAX_WAIT_S) - time.monotonic()
            if not socket.poll(max(0, math.ceil(wait_s * 1000))):
                continue
            t4 = clock()
            message = subscriber.recv_nowait()
            while message is not None:
                if isinstance(message.data, ClockResponse):
                    self._take(message.data, t4, publisher.publisher_id)
                message = subscriber.recv_nowait()

    def _rate_hz(self) -> float:
        # Fast while a sensor that answered is still new; a hub nobody answers asks slowly.
        starting = any(s.estimator.samples < self.start_samples for s in self._states.values())
        return self.start_rate_hz if starting else self.rate_hz

    def _send_requests(self, publisher: BusPublisher, seq: int) -> int:
        horizon = self.clock() - self.max_round_trip_s
        for old in [s for s, t1 in self._pending.items() if t1 < horizon]:
            del self._pending[old]
        for sensor in self.sensors or (None,):
            t1 = self.clock()
            publisher.publish(REQUEST_TOPIC, ClockRequest(
                requester=publisher.publisher_id, seq=seq, t1=t1, sensor=sensor,
            ))
            self._pending[seq] = t1
            self.requests += 1
            seq += 1
        return seq

    def _take(self, response: ClockResponse, t4: float, requester: str) -> None:
        if response.requester != requester:
            return  # another hub's exchange
        t1 = self._pending.get(response.seq)
        if t1 is None or t1 != response.t1 or t4 - t1 > self.max_round_trip_s:
            self.late += 1
            return
        state = self._states.get(response.sensor)
        if state is None or state.responder != response.responder:
            if state is not None:
                logger.info(
                    "clock: sensor %s restarted its responder (%s): estimate starts again",
                    response.sensor, response.responder,
                )
            else:
                logger.info("clock: sensor %s answers (%s)", response.sensor, response.responder)
            state = _SensorState(
                response.responder,
                ClockEstimator(window_s=self.window_s, windows=self.windows),
                t4,
            )
            self._states[response.sensor] = state
        try:
            state.estimator.add_times(response.t1, response.t2, response.t3, t4)
        except ClockExchangeError as exc:
            self.rejected += 1
            if self.rejected in (1, 10, 100) or self.rejected % 1000 == 0:
                logger.warning("clock: sensor %s: %s (%d so far)", response.sensor, exc,
                               self.rejected)
            return
        state.last_t4 = t4
        self.responses += 1

    def _status(self, subscriber: BusSubscriber) -> ClockStatus:
        now = self.clock()
        sensors = {}
        for sensor, state in self._states.items():
            estimate = state.estimator.estimate(now)
            if estimate is not None:
                sensors[sensor] = estimate.sensor_clock(since_exchange_s=now - state.last_t4)
        return ClockStatus(
            component="clock", state="running", sensors=sensors, requests=self.requests,
            responses=self.responses, late=self.late + self.rejected,
            bus=bus_counters(subscriber.stats),
        )
