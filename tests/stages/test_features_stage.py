"""The feature stage on a real bus: typed raw chunks in, typed estimates out, each traced to
the chunk it rests on; gaps filled and counted; chunks the schema cannot judge refused."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from runtime.bus import BusPublisher, BusSubscriber
from runtime.config import FeaturesConfig, SourceConfig
from runtime.features import EegFeatureSettings
from runtime.messages import AttentionFeature, FeaturesStatus, RawChunk
from runtime.stages import FeatureStage, StageContext, SupervisedStage
from tests.stages._helpers import PROBE_TOPIC, connect

FS = 250.0
NAMES = tuple(f"E{i + 1}" for i in range(8))
CHUNK = 250  # samples per chunk: 1 s


def _chunk(first_index: int, *, dropped: int = 0, fs: float = FS) -> RawChunk:
    t_first = first_index / fs
    return RawChunk(
        preset="default", fs=fs, channels=NAMES, first_index=first_index, dropped=dropped,
        t_first=t_first, t_last=t_first + (CHUNK - 1) / fs, read_time=t_first + CHUNK / fs,
    )


def test_features_are_typed_traced_and_bad_chunks_are_counted(broker, caplog):
    caplog.set_level(logging.WARNING, logger="runtime.stages")
    features = FeaturesConfig(eeg=EegFeatureSettings(window_s=2.0, hop_s=0.5))
    source = SourceConfig(heart_signal="none")
    stop = threading.Event()
    context = StageContext("features", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    stage = SupervisedStage(context, FeatureStage(features, source, status_interval_s=0.1))
    listener = BusSubscriber(
        broker.subscribe_endpoint, ("features.attention", "status.features", PROBE_TOPIC)
    )
    driver = BusPublisher(broker.publish_endpoint, "driver")
    rng = np.random.default_rng(3)
    sent: dict[int, RawChunk] = {}  # seq → chunk
    # seq → the samples (by the estimator's count, gaps filled) that chunk completed
    spans = {0: (0, 250), 1: (250, 500), 2: (500, 750), 3: (750, 1250), 4: (1250, 1510)}
    stage.start()
    try:
        assert context.ready.wait(30), "feature stage did not start"
        connect(driver, listener)
        chunks = [
            _chunk(0), _chunk(250), _chunk(500),
            _chunk(1000),  # 250 samples lost on the bus (750–999)
            _chunk(1250, dropped=10),  # 10 samples the board lost
        ]
        for chunk in chunks:
            data = rng.normal(0.0, 10.0, (len(NAMES), CHUNK)).astype(np.float32)
            seq = driver.publish("raw.eeg", chunk, array=data, source_time=chunk.t_last)
            sent[seq] = chunk
        # Refused by the stage: 3 rows for 8 channels, then a changed rate.
        driver.publish("raw.eeg", _chunk(1500), array=np.zeros((3, CHUNK), np.float32))
        driver.publish(
            "raw.eeg", _chunk(1500, fs=500.0), array=np.zeros((8, CHUNK), np.float32)
        )
        estimates: list = []
        status = None
        end = time.monotonic() + 20
        while time.monotonic() < end and (status is None or status.rejected < 2):
            message = listener.recv(timeout_s=0.2)
            if message is None:
                continue
            if isinstance(message.data, AttentionFeature):
                estimates.append(message)
            elif isinstance(message.data, FeaturesStatus):
                status = message.data
        assert status is not None and status.rejected == 2, status
        # Windows end every 125 samples from 500 on, across the NaN-filled gap
        # (750–999 lost on the bus, 1250–1259 dropped by the board): 1510 samples in all.
        got = [m.data.sample_index for m in estimates]
        assert got == list(range(500, 1511, 125)), got
        assert status.attention == len(estimates) and status.gap_samples == 260
        assert status.bus is not None and status.bus.rejected == 0
        assert status.bus.received >= 7
        for message in estimates:
            feature = message.data
            trace = feature.trace
            assert trace is not None and trace.raw_publisher == driver.publisher_id
            chunk = sent[trace.raw_seq]
            # The trace names the chunk that completed the estimate's window.
            start, end = spans[trace.raw_seq]
            assert start < feature.sample_index <= end, (trace.raw_seq, feature.sample_index)
            assert trace.raw_source_time == chunk.t_last == message.source_time
            assert trace.raw_read_time == chunk.read_time is not None
            # White noise, 2 s in: not an attention level (calibrating, or read as EMG).
            assert feature.kind == "attention" and feature.level is None
            assert not feature.valid and feature.reason
        dropped = [r.getMessage() for r in caplog.records if "dropped a" in r.getMessage()]
        assert len(dropped) == 2
        assert "3 rows but channels" in dropped[0]
        assert "rate changed from 250 to 500 Hz" in dropped[1]
    finally:
        stop.set()
        assert stage.join(5)
        listener.close()
        driver.close()
