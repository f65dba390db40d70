"""The feature stage: ``raw.eeg`` → attention, ``raw.ppg``/``raw.ecg`` → stress.

Estimators time samples by index and nominal rate, so a fast replay gives the same
features as real time. Each estimate is published on ``features.attention`` or
``features.stress`` with the raw message's publish time, its newest sample's board
timestamp and the driver's read time in ``trace`` (for latency).

Each person (``RawChunk.person``; None in a single-person session) has estimators,
baselines, gap accounting and data-time order of their own, and their estimates carry
the person. On a hub, a chunk from a sensor host whose clock the hub has estimated
(``status.clock``) has its trace's times put on the hub's clock (docs/clocks.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from threadpoolctl import threadpool_limits

from runtime.bus import BusPublisher, Message
from runtime.clock import STATUS_TOPIC as CLOCK_STATUS_TOPIC
from runtime.clock import ClockMaps
from runtime.config import FeaturesConfig, SourceConfig
from runtime.features import (
    AttentionEstimate,
    AttentionEstimator,
    RobustBaseline,
    StressEstimate,
    StressEstimator,
    differing_settings,
)
from runtime.messages import ClockStatus, FeaturesStatus, RawChunk, Trace
from runtime.participants import SessionBaseline
from runtime.stages._data_order import DataTimeOrder
from runtime.supervisor import StageContext, bus_counters, confirm_subscribed

logger = logging.getLogger("runtime.stages")

#: Longest gap filled with NaN (a longer one is capped: the windows after it are invalid
#: for a window length anyway, and memory stays bounded).
MAX_GAP_SAMPLES = 60_000


def _with_gap(data: np.ndarray, gap: int) -> np.ndarray:
    if gap <= 0:
        return data
    return np.concatenate((np.full((data.shape[0], gap), np.nan), data), axis=1)


#: The raw topic of each heart signal ([source] heart_signal).
_HEART_TOPICS = {"ppg": "raw.ppg", "ecg": "raw.ecg"}

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


@dataclass
class PersonStreams:
    """One person's state in the feature stage: their estimators (each with its own
    baseline), the sample index each raw topic should continue at, and the order their
    estimates go out in."""

    order: DataTimeOrder
    expected: dict[str, int] = field(default_factory=dict)
    attention: AttentionEstimator | None = None
    stress: StressEstimator | None = None


class FeatureStage:
    """Subscribes to raw data and publishes attention and stress estimates, per person.

    ``baseline`` (``[session] baseline``) is the stored baseline of ``baseline_person``
    (``[session] participant``): that person's estimators, and those of a chunk without a
    person, start from it; everyone else calibrates on their own data. ``people_sources``
    (``[[sources]]``: person → source) says each person's heart signal and channel; a
    person not in it has ``source``'s.

    The stage is built once and its supervisor runs it again after a failure: each
    person's finished calibration is kept across that restart, so their new estimators are
    calibrated from their first window instead of calibrating again (and the controller
    holding the safe state meanwhile). A kept calibration is used only for the same rate
    and channels.
    """

    def __init__(
        self,
        features: FeaturesConfig,
        source: SourceConfig,
        status_interval_s: float = 1.0,
        baseline: str | None = None,
        baseline_person: str | None = None,
        people_sources: Mapping[str, SourceConfig] | None = None,
    ) -> None:
        self.features = features
        self.source = source
        self.people_sources = dict(people_sources or {})
        # [session] baseline: checked against the settings now (a ConfigError at start-up),
        # loaded by each estimator instead of calibrating.
        self.start_baseline = (
            SessionBaseline(baseline, features.eeg, features.heart, source.heart_signal)
            if baseline else None
        )
        self.baseline_person = baseline_person
        self.status_interval_s = status_interval_s
        #: (person, "attention" | "stress") → the calibration that person's estimator had
        #: finished when the stage last ended (kept for a restart).
        self.kept_calibrations: dict[tuple[str | None, str], RobustBaseline] = {}
        signals = {s.heart_signal for s in (source, *self.people_sources.values())}
        self.raw_topics = ("raw.eeg",) + tuple(
            topic for signal, topic in _HEART_TOPICS.items() if signal in signals
        )
        limit_blas_threads()

    def source_of(self, person: str | None) -> SourceConfig:
        """The source settings of ``person``'s board."""
        return self.people_sources.get(person, self.source) if person else self.source

    def topics_of(self, person: str | None) -> tuple[str, ...]:
        """The raw topics ``person``'s estimates come from: EEG and their heart signal."""
        heart = _HEART_TOPICS.get(self.source_of(person).heart_signal)
        return ("raw.eeg",) + ((heart,) if heart else ())

    def __call__(self, context: StageContext) -> None:
        subscriber = context.subscriber(self.raw_topics + (CLOCK_STATUS_TOPIC,))
        publisher = context.publisher()
        confirm_subscribed(subscriber)
        context.ready.set()
        people: dict[str | None, PersonStreams] = {}
        clocks = ClockMaps()
        counts = {"attention": 0, "stress": 0, "gap_samples": 0, "rejected": 0}
        next_status = 0.0
        try:
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=0.1)
                data = message.data if message is not None else None
                if isinstance(data, ClockStatus):
                    clocks.update(data)
                # Every raw.* message has a RawChunk (the bus checked it); one without
                # samples has nothing to estimate from.
                elif isinstance(data, RawChunk) and message.array is not None:
                    topics = self.topics_of(data.person)
                    if message.topic not in topics:
                        continue  # another person's heart signal: not this person's stress
                    streams = people.get(data.person)
                    if streams is None:
                        # Estimates go out in data-time order, whatever the chunks.
                        streams = people[data.person] = PersonStreams(DataTimeOrder(topics))
                    self._take(message, data, streams, clocks, publisher, counts)
                for streams in people.values():
                    self._send(publisher, streams.order.release_idle())
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + self.status_interval_s
                    status = FeaturesStatus(
                        component="features",
                        state="running",
                        bus=bus_counters(subscriber.stats),
                        people=tuple(sorted(p for p in people if p is not None)),
                        **counts,
                    )
                    publisher.publish("status.features", status)
        finally:
            self._keep_calibrations(people)
            subscriber.close()
            publisher.close()

    def _keep_calibrations(self, people: Mapping[str | None, PersonStreams]) -> None:
        """Remember each person's finished calibrations for the next run of the stage."""
        for person, streams in people.items():
            for kind, estimator in (("attention", streams.attention), ("stress", streams.stress)):
                if estimator is not None and estimator.baseline.frozen is not None:
                    self.kept_calibrations[(person, kind)] = estimator.baseline

    def _resume(self, person: str | None, kind: str,
                estimator: AttentionEstimator | StressEstimator) -> bool:
        """Give a new estimator the calibration ``person``'s ``kind`` estimator finished
        before the stage restarted; False when there is none for these rate and channels."""
        kept = self.kept_calibrations.get((person, kind))
        if kept is None or kept.frozen is None:
            return False
        differ = differing_settings(kept.meta, estimator.baseline.meta)
        if differ:
            logger.info("features: %s%s calibrates afresh after the restart: %s",
                        kind, _of(person), "; ".join(differ))
            return False
        estimator.baseline = RobustBaseline(frozen=dict(kept.frozen), meta=dict(kept.meta))
        logger.info("features: %s%s keeps the calibration it had before the restart",
                    kind, _of(person))
        return True

    def _take(
        self,
        message: Message,
        chunk: RawChunk,
        streams: PersonStreams,
        clocks: ClockMaps,
        publisher: BusPublisher,
        counts: dict[str, int],
    ) -> None:
        """One raw chunk of one person: checked, gap-filled, estimated, published."""
        problem = self._check_chunk(message, chunk, streams.attention, streams.stress)
        if problem:
            counts["rejected"] += 1
            who = f" of {chunk.person}" if chunk.person is not None else ""
            logger.warning("features: dropped a %s chunk%s: %s", message.topic, who, problem)
            return
        gap = self._gap(message, chunk, streams.expected)
        counts["gap_samples"] += gap
        offset = self._clock_offset(chunk, clocks)
        if message.topic == "raw.eeg":
            streams.attention = streams.attention or self._attention_for(chunk)
            data = np.asarray(message.array, dtype=np.float64)
            estimates = streams.attention.push(_with_gap(data, gap))
            self._publish(publisher, streams.order, "attention", estimates, message, gap, offset)
            counts["attention"] += len(estimates)
        else:  # the person's heart topic (topics_of)
            streams.stress = streams.stress or self._stress_for(message.topic, chunk)
            heart_channel = self.source_of(chunk.person).heart_channel
            row = np.asarray(message.array[heart_channel], dtype=np.float64)
            heart = streams.stress.push(_with_gap(row[np.newaxis], gap)[0])
            self._publish(publisher, streams.order, "stress", heart, message, gap, offset)
            counts["stress"] += len(heart)

    @staticmethod
    def _clock_offset(chunk: RawChunk, clocks: ClockMaps) -> float | None:
        """The chunk's sensor clock minus the hub's now, if the hub has estimated it (a
        sensor's clock is known by its person; None: the times stay as they are)."""
        clock = clocks.get(chunk.person) if chunk.person is not None else None
        return None if clock is None else clock.offset_at(time.time())

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
        heart_channel = self.source_of(chunk.person).heart_channel
        if message.topic != "raw.eeg" and heart_channel >= array.shape[0]:
            table = (f"[[sources]] person = {chunk.person!r}:"
                     if chunk.person in self.people_sources else "[source]")
            return (
                f"{table} heart_channel = {heart_channel}, but {message.topic} "
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
        logger.info(
            "features: attention%s from %d EEG channels at %g Hz",
            _of(chunk.person), len(names), chunk.fs,
        )
        estimator = AttentionEstimator(chunk.fs, names, self.features.eeg)
        if self._resume(chunk.person, "attention", estimator):
            return estimator
        if self._starts_from_baseline(chunk.person):
            self.start_baseline.start(estimator, "attention")
        return estimator

    def _stress_for(self, topic: str, chunk: RawChunk) -> StressEstimator:
        kind = "ecg" if topic == "raw.ecg" else "ppg"
        logger.info("features: stress%s from %s at %g Hz", _of(chunk.person), kind, chunk.fs)
        estimator = StressEstimator(chunk.fs, kind, self.features.heart)
        if self._resume(chunk.person, "stress", estimator):
            return estimator
        if self._starts_from_baseline(chunk.person):
            self.start_baseline.start(estimator, "stress")
        return estimator

    def _starts_from_baseline(self, person: str | None) -> bool:
        """Whether ``person``'s new estimators load ``[session] baseline``: it is theirs
        (``[session] participant``), or the chunk names no one (one person's session)."""
        return self.start_baseline is not None and person in (None, self.baseline_person)

    @staticmethod
    def _publish(
        publisher: BusPublisher,
        order: DataTimeOrder,
        kind: str,
        estimates: list[AttentionEstimate] | list[StressEstimate],
        raw: Message,
        gap: int,
        clock_offset_s: float | None = None,
    ) -> None:
        """Hand a chunk's estimates to ``order`` (the chunk's samples, gap included, are
        consumed) and publish those due, each of the chunk's person, its times on the hub's
        clock when ``clock_offset_s`` (sensor minus hub) is known."""
        chunk = raw.data if isinstance(raw.data, RawChunk) else None
        shift = clock_offset_s or 0.0

        def on_hub(t: float | None) -> float | None:
            return None if t is None else t - shift

        trace = Trace(
            raw_publish_time=on_hub(raw.publish_time),
            raw_publisher=raw.publisher,
            raw_seq=raw.seq,
            raw_source_time=on_hub(raw.source_time),
            raw_read_time=on_hub(chunk.read_time) if chunk is not None else None,
            clock_offset_s=clock_offset_s,
        )
        person = chunk.person if chunk is not None else None
        source_time = on_hub(raw.source_time)
        bodies = [e.to_message(trace) for e in estimates]
        if person is not None:
            bodies = [replace(body, person=person) for body in bodies]
        items = [
            (e.time_s, (kind, body, source_time))
            for e, body in zip(estimates, bodies, strict=True)
        ]
        n = gap + (int(raw.array.shape[-1]) if raw.array is not None else 0)
        FeatureStage._send(publisher, order.add(raw.topic, n, raw.data.fs, items))

    @staticmethod
    def _send(publisher: BusPublisher, due: list) -> None:
        for kind, body, source_time in due:
            publisher.publish(f"features.{kind}", body, source_time=source_time)


def _of(person: str | None) -> str:
    return f" of {person}" if person is not None else ""
