"""Several sources, each a person (issue 21.1): one daemon runs a driver stage per
``[[sources]]`` entry on BrainFlow's synthetic board, on a real loopback broker; every raw
chunk and driver status carries its person, and each person's samples count from 0
without a gap."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from runtime.bus import Message
from runtime.config import config_from_mapping
from runtime.daemon import Daemon
from runtime.messages import DriverStatus, RawChunk
from runtime.stages import StageContext, confirm_subscribed
from tests.conftest import free_tcp_port


class Collector:
    """An extra stage that keeps every ``raw.eeg`` and ``status.driver*`` message. The
    daemon starts it, confirmed at the broker, before the sources: it sees their first
    chunk."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    def __call__(self, context: StageContext) -> None:
        subscriber = context.subscriber(("raw.eeg", "status.driver"))
        try:
            confirm_subscribed(subscriber)
            context.ready.set()
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=0.05)
                if message is not None:
                    with self.lock:
                        self.messages.append(message)
        finally:
            subscriber.close()

    def taken(self) -> list[Message]:
        with self.lock:
            return list(self.messages)


def _two_people_config():
    pub, sub = free_tcp_port(), free_tcp_port()
    return config_from_mapping({
        "bus": {"publish_endpoint": f"tcp://127.0.0.1:{pub}",
                "subscribe_endpoint": f"tcp://127.0.0.1:{sub}"},
        # two synthetic boards: BrainFlow tells them apart by their serial_number
        "sources": [{"board": "synthetic", "person": "P01", "serial_number": "P01"},
                    {"board": "synthetic", "person": "P02", "serial_number": "P02"}],
        "controller": {"require_stress": False},
        "daemon": {"status_interval_s": 0.2},
    })


def test_two_synthetic_sources_stream_apart_each_with_its_person():
    collector = Collector()
    daemon = Daemon(_two_people_config(), extra_stages={"collector": collector})
    daemon.start()
    try:
        assert set(daemon.health()) >= {"driver-P01", "driver-P02", "features", "controller",
                                        "collector"}
        assert "driver" not in daemon.health()
        end = time.monotonic() + 20
        while time.monotonic() < end:
            samples: dict[str | None, int] = defaultdict(int)
            for message in collector.taken():
                if message.topic == "raw.eeg":
                    samples[message.data.person] += message.array.shape[1]
            if min(samples.get("P01", 0), samples.get("P02", 0)) >= 2 * 250:
                break
            time.sleep(0.1)
        health = daemon.health()
    finally:
        daemon.stop()
    assert health["driver-P01"]["alive"] and health["driver-P02"]["alive"]
    messages = collector.taken()
    chunks: dict[str | None, list[tuple[RawChunk, int]]] = defaultdict(list)
    statuses: dict[str, list[DriverStatus]] = defaultdict(list)
    for message in messages:
        if message.topic == "raw.eeg":
            chunks[message.data.person].append((message.data, message.array.shape[1]))
        elif isinstance(message.data, DriverStatus):
            statuses[message.topic].append(message.data)
    assert set(chunks) == {"P01", "P02"}  # every chunk names its person
    for person, got in chunks.items():
        assert got[0][0].first_index == 0, person
        expected = 0
        for chunk, n in got:  # contiguous: each chunk starts where the last one ended
            assert chunk.first_index == expected, (person, chunk.first_index, expected)
            assert chunk.dropped == 0
            expected += n
        assert expected >= 2 * 250, (person, expected)  # 2 s at the synthetic 250 Hz
    # each driver reports on its own topic, as a DriverStatus naming its person
    assert set(statuses) == {"status.driver-P01", "status.driver-P02"}
    for person in ("P01", "P02"):
        bodies = statuses[f"status.driver-{person}"]
        assert {body.person for body in bodies} == {person}
        assert {body.component for body in bodies} == {f"driver-{person}"}
        assert "streaming" in {body.state for body in bodies}
        streaming = [b for b in bodies if b.state == "streaming"]
        assert streaming[-1].board == "synthetic" and streaming[-1].samples["default"] > 0
