"""The responder, on a sensor host: answers the hub's clock requests addressed to it.

It stamps ``t2`` as soon as a request is waiting on its socket, before decoding it, and
``t3`` just before it publishes the answer, so the time the sensor spends in between is
taken out of the round trip. The answer's own encoding after ``t3`` is the mirror of the
request's after ``t1`` on the hub, so the two cancel in the offset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from runtime.clock._topics import REQUEST_TOPIC, RESPONSE_TOPIC
from runtime.errors import ConfigError
from runtime.messages import ClockRequest, ClockResponse
from runtime.supervisor import StageContext, confirm_subscribed

logger = logging.getLogger("runtime.clock")

#: How long one wait for a request lasts before the stop flag is looked at again, ms.
_POLL_MS = 50


class ClockResponderStage:
    """Answers ``clock.request`` for ``sensor`` (or for every sensor) on ``clock.response``.

    ``clock`` is this host's clock (``time.time``, the clock BrainFlow stamps samples
    with); a test injects an offset and drift through it. ``answered`` and ``ignored``
    (requests addressed to another sensor) count what it did.
    """

    def __init__(self, sensor: str, *, clock: Callable[[], float] = time.time) -> None:
        if not isinstance(sensor, str) or not sensor.strip():
            raise ConfigError(
                f"clock responder: sensor must be a non-empty id (the person or key name, "
                f"e.g. 'P01'); {sensor!r} is invalid"
            )
        self.sensor = sensor
        self.clock = clock
        self.answered = 0
        self.ignored = 0

    def __call__(self, context: StageContext) -> None:
        subscriber = context.subscriber((REQUEST_TOPIC,))
        publisher = context.publisher()
        try:
            confirm_subscribed(subscriber)
            context.ready.set()
            logger.info("%s: answering clock requests for sensor %s", context.name, self.sensor)
            socket = subscriber.socket
            clock = self.clock
            while not context.stop.is_set():
                if not socket.poll(_POLL_MS):
                    continue
                t2 = clock()
                message = subscriber.recv_nowait()
                if message is None or not isinstance(message.data, ClockRequest):
                    continue
                request = message.data
                if request.sensor is not None and request.sensor != self.sensor:
                    self.ignored += 1
                    continue
                publisher.publish(RESPONSE_TOPIC, ClockResponse(
                    sensor=self.sensor, responder=publisher.publisher_id,
                    requester=request.requester, seq=request.seq, t1=request.t1,
                    t2=t2, t3=clock(),
                ))
                self.answered += 1
        finally:
            subscriber.close()
            publisher.close()
