"""The feature stage with several people on one bus: each person's estimators, baseline and
sample count are their own, their estimates carry the person, and a sensor host's times are
put on the hub's clock once the hub has estimated that clock."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import sim
from runtime.bus import BusPublisher, BusSubscriber
from runtime.config import FeaturesConfig, SourceConfig
from runtime.features import AttentionEstimator, EegFeatureSettings
from runtime.messages import AttentionFeature, ClockStatus, FeaturesStatus, RawChunk, SensorClock
from runtime.stages import FeatureStage, StageContext, SupervisedStage
from tests._levels import ATTENTION_SPAN_S, MAX_MAE, settled_errors
from tests.stages._helpers import PROBE_TOPIC, connect

FS = 250.0
CHUNK = 250


def _chunk(person: str | None, first_index: int, names: tuple[str, ...], t0: float) -> RawChunk:
    t_first = t0 + first_index / FS
    return RawChunk(
        preset="default", fs=FS, channels=names, first_index=first_index, dropped=0,
        t_first=t_first, t_last=t_first + (CHUNK - 1) / FS, read_time=t_first + CHUNK / FS,
        person=person,
    )


class _Running:
    """A feature stage on ``broker`` with a listener and a publisher standing in for drivers."""

    def __init__(self, broker, features: FeaturesConfig, topics: tuple[str, ...]) -> None:
        self.stop = threading.Event()
        self.context = StageContext(
            "features", broker.publish_endpoint, broker.subscribe_endpoint, self.stop
        )
        self.stage = SupervisedStage(
            self.context,
            FeatureStage(features, SourceConfig(heart_signal="none"), status_interval_s=0.1),
        )
        self.listener = BusSubscriber(broker.subscribe_endpoint, topics + (PROBE_TOPIC,))
        self.driver = BusPublisher(broker.publish_endpoint, "driver")

    def __enter__(self) -> _Running:
        self.stage.start()
        assert self.context.ready.wait(30), "feature stage did not start"
        connect(self.driver, self.listener)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        assert self.stage.join(5)
        self.listener.close()
        self.driver.close()

    def collect(self, until, timeout_s: float = 60.0) -> list:
        """Messages on the listener's topics until ``until(messages)`` holds."""
        got: list = []
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not until(got):
            message = self.listener.recv(timeout_s=0.2)
            if message is not None and message.topic != PROBE_TOPIC:
                got.append(message)
        return got


def test_each_person_has_their_own_estimators_baselines_and_levels(broker):
    """Two people's sim sessions, chunks interleaved, P02 joining 20 s after P01: each
    person's estimates are exactly those of an estimator fed only their data (one
    calibration each, sample indices from their own start) and match their own ground
    truth to the level tests' bound."""
    sessions = {
        "P01": sim.render_session(
            sim.load_scenario("ci_short"), sim.generic_layout(8, FS), speed=0
        ),
        "P02": sim.render_session(
            sim.load_scenario("focus_then_stress"), sim.generic_layout(8, FS), speed=0
        ),
    }
    eeg = {p: r.data[list(r.layout.eeg_rows)].astype(np.float32) for p, r in sessions.items()}
    names = tuple(f"E{i + 1}" for i in range(8))
    settings = EegFeatureSettings()
    seconds = min(x.shape[1] for x in eeg.values()) // CHUNK
    with _Running(broker, FeaturesConfig(eeg=settings), ("features.attention",)) as run:
        # P01 alone for 20 s, then both, one chunk each in turn.
        order = [("P01", i) for i in range(20)]
        for i in range(seconds):
            order += [("P02", i)] + ([("P01", i + 20)] if i + 20 < seconds else [])
        sent = {"P01": 0, "P02": 0}
        for person, second in order:
            first = second * CHUNK
            data = eeg[person][:, first : first + CHUNK]
            chunk = _chunk(person, first, names, t0=1000.0)
            run.driver.publish("raw.eeg", chunk, array=data, source_time=chunk.t_last)
            sent[person] = max(sent[person], first + CHUNK)
            time.sleep(0.002)  # the broker and stage keep pace; nothing is dropped
        expected = {
            p: AttentionEstimator(FS, list(names), settings).push(eeg[p][:, : sent[p]])
            for p in eeg
        }
        total = sum(len(v) for v in expected.values())
        messages = run.collect(lambda got: len(got) >= total)
    by_person: dict[str | None, list[AttentionFeature]] = {}
    for message in messages:
        by_person.setdefault(message.data.person, []).append(message.data)
    assert set(by_person) == {"P01", "P02"}
    for person, estimates in expected.items():
        got = by_person[person]
        assert [f.sample_index for f in got] == [e.sample_index for e in estimates]
        assert [f.attention for f in got] == [e.attention for e in estimates]
        assert [f.calibrated for f in got] == [e.calibrated for e in estimates]
        valid = [(f.sample_index, f.attention) for f in got if f.valid]
        errors = settled_errors(
            valid, sessions[person].truth.attention, int(ATTENTION_SPAN_S * FS)
        )
        assert errors.size > 100 and errors.mean() <= MAX_MAE, (person, errors.mean())


def test_a_sensors_times_go_on_the_hubs_clock_once_the_hub_knows_it(broker):
    """A status.clock estimate of P01 (+250 ms, +50 ppm) moves P01's trace times and the
    feature's source time by the offset and says so; P02, whose clock is unknown, and
    every feature before the estimate keep the times they came with."""
    names = tuple(f"E{i + 1}" for i in range(4))
    settings = EegFeatureSettings(window_s=2.0, hop_s=0.5)
    rng = np.random.default_rng(5)
    topics = ("features.attention", "status.features")
    with _Running(broker, FeaturesConfig(eeg=settings), topics) as run:
        def send(person: str, second: int) -> RawChunk:
            chunk = _chunk(person, second * CHUNK, names, t0=time.time())
            data = rng.normal(0.0, 10.0, (len(names), CHUNK)).astype(np.float32)
            run.driver.publish("raw.eeg", chunk, array=data, source_time=chunk.t_last)
            return chunk

        before = [send("P01", s) for s in range(3)]
        run.collect(lambda got: sum(isinstance(m.data, AttentionFeature) for m in got) >= 2)
        now = time.time()
        clock = ClockStatus(component="clock", state="running", sensors={"P01": SensorClock(
            offset_ms=250.0, drift_ppm=50.0, uncertainty_ms=0.3, samples=40,
            last_rtt_ms=0.5, at_time=now,
        )})
        run.driver.publish("status.clock", clock)
        time.sleep(0.3)  # the stage has taken the estimate before the next chunks
        p01 = send("P01", 3)
        p02 = [send("P02", s) for s in range(3)]

        def done(got: list) -> bool:
            ends = {(m.data.person, m.data.sample_index) for m in got
                    if isinstance(m.data, AttentionFeature)}
            people = any(isinstance(m.data, FeaturesStatus) and m.data.people == ("P01", "P02")
                         for m in got)
            return ("P01", 4 * CHUNK) in ends and ("P02", 3 * CHUNK) in ends and people

        messages = run.collect(done, timeout_s=20)
        assert done(messages)
    features = [m for m in messages if isinstance(m.data, AttentionFeature)]
    mapped = [m for m in features if m.data.person == "P01" and m.data.sample_index > 750]
    assert mapped
    for message in mapped:
        trace = message.data.trace
        # The offset at the time the chunk arrived: 250 ms plus 50 ppm of well under 5 s.
        assert trace.clock_offset_s == pytest.approx(0.25, abs=50e-6 * 5)
        assert trace.raw_source_time == pytest.approx(p01.t_last - 0.25, abs=1e-3)
        assert message.source_time == trace.raw_source_time
        assert trace.raw_read_time == pytest.approx(p01.read_time - 0.25, abs=1e-3)
    unmapped = [m for m in features if m.data.person == "P02"]
    assert unmapped and all(m.data.trace.clock_offset_s is None for m in unmapped)
    assert {m.data.trace.raw_source_time for m in unmapped} <= {c.t_last for c in p02}
    early = [m for m in features if m.data.person == "P01" and m.data.sample_index <= 750]
    assert early and all(m.data.trace.clock_offset_s is None for m in early)
    assert {m.data.trace.raw_source_time for m in early} <= {c.t_last for c in before}


def test_each_persons_heart_settings_are_their_own(broker):
    """[[sources]]: P01's PPG is on row 1 of raw.ppg, P02 has no heart signal. P01 gets
    stress from row 1 exactly (an estimator fed that row alone), P02 none, and P02's
    raw.ppg chunks are ignored rather than refused."""
    from runtime.features import HeartFeatureSettings, StressEstimator
    from tests.features._synth import heart_signal

    heart = HeartFeatureSettings(window_s=20.0, hop_s=5.0, baseline_s=20.0)
    fs = 100.0
    ppg, _ = heart_signal(4, fs, "ppg", [(40.0, 800.0, 30.0, 10.0)])
    rows = np.stack([np.zeros_like(ppg), ppg]).astype(np.float32)
    people = {"P01": SourceConfig(person="P01", heart_signal="ppg", heart_channel=1),
              "P02": SourceConfig(person="P02", heart_signal="none")}
    stop = threading.Event()
    context = StageContext("features", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    stage = SupervisedStage(context, FeatureStage(
        FeaturesConfig(heart=heart), SourceConfig(heart_signal="ppg", heart_channel=0), 0.1,
        people_sources=people,
    ))
    listener = BusSubscriber(
        broker.subscribe_endpoint, ("features.stress", "status.features", PROBE_TOPIC)
    )
    driver = BusPublisher(broker.publish_endpoint, "driver")
    stage.start()
    try:
        assert context.ready.wait(30)
        connect(driver, listener)
        step = int(fs)
        for first in range(0, rows.shape[1] - step + 1, step):
            for person in ("P01", "P02"):
                chunk = RawChunk(preset="default", fs=fs, channels=("PPG0", "PPG1"),
                                 first_index=first, dropped=0, t_first=first / fs,
                                 t_last=(first + step - 1) / fs, person=person)
                driver.publish("raw.ppg", chunk, array=rows[:, first : first + step])
        expected = StressEstimator(fs, "ppg", heart).push(ppg[: rows.shape[1] // step * step])
        got, status = [], None
        end = time.monotonic() + 30
        while time.monotonic() < end and (len(got) < len(expected) or status is None):
            message = listener.recv(timeout_s=0.2)
            if message is None:
                continue
            if message.topic == "features.stress":
                got.append(message.data)
            elif isinstance(message.data, FeaturesStatus) and message.data.stress >= len(expected):
                status = message.data
    finally:
        stop.set()
        stage.join(5)
        listener.close()
        driver.close()
    assert expected and {f.person for f in got} == {"P01"}
    assert [f.sample_index for f in got] == [e.sample_index for e in expected]
    assert [f.stress for f in got] == [e.stress for e in expected]
    assert status is not None and status.rejected == 0 and status.people == ("P01",)
