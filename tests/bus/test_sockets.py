"""BusSubscriber.recv_nowait: what is waiting, in order, past junk; None when nothing is."""

from __future__ import annotations

import time

import zmq

from runtime.bus import BusSubscriber, encode
from runtime.messages import Marker
from tests.conftest import free_tcp_port


def _marker(value: float) -> list:
    body = Marker(label="m", value=value, time=1.0).to_dict()
    return encode("marker", body, publisher="lab-1", seq=int(value))


def test_recv_nowait_returns_waiting_messages_in_order_past_a_malformed_one():
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    context = zmq.Context.instance()
    sender = context.socket(zmq.PUB)
    sender.bind(endpoint)
    subscriber = BusSubscriber(endpoint, ("marker",))
    try:
        # Nothing waiting: None at once, nothing counted.
        assert subscriber.recv_nowait() is None
        assert subscriber.stats.received == subscriber.stats.rejected == 0
        deadline = time.monotonic() + 5
        while subscriber.recv(timeout_s=0.05) is None:  # connected once a probe comes
            assert time.monotonic() < deadline, "subscriber never connected"
            sender.send_multipart(_marker(1.0))
        sender.send_multipart([b"marker", b"not json"])
        sender.send_multipart(_marker(2.0))
        sender.send_multipart(_marker(3.0))
        deadline = time.monotonic() + 5
        while not subscriber.socket.poll(0) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # the rest of the burst arrives with the first
        got = []
        while (message := subscriber.recv_nowait()) is not None:
            got.append(message.data.value)
        assert got == [2.0, 3.0]
        assert subscriber.stats.rejected == 1
        assert subscriber.recv_nowait() is None
    finally:
        subscriber.close()
        sender.close(linger=0)
