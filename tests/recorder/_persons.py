"""What the per-person recorder tests share: boards' layouts, chunks whose rows carry
their sample index, and a real recorder stage on a broker with a publisher feeding it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivers import describe_presets
from runtime.bus import Broker, BusPublisher, BusSubscriber
from runtime.config import Config
from runtime.messages import RawBoardChunk, RecorderStatus
from runtime.recorder import (
    RecorderStage,
    load_session,
)
from runtime.stages import StageContext
from tests.lab._helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
SYNTHETIC = describe_presets(-1)  # default (32 rows) and auxiliary (20 rows)
CYTON = describe_presets(0)  # default (24 rows): another person on another board
#: What a refused multi-person replay says (after the directory).
MULTI_REPLAY = (
    " holds the raw data of several people (P01, P02): replay of a multi-person session is "
    "not supported yet, only of a session with one board; `kintsugi verify DIR OTHER` "
    "compares two recorded runs of it (features, controls and decisions, which name each "
    "person)"
)


def _chunk(layout, preset: str, first: int, person: str | None) -> RawBoardChunk:
    return RawBoardChunk(preset=preset, fs=layout.sampling_rate, num_rows=layout.num_rows,
                         first_index=first, layout=layout.to_dict(), person=person)


def _rows(rng: np.random.Generator, num_rows: int, first: int, n: int) -> np.ndarray:
    """A chunk's rows: row 0 counts the sample index (catches drops and reordering), the
    others are random values with every bit significant."""
    data = rng.normal(0.0, 50.0, (num_rows, n))
    data[0] = first + np.arange(n)
    return data


@dataclass
class Recorder:
    """A recorder stage running on a broker, and a publisher connected to it."""

    directory: Path
    stage: RecorderStage
    thread: threading.Thread
    stop: threading.Event
    publisher: BusPublisher
    statuses: BusSubscriber

    def finish(self) -> RecorderStatus:
        """Stop the stage: its last (``stopped``) status."""
        self.stop.set()
        self.thread.join(10)
        end = time.monotonic() + 5.0
        try:
            while time.monotonic() < end:
                message = self.statuses.recv(timeout_s=0.1)
                if isinstance(message and message.data, RecorderStatus) and \
                        message.data.state == "stopped":
                    return message.data
            raise AssertionError("no 'stopped' status.recorder within 5 s")
        finally:
            self.publisher.close()
            self.statuses.close()


def _start(broker: Broker, directory: Path, probe_person: str | None) -> Recorder:
    """A recorder on ``broker``, and a publisher whose messages it receives: probed with a
    header whose (1, 1) array the recorder rejects, until the probe comes back."""
    stage = RecorderStage(directory, Config(), status_interval_s=0.2)
    stop = threading.Event()
    context = StageContext("recorder", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    thread = threading.Thread(target=stage, args=(context,), daemon=True)
    thread.start()
    assert context.ready.wait(10), "recorder did not become ready"
    publisher = BusPublisher(broker.publish_endpoint, "driver")
    statuses = BusSubscriber(broker.subscribe_endpoint, ("status.recorder",))
    probe = BusSubscriber(broker.subscribe_endpoint, ("raw.board.",))
    try:
        header = _chunk(SYNTHETIC["default"], "default", 0, probe_person)
        wait_for(lambda: publisher.publish("raw.board.default", header, array=np.zeros((1, 1)))
                 is not None and probe.recv(timeout_s=0.05) is not None, 10, "bus connection")
    finally:
        probe.close()
    return Recorder(directory, stage, thread, stop, publisher, statuses)


def _events(directory: Path, name: str) -> list[RecorderStatus]:
    session = load_session(directory, raw=False)
    return [r.data for r in session.status
            if isinstance(r.data, RecorderStatus) and r.data.event == name]
