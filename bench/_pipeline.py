"""The runtime's pipeline fed with EEG chunks of any channel count and rate.

BrainFlow's playback board takes its row count and rate from a master board, and the
config's ``master_board`` is one of five boards with at most 16 EEG channels at 250 Hz
(BrainFlow has no 256-channel board and no 64-channel one at 250–1000 Hz). So for those
layouts the driver's place is taken by :class:`ChunkInjector`, which publishes ``raw.eeg``
chunks exactly as the driver stage does (a :class:`~runtime.messages.RawChunk`, float32 (n_ch, n)
payload, its own stage thread and publisher). Everything after it is the daemon's own: a
:class:`Broker` and the stages built by :func:`runtime._pipeline.build_stages` (feature
stage, controller, and the injector as the source), each supervised, started as
``Daemon.start`` starts them. The injector starts only when :meth:`InjectedPipeline.
start_injector` is called, once an observer is subscribed.

The injected EEG is 1/f noise plus an alpha peak, made in the frequency domain so it is
periodic: it can be replayed in a loop without a seam, and every channel passes the feature
stage's quality checks (white noise would not: its 30–45 Hz share reads as muscle noise).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq

from runtime._pipeline import build_stages, start_before_sources, stop_stages
from runtime.bus import Broker, BusSubscriber
from runtime.config import Config, config_from_mapping
from runtime.messages import AttentionFeature, RawChunk
from runtime.stages import StageContext, SupervisedStage, confirm_publishing

#: Seconds of distinct EEG generated; longer streams loop over it (seamlessly).
LOOP_S = 16.0


def eeg_channel_names(n_channels: int) -> list[str]:
    """Fp1, Fp2 (frontal: the blink check runs on them, as on a real cap), then EEG3…"""
    names = ["Fp1", "Fp2"] + [f"EEG{i + 1}" for i in range(2, n_channels)]
    return names[:n_channels]


def synthetic_eeg(n_channels: int, fs: float, seconds: float = LOOP_S, seed: int = 0) -> np.ndarray:
    """Periodic EEG-like noise in µV, float32 (n_channels, round(seconds·fs)).

    Amplitude spectrum 1/f from 1 Hz with a Gaussian alpha peak at 10 Hz, random phases per
    channel, scaled to 15 µV RMS; nothing above 45 Hz but a trace (as after an amplifier's
    anti-alias filter and a 1–45 Hz band of interest).
    """
    n = int(round(seconds * fs))
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    amplitude = 1.0 / np.maximum(freqs, 1.0)
    amplitude += 0.15 * np.exp(-0.5 * ((freqs - 10.0) / 1.5) ** 2)
    amplitude[freqs > 45.0] *= 0.05
    amplitude[0] = 0.0
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(n_channels, freqs.size))
    x = np.fft.irfft(amplitude * np.exp(1j * phases), n=n, axis=-1)
    x *= 15.0 / x.std(axis=-1, keepdims=True)
    return x.astype(np.float32)


def pipeline_config(features: dict[str, Any] | None = None) -> Config:
    """Config of the injected pipeline: loopback bus on free ports, no heart signal."""
    return config_from_mapping(
        {
            "bus": {
                "publish_endpoint": "tcp://127.0.0.1:*",
                "subscribe_endpoint": "tcp://127.0.0.1:*",
                "hwm": 10_000,
            },
            "source": {"board": "synthetic", "heart_signal": "none"},
            "features": {"eeg": features or {}},
            "controller": {"require_stress": False},
        },
        origin="bench",
    )


@dataclass
class InjectionPlan:
    """What the injector publishes: ``data`` looped, ``chunk_n`` samples per message.

    ``paced``: one chunk every ``chunk_n / fs`` seconds (real time, as a board delivers).
    Otherwise as fast as the pipeline takes it: a chunk goes out only while fewer than
    ``max_ahead_n`` samples are waiting for their estimate (so nothing piles up on the bus
    and the measured rate is the pipeline's, not the queue's). Stops after ``max_n``
    samples or when ``stop_publishing`` is set.
    """

    data: np.ndarray
    fs: float
    chunk_n: int
    paced: bool
    max_n: int
    max_ahead_n: int = 0
    names: list[str] = field(default_factory=list)
    stop_publishing: threading.Event = field(default_factory=threading.Event)
    published_n: int = 0
    first_publish_wall: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    _estimated_n: int = 0
    _progress: threading.Condition = field(default_factory=threading.Condition)

    def note_estimate(self, end_index: int) -> None:
        """The observer saw an estimate ending at ``end_index``: let the injector go on."""
        with self._progress:
            self._estimated_n = max(self._estimated_n, end_index)
            self._progress.notify_all()

    def _wait_for_room(self, stop: threading.Event) -> bool:
        with self._progress:
            while self.published_n - self._estimated_n > self.max_ahead_n:
                if stop.is_set() or self.stop_publishing.is_set():
                    return False
                self._progress.wait(0.05)
        return True


class ChunkInjector:
    """A stage in the driver's place: publishes ``raw.eeg`` as the driver stage does."""

    def __init__(self, plan: InjectionPlan) -> None:
        self.plan = plan

    def __call__(self, context: StageContext) -> None:
        plan = self.plan
        publisher = context.publisher()
        try:
            confirm_publishing(context, publisher)
            context.ready.set()
            loop_n = plan.data.shape[1]
            period_s = plan.chunk_n / plan.fs
            next_due = time.monotonic()
            t0 = time.time()
            while not context.stop.is_set() and not plan.stop_publishing.is_set():
                if plan.published_n >= plan.max_n:
                    break
                if plan.paced:
                    delay = next_due - time.monotonic()
                    if delay > 0 and context.stop.wait(delay):
                        break
                    next_due += period_s
                elif not plan._wait_for_room(context.stop):
                    break
                first = plan.published_n
                n = min(plan.chunk_n, plan.max_n - first)
                start = first % loop_n
                idx = np.arange(start, start + n) % loop_n if start + n > loop_n else None
                chunk = plan.data[:, idx] if idx is not None else plan.data[:, start : start + n]
                body = RawChunk(
                    preset="default",
                    fs=float(plan.fs),
                    channels=tuple(plan.names),
                    first_index=first,
                    dropped=0,
                    t_first=t0 + first / plan.fs,
                    t_last=t0 + (first + n - 1) / plan.fs,
                )
                if plan.first_publish_wall is None:
                    plan.first_publish_wall = time.perf_counter()
                publisher.publish("raw.eeg", body, array=chunk, source_time=body.t_last)
                plan.published_n = first + n
            plan.done.set()
            context.stop.wait()  # a stage returns only when asked to stop
        finally:
            publisher.close()


class InjectedPipeline:
    """Broker + feature and controller stages (supervised), fed by a :class:`ChunkInjector`.

    ``start()`` returns once the subscribers are registered at the broker;
    :meth:`start_injector` then starts the injector and returns once its messages arrive.
    ``stop()`` is safe to call twice.
    """

    def __init__(self, plan: InjectionPlan, config: Config | None = None) -> None:
        self.plan = plan
        self.config = config or pipeline_config()
        self._zmq = zmq.Context()
        self._stop = threading.Event()
        cfg = self.config
        self.broker = Broker(
            cfg.bus.publish_endpoint,
            cfg.bus.subscribe_endpoint,
            hwm=cfg.bus.hwm,
            status_interval_s=cfg.daemon.status_interval_s,
            context=self._zmq,
        )
        self.stages: list[SupervisedStage] = []
        self._injector: SupervisedStage | None = None
        self.failures: list[str] = []

    def start(self) -> None:
        """Bind the broker and start the feature and controller stages (not the injector)."""
        self.broker.start()
        self.stages = build_stages(
            self.config,
            ChunkInjector(self.plan),
            publish_endpoint=self.broker.publish_endpoint,
            subscribe_endpoint=self.broker.subscribe_endpoint,
            stop=self._stop,
            zmq_context=self._zmq,
            on_failure=self._failed,
        )
        try:
            (self._injector,) = start_before_sources(self.stages)  # one injected source
        except Exception:
            self.stop()
            raise

    def start_injector(self) -> None:
        """Start publishing (call once an observer is subscribed)."""
        if self._injector is None:
            raise RuntimeError("bench pipeline: start() it before start_injector()")
        self._injector.start()
        if not self._injector.context.ready.wait(10.0):
            raise RuntimeError("bench pipeline: injected messages do not reach the broker")

    def subscriber(self, topics: tuple[str, ...]) -> BusSubscriber:
        return BusSubscriber(
            self.broker.subscribe_endpoint, topics, context=self._zmq, hwm=self.config.bus.hwm
        )

    def _failed(self, name: str, exc: BaseException, retry_in_s: float) -> None:
        self.failures.append(f"{name}: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        cut_short = stop_stages(self.stages, self._stop, 5.0 * max(1, len(self.stages)))
        self.broker.stop()
        if not cut_short:
            self._zmq.term()

    def __enter__(self) -> InjectedPipeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class EstimateLog:
    """Attention estimates seen by an observer: end index, arrival, feature latency."""

    fs: float
    ends: list[int] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # perf_counter
    latencies_ms: list[float] = field(default_factory=list)  # raw publish → estimate received
    quality: list[float] = field(default_factory=list)
    window_n: int | None = None
    hop_n: int | None = None

    def add(
        self,
        estimate: AttentionFeature,
        arrival_perf: float,
        arrival_wall: float,
    ) -> None:
        """Log one estimate (``message.data`` of a ``features.attention`` message)."""
        self.ends.append(estimate.sample_index)
        self.arrivals.append(arrival_perf)
        self.quality.append(estimate.quality)
        raw_time = estimate.trace.raw_publish_time if estimate.trace is not None else None
        if raw_time is not None:
            self.latencies_ms.append((arrival_wall - raw_time) * 1e3)
        if self.window_n is None:
            self.window_n = int(round(estimate.window_s * self.fs))
            self.hop_n = int(round(estimate.hop_s * self.fs))

    def expected_last_end(self, n_samples: int) -> int | None:
        """End index of the last window a stream of ``n_samples`` gives (None: unknown)."""
        if self.window_n is None or self.hop_n is None or n_samples < self.window_n:
            return None
        return self.window_n + (n_samples - self.window_n) // self.hop_n * self.hop_n

    def missing(self) -> int:
        """Estimates absent between the first and the last one seen (drops on the way)."""
        if len(self.ends) < 2 or not self.hop_n:
            return 0
        return (self.ends[-1] - self.ends[0]) // self.hop_n + 1 - len(set(self.ends))


def observe_attention(
    subscriber: BusSubscriber,
    log: EstimateLog,
    *,
    until: Callable[[EstimateLog], bool],
    timeout_s: float,
    on_estimate: Callable[[int], None] | None = None,
) -> bool:
    """Collect ``features.attention`` estimates until ``until(log)``; False on timeout."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        message = subscriber.recv(timeout_s=0.1)
        if message is None:
            if until(log):
                return True
            continue
        if not isinstance(message.data, AttentionFeature):
            continue
        log.add(message.data, time.perf_counter(), time.time())
        if on_estimate is not None:
            on_estimate(log.ends[-1])
        if until(log):
            return True
    return until(log)
