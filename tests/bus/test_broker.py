"""The broker: forwarding, the last-value cache for late joiners, junk that does not pass."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

from runtime.bus import Broker, BusPublisher, BusSubscriber, encode
from runtime.errors import BusError
from runtime.messages import Body, BrokerStatus, Control, RawChunk


def _wait_connected(
    publisher: BusPublisher, subscriber: BusSubscriber, topic: str, body: Body | None = None
) -> None:
    """Publish probes until the subscriber sees one (ZeroMQ connects asynchronously).

    ``body`` is the probe's typed body on a schema topic; a topic outside the schema
    takes an empty one.
    """
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        publisher.publish(topic, {} if body is None else body)
        if subscriber.recv(timeout_s=0.05) is not None:
            return
    raise AssertionError("subscriber never connected")


def _control(intensity: float, rule: str = "test") -> Control:
    return Control(
        intensity=intensity, gentle=False, rule=rule, ttl_s=1.0, issued_at=10.0,
        expires_at=11.0, safe=False,
    )


def test_messages_pass_from_publisher_to_subscriber_with_arrays(broker):
    publisher = BusPublisher(broker.publish_endpoint, "test")
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("raw.", "test."))
    try:
        _wait_connected(publisher, subscriber, "test.probe")
        data = np.random.default_rng(0).normal(size=(8, 25)).astype(np.float32)
        chunk = RawChunk(
            preset="default", fs=250.0, channels=tuple(f"E{i}" for i in range(8)),
            first_index=0, t_first=0.0, t_last=0.096,
        )
        publisher.publish("raw.eeg", chunk, array=data)
        message = subscriber.recv(timeout_s=2)
        assert message is not None and message.topic == "raw.eeg"
        assert message.data == chunk
        np.testing.assert_array_equal(message.array, data)
    finally:
        publisher.close()
        subscriber.close()


def test_late_subscriber_gets_the_last_control_at_once(broker):
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    early = BusSubscriber(broker.subscribe_endpoint, ("control",))
    try:
        _wait_connected(publisher, early, "control", _control(1.0, "probe"))
        control = _control(1.5)
        publisher.publish("control", control)
        assert early.recv(timeout_s=2).data == control
        late = BusSubscriber(broker.subscribe_endpoint, ("control",))
        message = late.recv(timeout_s=2)
        assert message is not None, "late joiner got nothing from the last-value cache"
        assert message.data == control and message.data.intensity == 1.5
        assert message.body == control.to_dict()
        # The replay also reaches the early subscriber, which drops it as a duplicate.
        assert early.recv(timeout_s=0.3) is None
        assert early.stats.duplicates >= 1
        late.close()
    finally:
        publisher.close()
        early.close()


def test_junk_frames_are_dropped_by_the_broker_and_control_keeps_flowing(broker):
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("",))
    raw = zmq.Context.instance().socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(broker.publish_endpoint)
    try:
        _wait_connected(publisher, subscriber, "control", _control(1.0, "probe"))
        # Confirm the raw socket's connection with a valid message before sending junk.
        forwarded = broker.stats.forwarded
        end = time.monotonic() + 5
        while broker.stats.forwarded == forwarded and time.monotonic() < end:
            raw.send_multipart([bytes(f) for f in encode("probe", {}, publisher="raw", seq=0)])
            time.sleep(0.05)
        for junk in ([b"control", b"{garbage"], [b"control"], [b"\x00" * 10, b"{}", b"x"]):
            raw.send_multipart(junk)
        publisher.publish("control", _control(2.0))
        deadline = time.monotonic() + 3
        got = None
        while time.monotonic() < deadline and got is None:
            message = subscriber.recv(timeout_s=0.2)
            if isinstance(message.data if message else None, Control) and (
                message.data.intensity == 2.0
            ):
                got = message
        assert got is not None
        assert broker.running
        end = time.monotonic() + 2
        while broker.stats.rejected < 3 and time.monotonic() < end:
            time.sleep(0.02)
        assert broker.stats.rejected == 3
        assert subscriber.stats.rejected == 0
        # The broker's own status is typed and reports the junk it refused.
        end = time.monotonic() + 3
        status = None
        while time.monotonic() < end and (status is None or status.rejected < 3):
            message = subscriber.recv(timeout_s=0.3)
            if message is not None and isinstance(message.data, BrokerStatus):
                status = message.data
        assert status is not None and status.rejected == 3 and status.state == "running"
        assert status.forwarded >= 1 and "version None" in status.last_error  # the last junk
    finally:
        raw.close()
        publisher.close()
        subscriber.close()


def test_sequence_gaps_are_counted_as_drops(broker):
    publisher = BusPublisher(broker.publish_endpoint, "p")
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("t",))
    try:
        _wait_connected(publisher, subscriber, "t")
        publisher.publish("t", {})
        publisher._seq["t"] += 5  # five messages that never left: a real gap on the wire
        publisher.publish("t", {})
        assert subscriber.recv(timeout_s=2) is not None
        assert subscriber.recv(timeout_s=2) is not None
        assert subscriber.stats.dropped == 5
    finally:
        publisher.close()
        subscriber.close()


def test_binding_beyond_loopback_without_keys_is_refused():
    with pytest.raises(BusError, match="kintsugi keys"):
        Broker("tcp://0.0.0.0:5599", "tcp://127.0.0.1:5600")


def test_a_taken_port_gives_a_clear_startup_error(broker):
    port = broker.publish_endpoint.rsplit(":", 1)[1]
    other = Broker(f"tcp://127.0.0.1:{port}", "tcp://127.0.0.1:*")
    with pytest.raises(BusError, match="Another daemon may be running"):
        other.start()
