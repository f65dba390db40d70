"""Typed bodies on a real bus: a bad field is refused and named, an unknown field is kept,
a newer minor version passes and a newer major does not, and a publisher refuses dicts."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest
import zmq

from runtime.bus import BusPublisher, BusSubscriber, encode
from runtime.messages import Control, StressFeature

#: A complete, valid control body as a plain dict: what a sender outside this code sends.
CONTROL = Control(
    intensity=1.2, gentle=False, rule="test", ttl_s=1.0, issued_at=10.0, expires_at=11.0,
    safe=False,
).to_dict()


def _raw_frames(topic: str, body: dict, *, seq: int = 0, version: str | None = None):
    """Frames made by hand: ``encode`` with a plain dict (no publisher check), and the
    envelope's version rewritten when ``version`` is given."""
    frames = [bytes(f) for f in encode(topic, body, publisher="raw-sender", seq=seq)]
    if version is not None:
        header = json.loads(frames[1])
        header["version"] = version
        frames[1] = json.dumps(header).encode()
    return frames


@pytest.fixture
def raw_sender(broker) -> Iterator[zmq.Socket]:
    """A bare PUB socket on the broker's publish side, its connection confirmed."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.publish_endpoint)
    forwarded = broker.stats.forwarded
    end = time.monotonic() + 5
    seq = 0
    while broker.stats.forwarded == forwarded and time.monotonic() < end:
        sock.send_multipart(_raw_frames("test.probe", {}, seq=seq))
        seq += 1
        time.sleep(0.02)
    assert broker.stats.forwarded > forwarded, "the raw sender never reached the broker"
    yield sock
    sock.close()


@pytest.fixture
def control_listener(broker) -> Iterator[BusSubscriber]:
    """A subscriber to ``control`` whose subscription the broker has registered."""
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("control", "test."))
    publisher = BusPublisher(broker.publish_endpoint, "probe")
    end = time.monotonic() + 5
    while time.monotonic() < end:
        publisher.publish("test.ready", {})
        if subscriber.recv(timeout_s=0.05) is not None:
            break
    else:
        raise AssertionError("the listener never connected")
    publisher.close()
    yield subscriber
    subscriber.close()


def _wait(condition, timeout_s: float = 3.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _receive_control(subscriber: BusSubscriber, timeout_s: float = 3.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        message = subscriber.recv(timeout_s=0.1)
        if message is not None and message.topic == "control":
            return message
    return None


def test_a_wrong_field_type_is_refused_by_the_broker_naming_topic_and_field(
    broker, raw_sender, control_listener
):
    rejected = broker.stats.rejected
    raw_sender.send_multipart(_raw_frames("control", {**CONTROL, "intensity": "high"}))
    assert _wait(lambda: broker.stats.rejected == rejected + 1), "the broker let it through"
    error = broker.stats.last_error
    assert "control" in error and "'intensity'" in error and "'high'" in error
    # It never reached a subscriber; a good control right after it does.
    raw_sender.send_multipart(_raw_frames("control", CONTROL, seq=1))
    message = _receive_control(control_listener)
    assert message is not None and message.data.intensity == 1.2
    assert control_listener.stats.rejected == 0


def test_a_wrong_field_type_is_refused_by_a_subscriber_counted_and_logged_once(caplog):
    """A subscriber checks bodies itself (here fed by a PUB socket with no broker between)."""
    caplog.set_level(logging.WARNING, logger="runtime.bus")
    context = zmq.Context.instance()
    sender = context.socket(zmq.PUB)
    sender.setsockopt(zmq.LINGER, 0)
    port = sender.bind_to_random_port("tcp://127.0.0.1")
    subscriber = BusSubscriber(f"tcp://127.0.0.1:{port}", ("control", "test."))
    try:
        end = time.monotonic() + 5
        seq = 0
        while subscriber.recv(timeout_s=0.05) is None and time.monotonic() < end:
            sender.send_multipart(_raw_frames("test.ready", {}, seq=seq))
            seq += 1
        for seq in range(3):
            bad = {**CONTROL, "gentle": "yes"}
            sender.send_multipart(_raw_frames("control", bad, seq=seq))
        sender.send_multipart(_raw_frames("control", CONTROL, seq=3))
        message = _receive_control(subscriber)
        assert message is not None and message.seq == 3 and message.data.gentle is False
        stats = subscriber.stats
        assert stats.rejected == 3
        assert "control" in stats.last_error and "'gentle'" in stats.last_error
        assert "'yes'" in stats.last_error
        warnings = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
        assert len(warnings) == 1, warnings  # once per kind, not once per message
        assert "'gentle'" in warnings[0]
    finally:
        subscriber.close()
        sender.close()


def test_an_unknown_field_is_kept_in_extra_and_the_known_fields_are_intact(
    broker, raw_sender, control_listener
):
    newer = {**CONTROL, "damping": 0.3, "notes": {"by": "v1.2 sender"}}
    raw_sender.send_multipart(_raw_frames("control", newer))
    message = _receive_control(control_listener)
    assert message is not None
    control = message.data
    assert isinstance(control, Control)
    assert control.extra == {"damping": 0.3, "notes": {"by": "v1.2 sender"}}
    assert control == Control.from_dict(CONTROL)  # extra fields do not change what it means
    assert (control.intensity, control.gentle, control.rule) == (1.2, False, "test")
    assert control.to_dict() == newer  # sent on unchanged by a relay


def test_a_newer_minor_version_is_accepted_and_a_newer_major_refused(
    broker, raw_sender, control_listener
):
    rejected = broker.stats.rejected
    raw_sender.send_multipart(_raw_frames("control", CONTROL, version="2.0"))
    raw_sender.send_multipart(_raw_frames("control", CONTROL, seq=1, version="1.9"))
    message = _receive_control(control_listener)
    assert message is not None and message.version == "1.9" and message.seq == 1
    assert message.data == Control.from_dict(CONTROL)
    assert _wait(lambda: broker.stats.rejected == rejected + 1)
    assert "version '2.0'" in broker.stats.last_error
    assert _receive_control(control_listener, timeout_s=0.3) is None  # 2.0 never came


def test_a_publisher_refuses_a_dict_on_a_schema_topic(broker):
    publisher = BusPublisher(broker.publish_endpoint, "strict")
    try:
        with pytest.raises(TypeError, match="Control") as info:
            publisher.publish("control", dict(CONTROL))
        assert "'control'" in str(info.value)
        assert publisher.next_seq("control") == 0  # nothing was sent: no gap in seq
        # A body of another topic's type is refused as well; the right type is sent.
        feature = StressFeature(
            sample_index=1, time_s=1.0, window_s=1.0, hop_s=1.0, valid=False,
            calibrated=False, reason="calibrating", quality=0.0,
        )
        with pytest.raises(TypeError, match="StressFeature"):
            publisher.publish("control", feature)
        assert publisher.publish("control", Control.from_dict(CONTROL)) == 0
        # A topic outside the schema still takes a plain mapping.
        assert publisher.publish("test.data", {"free": "form"}) == 0
    finally:
        publisher.close()
