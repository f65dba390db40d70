"""Fixtures of the lab tests: quiet BrainFlow, and one recorded session shared by the readers.

The recorded session is real: an in-process daemon on BrainFlow's synthetic board with the
recorder stage, the driver publishing ``raw.board.*``, and two markers sent through the bus
with ``runtime.lab.mark`` (so they reach the board's marker row through the driver).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers import set_brainflow_logging
from runtime.lab import MarkerEvent, mark
from runtime.recorder import RecorderStage
from tests.lab._helpers import fast_config, running_daemon, wait_for

#: Markers sent during the shared session, in order.
MARKERS = ("eyes closed", "eyes open")


@dataclass(frozen=True)
class RecordedFixture:
    directory: Path
    markers: tuple[MarkerEvent, ...]
    publish_endpoint: str
    subscribe_endpoint: str


@pytest.fixture(autouse=True)
def quiet_brainflow() -> Iterator[None]:
    set_brainflow_logging(False)
    yield


@pytest.fixture(scope="session")
def recorded_session(tmp_path_factory: pytest.TempPathFactory) -> RecordedFixture:
    """A ~5 s synthetic session recorded with two markers (shared, read-only)."""
    set_brainflow_logging(False)
    root = tmp_path_factory.mktemp("recorded")
    _, config = fast_config(root)
    directory = root / "session"
    with running_daemon(config, {"recorder": RecorderStage(directory, config)},
                        board_rows=True) as daemon:
        pub, sub = daemon.publish_endpoint, daemon.subscribe_endpoint
        wait_for(lambda: (directory / "features.jsonl").exists(), 15, "first features")
        events = []
        for label in MARKERS:
            events.append(mark(label, publish_endpoint=pub, subscribe_endpoint=sub))
            time.sleep(1.0)
        time.sleep(1.0)
    return RecordedFixture(directory, tuple(events), pub, sub)
