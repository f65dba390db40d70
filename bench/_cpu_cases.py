"""What each ``bench_cpu`` case runs inside its own subprocess, and the clock it reads.

``python -m bench.bench_cpu`` plans the cases and spawns one ``--child`` subprocess per
case (``bench/bench_cpu.py``, whose docstring says what every case is); the child calls one
``child_*`` function here and prints its result. The clock is the process CPU time
(``resource.getrusage``, every thread of the subprocess) over a fixed wall window after a
warm-up. The two floor cases, ``playback_floor`` and ``bus_only``, differ only in what
publishes ``raw.eeg``; the broker, the subscriber that only decodes and the measurement
around them are one function, ``_decode_only_floor``, so both floors measure the same thing.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench._common import loopback_bus, percentile

#: Driver poll interval: the driver reads the board every 20 ms.
CHUNK_S = 0.02
#: The feature settings of every case (a 4 s calibration, done before the measurement).
FEATURES = {"baseline_s": 4.0}

#: Starts what publishes ``raw.eeg`` on a floor's broker (given the broker, its ZeroMQ
#: context and the stop event) and returns how to wait for it to end once stop is set.
StartProducer = Callable[[Any, Any, threading.Event], Callable[[], None]]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(
    subscribe: Any, fs: float, warmup_s: float, seconds: float
) -> tuple[float, float, list[float], int, float, float]:
    """Observe attention estimates on ``subscribe``'s socket: (cpu s, wall s, latencies ms,
    estimates in the window, mean quality, samples per second the estimates moved on by).
    The observer's own CPU is excluded."""
    from bench._pipeline import EstimateLog
    from runtime.messages import AttentionFeature

    log = EstimateLog(fs)
    end_warmup = time.monotonic() + warmup_s
    while time.monotonic() < end_warmup:
        message = subscribe.recv(timeout_s=0.1)
        if message is not None and isinstance(message.data, AttentionFeature):
            log.add(message.data, time.perf_counter(), time.time())
    measured = EstimateLog(fs)
    own0, cpu0, t0 = time.thread_time(), _cpu_s(), time.perf_counter()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        message = subscribe.recv(timeout_s=0.1)
        if message is not None and isinstance(message.data, AttentionFeature):
            measured.add(message.data, time.perf_counter(), time.time())
    cpu = (_cpu_s() - cpu0) - (time.thread_time() - own0)
    wall = time.perf_counter() - t0
    quality = float(np.mean(measured.quality)) if measured.quality else float("nan")
    rate = float("nan")
    if len(measured.ends) >= 2 and measured.arrivals[-1] > measured.arrivals[0]:
        rate = (measured.ends[-1] - measured.ends[0]) / (
            measured.arrivals[-1] - measured.arrivals[0]
        )
    return cpu, wall, measured.latencies_ms, len(measured.ends), quality, rate


def _decode_only_floor(
    fs: float, warmup_s: float, seconds: float, start_producer: StartProducer
) -> dict[str, Any]:
    """A floor case: a broker and one subscriber that only decodes ``raw.eeg`` (as the
    feature stage does) and counts its samples, fed by what ``start_producer`` starts once
    the subscriber is confirmed. Measures process CPU over ``seconds`` after ``warmup_s``
    (every thread counts: there is no observer to exclude) and whether the samples kept
    the board's rate."""
    import zmq

    from runtime.bus import Broker, BusSubscriber
    from runtime.stages import confirm_subscribed

    ctx = zmq.Context()
    broker = Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", hwm=10_000, context=ctx)
    broker.start()
    stop = threading.Event()
    received = [0]
    subscribed = threading.Event()

    def consume() -> None:
        subscriber = BusSubscriber(broker.subscribe_endpoint, ("raw.eeg",), context=ctx)
        confirm_subscribed(subscriber)
        subscribed.set()
        while not stop.is_set():
            message = subscriber.recv(timeout_s=0.1)
            if message is not None and message.array is not None:
                np.asarray(message.array, dtype=np.float64)  # as the feature stage does
                received[0] += message.array.shape[1]
        subscriber.close()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    subscribed.wait(10)
    join_producer = start_producer(broker, ctx, stop)
    time.sleep(warmup_s)
    n0, cpu0, t0 = received[0], _cpu_s(), time.perf_counter()
    time.sleep(seconds)
    cpu, wall = _cpu_s() - cpu0, time.perf_counter() - t0
    n = received[0] - n0
    stop.set()
    join_producer()
    consumer.join(5)
    broker.stop()
    ctx.term()
    return {
        "cpu_pct": cpu / wall * 100,
        "wall_s": wall,
        "samples_per_s": n / wall,
        "keeps_up": n / wall >= 0.95 * fs,
    }


def _injection_plan(channels: int, fs: float) -> Any:
    """Synthetic EEG of ``channels`` at ``fs``, injected in real time in 20 ms chunks
    (the driver's poll), without end: the plan of the ``injected`` and ``bus_only`` cases."""
    from bench._pipeline import InjectionPlan, eeg_channel_names, synthetic_eeg

    return InjectionPlan(
        data=synthetic_eeg(channels, fs),
        fs=fs,
        chunk_n=int(round(CHUNK_S * fs)),
        paced=True,
        max_n=10**12,
        names=eeg_channel_names(channels),
    )


def child_playback(fs: float, file: str, warmup_s: float, seconds: float) -> dict:
    """The whole daemon, its driver on the EE-211 playback of ``file`` (64 ch at ``fs``)."""
    from bench._playback import PlaybackDriverStage
    from runtime.bus import BusSubscriber
    from runtime.config import config_from_mapping
    from runtime.daemon import Daemon

    bus = loopback_bus()
    config = config_from_mapping(
        {
            "bus": {**bus, "hwm": 10_000},
            "source": {"board": "playback", "file": file, "loop": True, "heart_signal": "none"},
            "features": {"eeg": FEATURES},
            "controller": {"require_stress": False},
        },
        origin="bench",
    )

    def source(cfg: Any) -> PlaybackDriverStage:
        return PlaybackDriverStage(cfg.source, cfg.daemon.status_interval_s, fs)

    subscriber = BusSubscriber(bus["subscribe_endpoint"], ("features.attention",))
    try:
        with Daemon(config, source=source) as daemon:
            cpu, wall, latencies, n, quality, rate = _measure(subscriber, fs, warmup_s, seconds)
            failures = [f"{stage.name}: {f}" for stage in daemon.stages for f in stage.failures]
    finally:
        subscriber.close()
    return _result(cpu, wall, latencies, n, quality, rate, fs=fs, hop_s=0.25, failures=failures)


def child_playback_floor(fs: float, file: str, warmup_s: float, seconds: float) -> dict:
    """The floor: the same file on a bare playback board, read every 20 ms, its EEG rows
    published through the broker to one subscriber that only decodes them."""
    from bench._playback import ee211_layout, open_bare_playback
    from runtime.bus import BusPublisher
    from runtime.messages import RawChunk

    layout = ee211_layout(fs)
    rows = list(layout.eeg_rows)

    def start_reader(broker: Any, ctx: Any, stop: threading.Event) -> Callable[[], None]:
        def read() -> None:
            board = open_bare_playback(file)
            publisher = BusPublisher(broker.publish_endpoint, "floor", context=ctx)
            index = 0
            try:
                while not stop.wait(CHUNK_S):
                    data = board.get_board_data()
                    if data.shape[1] == 0:
                        continue
                    stamps = data[layout.timestamp_row]
                    body = RawChunk(
                        preset="default",
                        fs=fs,
                        channels=layout.eeg_names,
                        first_index=index,
                        dropped=0,
                        t_first=float(stamps[0]),
                        t_last=float(stamps[-1]),
                    )
                    publisher.publish("raw.eeg", body, array=data[rows].astype(np.float32))
                    index += data.shape[1]
            finally:
                publisher.close()
                board.stop_stream()
                board.release_session()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        return lambda: reader.join(10)

    return _decode_only_floor(fs, warmup_s, seconds, start_reader)


def child_injected(channels: int, fs: float, warmup_s: float, seconds: float) -> dict:
    """Broker + feature + controller stages fed by an injector in the driver's place."""
    from bench._pipeline import InjectedPipeline, pipeline_config

    plan = _injection_plan(channels, fs)
    with InjectedPipeline(plan, pipeline_config(FEATURES)) as pipeline:
        subscriber = pipeline.subscriber(("features.attention",))
        try:
            time.sleep(0.2)
            pipeline.start_injector()
            cpu, wall, latencies, n, quality, rate = _measure(subscriber, fs, warmup_s, seconds)
        finally:
            subscriber.close()
    return _result(
        cpu, wall, latencies, n, quality, rate, fs=fs, hop_s=0.25, failures=pipeline.failures
    )


def child_bus_only(channels: int, fs: float, warmup_s: float, seconds: float) -> dict:
    """The injector's floor: injector + broker + a subscriber that only decodes raw.eeg."""
    from bench._pipeline import ChunkInjector
    from runtime.stages import StageContext, SupervisedStage

    plan = _injection_plan(channels, fs)

    def start_injector(broker: Any, ctx: Any, stop: threading.Event) -> Callable[[], None]:
        context = StageContext(
            "driver", broker.publish_endpoint, broker.subscribe_endpoint, stop, zmq_context=ctx
        )
        injector = SupervisedStage(context, ChunkInjector(plan))
        injector.start()
        return lambda: injector.join(5)

    return _decode_only_floor(fs, warmup_s, seconds, start_injector)


def child_board(warmup_s: float, seconds: float) -> dict:
    """The real daemon on BrainFlow's synthetic board (16 ch EEG at 250 Hz, PPG)."""
    from runtime.bus import BusSubscriber
    from runtime.config import config_from_mapping
    from runtime.daemon import Daemon

    bus = loopback_bus()
    config = config_from_mapping(
        {"bus": bus, "source": {"board": "synthetic"}, "features": {"eeg": FEATURES}},
        origin="bench",
    )
    subscriber = BusSubscriber(bus["subscribe_endpoint"], ("features.attention",))
    try:
        with Daemon(config):
            cpu, wall, latencies, n, quality, rate = _measure(subscriber, 250.0, warmup_s, seconds)
    finally:
        subscriber.close()
    return _result(cpu, wall, latencies, n, quality, rate, fs=250.0, hop_s=0.25, failures=[])


def _result(
    cpu: float,
    wall: float,
    latencies: list[float],
    n: int,
    quality: float,
    rate: float,
    *,
    fs: float,
    hop_s: float,
    failures: list[str],
) -> dict[str, Any]:
    """A daemon case's result: CPU %, the estimates against those due, their latency, and
    whether it kept up (every estimate due, latency under the hop, the board's rate)."""
    expected = wall / hop_s
    p99 = percentile(latencies, 99)
    return {
        "cpu_pct": cpu / wall * 100,
        "wall_s": wall,
        "estimates": n,
        "estimates_expected": expected,
        "samples_per_s": rate,
        "feature_latency_p50_ms": percentile(latencies, 50),
        "feature_latency_p99_ms": p99,
        "mean_quality": quality,
        "keeps_up": bool(
            n >= 0.95 * expected - 1 and p99 < hop_s * 1e3 and abs(rate - fs) <= 0.05 * fs
        ),
        "stage_failures": list(failures),
    }
