"""What the stage tests share."""

from __future__ import annotations

import time

from runtime.bus import BusPublisher, BusSubscriber

#: A topic outside the schema: its probes carry an empty body and test transport only.
PROBE_TOPIC = "test.probe"


def connect(publisher: BusPublisher, listener: BusSubscriber) -> None:
    """Publish probes on :data:`PROBE_TOPIC` until ``listener`` (subscribed to it) sees one."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        publisher.publish(PROBE_TOPIC, {})
        if listener.recv(timeout_s=0.05) is not None:
            return
    raise AssertionError("the test publisher never reached the broker")
