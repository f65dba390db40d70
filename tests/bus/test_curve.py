"""CURVE on the bus: authorized clients talk; no key or an unknown key gets nothing in or out."""

from __future__ import annotations

import time

import pytest

from runtime.bus import Broker, BusPublisher, BusSubscriber, CurveKeys, make_keys
from runtime.errors import BusError
from runtime.messages import Control, safe_control


@pytest.fixture
def keys_dir(tmp_path):
    make_keys(tmp_path / "keys", ("client", "laptop"))
    return tmp_path / "keys"


@pytest.fixture
def curve_broker(keys_dir):
    broker = Broker(
        "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", curve=CurveKeys.load(keys_dir)
    )
    broker.start()
    yield broker
    broker.stop()


def _pump(publisher: BusPublisher, subscriber: BusSubscriber, seconds: float) -> int:
    """Publish for ``seconds`` and count what the subscriber receives."""
    received = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        publisher.publish("control", safe_control("test"))
        if subscriber.recv(timeout_s=0.05) is not None:
            received += 1
    return received


def test_authorized_clients_publish_and_receive(curve_broker, keys_dir):
    publisher = BusPublisher(curve_broker.publish_endpoint, "p", curve=CurveKeys.load(keys_dir))
    subscriber = BusSubscriber(
        curve_broker.subscribe_endpoint, ("control",), curve=CurveKeys.load(keys_dir, "laptop")
    )
    try:
        assert _pump(publisher, subscriber, 1.5) > 0
    finally:
        publisher.close()
        subscriber.close()


def test_a_subscriber_without_keys_receives_nothing(curve_broker, keys_dir):
    publisher = BusPublisher(curve_broker.publish_endpoint, "p", curve=CurveKeys.load(keys_dir))
    authorized = BusSubscriber(
        curve_broker.subscribe_endpoint, ("control",), curve=CurveKeys.load(keys_dir)
    )
    intruder = BusSubscriber(curve_broker.subscribe_endpoint, ("control",))
    try:
        assert _pump(publisher, authorized, 1.0) > 0  # the bus works
        assert _pump(publisher, intruder, 1.0) == 0
    finally:
        for sock in (publisher, authorized, intruder):
            sock.close()


def test_unknown_keys_can_neither_receive_nor_publish(curve_broker, keys_dir, tmp_path):
    make_keys(tmp_path / "other", ("client",))  # a different server and client pair
    stranger = CurveKeys.load(tmp_path / "other")
    # Trusts our server but holds a client key the broker never authorized.
    rogue = CurveKeys(
        keys_dir, CurveKeys.load(keys_dir).server_public, None,
        stranger.client_public, stranger.client_secret,
    )
    good_pub = BusPublisher(curve_broker.publish_endpoint, "p", curve=CurveKeys.load(keys_dir))
    good_sub = BusSubscriber(
        curve_broker.subscribe_endpoint, ("control",), curve=CurveKeys.load(keys_dir)
    )
    rogue_sub = BusSubscriber(curve_broker.subscribe_endpoint, ("control",), curve=rogue)
    rogue_pub = BusPublisher(curve_broker.publish_endpoint, "rogue", curve=rogue)
    try:
        assert _pump(good_pub, good_sub, 1.0) > 0
        assert _pump(good_pub, rogue_sub, 1.0) == 0
        # The rogue publisher's messages never reach a legitimate subscriber.
        while good_sub.recv(timeout_s=0.1) is not None:
            pass
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            rogue_pub.publish("control", Control(intensity=9.9, gentle=False, rule="rogue"))
            message = good_sub.recv(timeout_s=0.05)
            assert message is None or message.data.intensity != 9.9
    finally:
        for sock in (good_pub, good_sub, rogue_sub, rogue_pub):
            sock.close()


def test_missing_keys_say_how_to_make_them(tmp_path):
    with pytest.raises(BusError, match="kintsugi keys"):
        CurveKeys.load(tmp_path / "nothing-here")


def test_listening_beyond_loopback_is_allowed_with_keys(keys_dir):
    broker = Broker("tcp://0.0.0.0:*", "tcp://127.0.0.1:*", curve=CurveKeys.load(keys_dir))
    broker.start()
    try:
        assert broker.publish_endpoint.startswith("tcp://0.0.0.0:")
    finally:
        broker.stop()
