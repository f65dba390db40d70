"""The driver stage on a real bus with BrainFlow's synthetic board: typed raw chunks whose
headers match their arrays and continue each other, typed status, markers into the board."""

from __future__ import annotations

import threading
import time

import numpy as np

from runtime.bus import BusPublisher, BusSubscriber
from runtime.config import SourceConfig
from runtime.messages import DriverStatus, Marker, RawBoardChunk, RawChunk
from runtime.stages import DriverStage, StageContext, SupervisedStage
from tests.stages._helpers import PROBE_TOPIC, connect


def test_the_driver_publishes_typed_chunks_status_and_writes_markers(broker):
    stop = threading.Event()
    context = StageContext("driver", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    stage = SupervisedStage(
        context, DriverStage(SourceConfig(board="synthetic"), 0.2, board_rows=True)
    )
    listener = BusSubscriber(broker.subscribe_endpoint, ("raw.", "status.driver", PROBE_TOPIC))
    lab = BusPublisher(broker.publish_endpoint, "lab")
    connect(lab, listener)  # so the one marker below is not lost to a slow connection
    eeg: list = []
    board_rows: list = []
    statuses: list[DriverStatus] = []

    def marker_placed() -> bool:
        if not board_rows:
            return False
        row = board_rows[-1].data.layout["marker_row"]
        return any(np.any(m.array[row] == 7.0) for m in board_rows)

    stage.start()
    try:
        assert context.ready.wait(30), "driver stage did not start"
        marker_sent = False
        end = time.monotonic() + 20
        while time.monotonic() < end:
            message = listener.recv(timeout_s=0.2)
            if message is None:
                continue
            data = message.data
            if message.topic == "raw.eeg":
                assert isinstance(data, RawChunk)
                eeg.append(message)
            elif message.topic.startswith("raw.board."):
                assert isinstance(data, RawBoardChunk) and data.preset in message.topic
                if data.preset == "default":
                    board_rows.append(message)
            elif isinstance(data, DriverStatus):
                statuses.append(data)
            streaming = bool(statuses) and statuses[-1].streaming
            if streaming and not marker_sent:
                lab.publish("marker", Marker(label="eyes closed", value=7.0, time=time.time()))
                marker_sent = True
            counted = streaming and statuses[-1].samples.get("default", 0) > 0
            if counted and len(eeg) >= 5 and marker_placed():
                break
    finally:
        stop.set()
        assert stage.join(10), "driver stage did not stop"
        listener.close()
        lab.close()
    assert len(eeg) >= 5, "too few raw.eeg chunks"
    for message in eeg:
        chunk = message.data
        assert len(chunk.channels) == message.array.shape[0]
        assert message.array.dtype == np.float32 and chunk.fs == 250.0
        assert chunk.t_first <= chunk.t_last == message.source_time
        # The driver read the chunk after its newest sample was stamped (both wall clock:
        # the synthetic board stamps with the host's time.time()), then published it.
        assert chunk.t_last <= chunk.read_time <= message.publish_time
    # Each chunk starts where the previous one ended (one publisher, in order).
    for before, after in zip(eeg, eeg[1:], strict=False):
        assert after.data.first_index == before.data.first_index + before.array.shape[1]
    rows = board_rows
    assert rows and all(m.data.num_rows == m.array.shape[0] for m in rows)
    marker_row = rows[-1].data.layout["marker_row"]
    placed = np.concatenate([m.array[marker_row] for m in rows])
    assert placed[placed != 0].tolist() == [7.0], "the marker was not written exactly once"
    streaming = [s for s in statuses if s.streaming]
    assert streaming and streaming[-1].board == "synthetic"
    assert streaming[-1].samples.get("default", 0) > 0
    assert "default" in streaming[-1].presets
