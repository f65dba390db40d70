"""The feature stage: ``raw.eeg`` → attention, ``raw.ppg``/``raw.ecg`` → stress.

Estimators time samples by index and nominal rate, so a fast replay gives the same
features as real time. Each estimate is published on ``features.attention`` or
``features.stress`` with the raw message's publish time, its newest sample's board
timestamp and the driver's read time in ``trace`` (for latency).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from threadpoolctl import threadpool_limits

from runtime.bus import BusPublisher, Message
from runtime.config import FeaturesConfig, SourceConfig
from runtime.features import AttentionEstimate, AttentionEstimator, StressEstimate, StressEstimator
from runtime.messages import FeaturesStatus, RawChunk, Trace
from runtime.participants import SessionBaseline
from runtime.stages._base import StageContext, bus_counters, confirm_subscribed
from runtime.stages._data_order import DataTimeOrder

logger = logging.getLogger("runtime.stages")

#: Longest gap filled with NaN (a longer one is capped: the windows after it are invalid
#: for a window length anyway, and memory stays bounded).
MAX_GAP_SAMPLES = 60_000


def _with_gap(data: np.ndarray, gap: int) -> np.ndarray:
    if gap <= 0:
        return data
    return np.concatenate((np.full((data.shape[0], gap), np.nan), data), axis=1)


_BLAS_LIMITED = False


def limit_blas_threads() -> None:
    """One BLAS thread for the process, set once, from the thread that builds the stage.

    The estimators' matrices are small: a BLAS thread pool only spin-waits on them and
    takes cores from the training job (64 ch at 1 kHz: 55 % of a core with OpenBLAS's
    default threads, 12 % with one; docs/benchmarks.md). The limit is process-wide, and
    changing it while another thread is inside native code (the controller's first
    circuit) crashed a test process once, so it is never done from a stage's thread.
    """
    global _BLAS_LIMITED
    if not _BLAS_LIMITED:
        threadpool_limits(limits=1, user_api="blas")
        _BLAS_LIMITED = True


class FeatureStage:
    """Subscribes to raw data and publishes attention and stress estimates."""

    def __init__(
        self,
        features: FeaturesConfig,
        source: SourceConfig,
        status_interval_s: float = 1.0,
        baseline: str | None = None,
    ) -> None:
        self.features = features
        self.source = source
        # [session] baseline: checked against the settings now (a ConfigError at start-up),
        # loaded by each estimator instead of calibrating.
        self.start_baseline = (
            SessionBaseline(baseline, features.eeg, features.heart, source.heart_signal)
            if baseline else None
        )
        self.status_interval_s = status_interval_s
        self.heart_topic = {"ppg": "raw.ppg", "ecg": "raw.ecg"}.get(source.heart_signal)
        limit_blas_threads()

    def __call__(self, context: StageContext) -> None:
        topics = ("raw.eeg",) + ((self.heart_topic,) if self.heart_topic else ())
        subscriber = context.subscriber(topics)
        publisher = context.publisher()
        confirm_subscribed(subscriber)
        context.ready.set()
        expected: dict[str, int] = {}
        order = DataTimeOrder(topics)  # estimates go out in data-time order, whatever the chunks
        attention: AttentionEstimator | None = None
        stress: StressEstimator | None = None
        counts = {"attention": 0, "stress": 0, "gap_samples": 0, "rejected": 0}
        next_status = 0.0
        try:
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=0.1)
                # Every raw.* message has a RawChunk (the bus checked it); one without
                # samples has nothing to estimate from.
                chunk = message.data if message is not None and message.array is not None else None
                if message is not None and isinstance(chunk, RawChunk):
                    problem = self._check_chunk(message, chunk, attention, stress)
                    if problem:
                        counts["rejected"] += 1
                        logger.warning("features: dropped a %s chunk: %s", message.topic, problem)
                        continue
                    gap = self._gap(message, chunk, expected)
                    counts["gap_samples"] += gap
                    if message.topic == "raw.eeg":
                        attention = attention or self._attention_for(chunk)
                        data = np.asarray(message.array, dtype=np.float64)
                        estimates = attention.push(_with_gap(data, gap))
                        self._publish(publisher, order, "attention", estimates, message, gap)
                        counts["attention"] += len(estimates)
                    elif message.topic == self.heart_topic:
                        stress = stress or self._stress_for(message.topic, chunk)
                        row = np.asarray(self._heart_row(message.array), dtype=np.float64)
                        heart = stress.push(_with_gap(row[np.newaxis], gap)[0])
                        self._publish(publisher, order, "stress", heart, message, gap)
                        counts["stress"] += len(heart)
                self._send(publisher, order.release_idle())
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + self.status_interval_s
                    status = FeaturesStatus(
                        component="features",
                        state="running",
                        bus=bus_counters(subscriber.stats),
                        **counts,
                    )
                    publisher.publish("status.features", status)
        finally:
            subscriber.close()
            publisher.close()

    def _check_chunk(
        self,
        message: Message,
        chunk: RawChunk,
        attention: AttentionEstimator | None,
        stress: StressEstimator | None,
    ) -> str:
        """Why a raw chunk cannot be used ('' when it can): what the schema cannot check,
        the array against the header (shape, channels) and against this stage (a rate or
        channels that changed, a heart channel that does not exist)."""
        array = message.array
        if array is None:
            return "no array payload"
        if array.ndim != 2 or array.shape[1] == 0 or array.dtype.kind != "f":
            return f"array of shape {array.shape} and dtype {array.dtype}"
        fs, channels = chunk.fs, chunk.channels
        if len(channels) != array.shape[0]:
            return f"{array.shape[0]} rows but channels {list(channels)!r}"
        estimator = attention if message.topic == "raw.eeg" else stress
        if estimator is not None and fs != estimator.fs:
            return f"rate changed from {estimator.fs:g} to {fs:g} Hz"
        if attention is not None and message.topic == "raw.eeg" and channels != attention.names:
            return f"channels changed from {attention.names} to {channels}"
        if message.topic != "raw.eeg" and self.source.heart_channel >= array.shape[0]:
            return (
                f"[source] heart_channel = {self.source.heart_channel}, but {message.topic} "
                f"has {array.shape[0]} channel(s)"
            )
        return ""

    @staticmethod
    def _gap(message: Message, chunk: RawChunk, expected: dict[str, int]) -> int:
        """Samples missing before this chunk: lost on the bus, or dropped by the board.

        They are filled with NaN so the estimators' sample index keeps pace with the
        board's time (the windows holding them come out invalid, never shifted). Before
        this stage's first chunk of a topic nothing counts as lost: a stage that joins a
        running stream (a restart) starts a new estimator there instead of inventing a gap.
        """
        first = chunk.first_index
        n = int(message.array.shape[-1]) if message.array is not None else 0
        lost_on_bus = max(0, first - expected.get(message.topic, first))
        expected[message.topic] = first + n
        return min(lost_on_bus + chunk.dropped, MAX_GAP_SAMPLES)

    def _attention_for(self, chunk: RawChunk) -> AttentionEstimator:
        names = list(chunk.channels)
        logger.info("features: attention from %d EEG channels at %g Hz", len(names), chunk.fs)
        estimator = AttentionEstimator(chunk.fs, names, self.features.eeg)
        if self.start_baseline:
            self.start_baseline.start(estimator, "attention")
        return estimator

    def _stress_for(self, topic: str, chunk: RawChunk) -> StressEstimator:
        kind = "ecg" if topic == "raw.ecg" else "ppg"
        logger.info("features: stress from %s at %g Hz", kind, chunk.fs)
        estimator = StressEstimator(chunk.fs, kind, self.features.heart)
        if self.start_baseline:
            self.start_baseline.start(estimator, "stress")
        return estimator

    def _heart_row(self, array: np.ndarray) -> np.ndarray:
        return array[self.source.heart_channel]  # in range: checked by _check_chunk

    @staticmethod
    def _publish(
        publisher: BusPublisher,
        order: DataTimeOrder,
        kind: str,
        estimates: list[AttentionEstimate] | list[StressEstimate],
        raw: Message,
        gap: int,
    ) -> None:
        """Hand a chunk's estimates to ``order`` (the chunk's samples, gap included, are
        consumed) and publish those due."""
        trace = Trace(
            raw_publish_time=raw.publish_time,
            raw_publisher=raw.publisher,
            raw_seq=raw.seq,
            raw_source_time=raw.source_time,
            raw_read_time=raw.data.read_time if isinstance(raw.data, RawChunk) else None,
        )
        items = [(e.time_s, (kind, e.to_message(trace), raw.source_time)) for e in estimates]
        n = gap + (int(raw.array.shape[-1]) if raw.array is not None else 0)
        FeatureStage._send(publisher, order.add(raw.topic, n, raw.data.fs, items))

    @staticmethod
    def _send(publisher: BusPublisher, due: list) -> None:
        for kind, body, source_time in due:
            publisher.publish(f"features.{kind}", body, source_time=source_time)
