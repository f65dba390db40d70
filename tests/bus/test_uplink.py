"""The sensor's uplink: messages wait while no hub is subscribed and arrive in order once one
is; the person is stamped on raw chunks; an unknown key never connects."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from runtime.bus import (
    Broker,
    BusPublisher,
    BusSubscriber,
    CurveKeys,
    PersonPublisher,
    UplinkPublisher,
    check_connect_allowed,
    hub_subscribe_endpoint,
    make_keys,
)
from runtime.errors import BusError
from runtime.messages import MessageError, RawChunk, safe_control
from runtime.stages import confirm_subscribed
from tests.conftest import free_tcp_port

SAMPLES = 10


def _chunk(i: int) -> RawChunk:
    return RawChunk(preset="default", fs=250.0, channels=("C1",), first_index=i * SAMPLES)


def _publish(uplink: UplinkPublisher, first: int, count: int) -> None:
    for i in range(first, first + count):
        uplink.publish("raw.eeg", _chunk(i), array=np.zeros((1, SAMPLES), np.float32))


def _drain(uplink: UplinkPublisher, subscriber: BusSubscriber, want: int, timeout_s=10.0):
    """Flush the uplink until ``want`` raw chunks arrived (or time is up); returns them."""
    got = []
    end = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < end:
        uplink.flush()
        message = subscriber.recv(timeout_s=0.02)
        if message is not None and message.topic == "raw.eeg":
            got.append(message.data)
    return got


def _hub(pub_port: int, sub_port: int, curve=None) -> Broker:
    broker = Broker(
        f"tcp://127.0.0.1:{pub_port}", f"tcp://127.0.0.1:{sub_port}",
        status_interval_s=0.2, curve=curve,
    )
    broker.start()
    return broker


def test_messages_sent_before_the_hub_exists_arrive_in_order_with_the_person():
    pub_port, sub_port = free_tcp_port(), free_tcp_port()
    uplink = UplinkPublisher(f"tcp://127.0.0.1:{pub_port}", "driver", person="P01")
    try:
        _publish(uplink, 0, 50)
        assert not uplink.connected and uplink.waiting == 50 and uplink.sent == 0
        broker = _hub(pub_port, sub_port)
        subscriber = BusSubscriber(broker.subscribe_endpoint, ("raw.",))
        try:
            confirm_subscribed(subscriber)
            got = _drain(uplink, subscriber, 50)
            assert [c.first_index for c in got] == [i * SAMPLES for i in range(50)]
            assert {c.person for c in got} == {"P01"}
            assert uplink.connected and uplink.connects == 1 and uplink.waiting == 0
            assert uplink.sent == 50 and uplink.dropped == 0
        finally:
            subscriber.close()
            broker.stop()
    finally:
        uplink.close()


def test_a_hub_that_goes_away_and_comes_back_gets_everything_sent_meanwhile():
    pub_port, sub_port = free_tcp_port(), free_tcp_port()
    broker = _hub(pub_port, sub_port)
    uplink = UplinkPublisher(broker.publish_endpoint, "driver", person="P02")
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("raw.",))
    try:
        confirm_subscribed(subscriber)
        _publish(uplink, 0, 5)
        assert [c.first_index for c in _drain(uplink, subscriber, 5)] == [0, 10, 20, 30, 40]
        subscriber.close()
        broker.stop()
        end = time.monotonic() + 5
        while uplink.connected and time.monotonic() < end:  # the unsubscription arrives
            uplink.flush()
            time.sleep(0.02)
        assert not uplink.connected
        _publish(uplink, 5, 20)
        assert uplink.waiting == 20
        broker = _hub(pub_port, sub_port)
        subscriber = BusSubscriber(broker.subscribe_endpoint, ("raw.",))
        confirm_subscribed(subscriber)
        got = _drain(uplink, subscriber, 20)
        assert [c.first_index for c in got] == [i * SAMPLES for i in range(5, 25)]
        assert uplink.connects == 2 and uplink.overflowed == 0
    finally:
        subscriber.close()
        broker.stop()
        uplink.close()


def test_a_full_queue_drops_the_oldest_and_counts_them():
    uplink = UplinkPublisher(f"tcp://127.0.0.1:{free_tcp_port()}", "driver", buffer_messages=10)
    try:
        _publish(uplink, 0, 10)
        assert uplink.waiting == 10 and uplink.overflowed == 0 and uplink.dropped == 0
        _publish(uplink, 10, 5)
        assert uplink.waiting == 10 and uplink.overflowed == 5 and uplink.dropped == 5
    finally:
        uplink.close()


def test_an_unknown_key_never_connects_and_nothing_reaches_the_hub(tmp_path):
    make_keys(tmp_path / "hub", ("client",))
    make_keys(tmp_path / "stranger", ("sensor1",))
    hub_keys = CurveKeys.load(tmp_path / "hub")
    broker = _hub(free_tcp_port(), free_tcp_port(), curve=hub_keys)
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("raw.",), curve=hub_keys)
    # The stranger knows the hub's public key but its own key is not authorized there.
    own = CurveKeys.load(tmp_path / "stranger", "sensor1")
    stranger = dataclasses.replace(own, server_public=hub_keys.server_public)
    uplink = UplinkPublisher(broker.publish_endpoint, "driver", curve=stranger)
    try:
        confirm_subscribed(subscriber)
        _publish(uplink, 0, 10)
        assert _drain(uplink, subscriber, 1, timeout_s=2.0) == []
        assert not uplink.connected and uplink.waiting == 10 and broker.stats.forwarded == 0
    finally:
        uplink.close()
        subscriber.close()
        broker.stop()


def test_the_person_publisher_stamps_raw_chunks_only(broker):
    publisher = PersonPublisher(broker.publish_endpoint, "driver", person="P07")
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("raw.", "control"))
    try:
        confirm_subscribed(subscriber)
        got = {}
        end = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < end:
            publisher.publish("raw.eeg", _chunk(0), array=np.zeros((1, 1), np.float32))
            publisher.publish("raw.ppg", RawChunk(
                preset="default", fs=25.0, channels=("PPG1",), first_index=0, person="P99"
            ), array=np.zeros((1, 1), np.float32))
            publisher.publish("control", safe_control("test"))
            message = subscriber.recv(timeout_s=0.05)
            while message is not None:
                got[message.topic] = message.data
                message = subscriber.recv(timeout_s=0.0)
        assert got["raw.eeg"].person == "P07"
        assert got["raw.ppg"].person == "P99"  # a chunk that names its person keeps it
        assert not hasattr(got["control"], "person")
    finally:
        publisher.close()
        subscriber.close()


@pytest.mark.parametrize("bad", ["", " P01", "../P01", ".hidden", "P\x0001", "P" * 65])
def test_a_raw_chunk_with_a_bad_person_is_rejected_naming_the_field(bad):
    body = _chunk(0).to_dict() | {"person": bad}
    with pytest.raises(MessageError, match="raw.eeg: field 'person'"):
        RawChunk.from_dict(body, "raw.eeg")


def test_a_raw_chunk_without_a_person_reads_as_none():
    assert RawChunk.from_dict(_chunk(0).to_dict(), "raw.eeg").person is None
    assert RawChunk.from_dict(_chunk(0).to_dict() | {"person": "sub-07"}).person == "sub-07"


def test_sending_beyond_loopback_needs_keys():
    check_connect_allowed("tcp://127.0.0.1:5591", have_keys=False)
    check_connect_allowed("tcp://10.231.0.1:5591", have_keys=True)
    with pytest.raises(BusError, match="without authentication.*--keys DIR --key-name NAME"):
        check_connect_allowed("tcp://10.231.0.1:5591", have_keys=False)


def test_a_sensor_subscribes_at_the_hubs_host_on_the_subscribe_port():
    assert hub_subscribe_endpoint("tcp://10.231.1.1:5591", "tcp://127.0.0.1:5592") == (
        "tcp://10.231.1.1:5592"
    )
    with pytest.raises(BusError, match="tcp://HOST:PORT"):
        hub_subscribe_endpoint("ipc:///tmp/x", "tcp://127.0.0.1:5592")


def test_the_person_publisher_stamps_driver_statuses_too(broker):
    """A source's status.driver names its person; one that names its own keeps it, and a
    status of nobody is left without the field on the wire."""
    from runtime.messages import DriverStatus

    publisher = PersonPublisher(broker.publish_endpoint, "driver-P07", person="P07")
    unnamed = BusPublisher(broker.publish_endpoint, "driver")
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("status.driver",))
    try:
        confirm_subscribed(subscriber)
        got = {}
        end = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < end:
            publisher.publish("status.driver-P07", DriverStatus(
                component="driver-P07", state="streaming"))
            publisher.publish("status.driver-P99", DriverStatus(
                component="driver-P99", state="lost", person="P99"))
            unnamed.publish("status.driver", DriverStatus(component="driver", state="lost"))
            message = subscriber.recv(timeout_s=0.05)
            while message is not None:
                got[message.topic] = message
                message = subscriber.recv(timeout_s=0.0)
        assert isinstance(got["status.driver-P07"].data, DriverStatus)
        assert got["status.driver-P07"].data.person == "P07"
        assert got["status.driver-P99"].data.person == "P99"
        assert got["status.driver"].data.person is None
        assert "person" not in got["status.driver"].body  # single-source bodies unchanged
    finally:
        publisher.close()
        unnamed.close()
        subscriber.close()


@pytest.mark.parametrize("bad", ["", " P01", "../P01", ".hidden"])
def test_a_driver_status_with_a_bad_person_is_rejected_naming_the_field(bad):
    from runtime.messages import DriverStatus

    body = DriverStatus(component="driver", state="lost").to_dict() | {"person": bad}
    with pytest.raises(MessageError, match="status.driver: field 'person'"):
        DriverStatus.from_dict(body, "status.driver")
