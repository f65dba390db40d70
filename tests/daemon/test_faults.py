"""Fault injection at the driver boundary and inside the daemon: detect, report, stay safe,
recover. The daemon runs in-process on real boards (synthetic, playback) and a real bus."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

import sim
from drivers import BrainFlowSource, DeviceLostError
from runtime.bus import BusPublisher, BusSubscriber
from runtime.client import ControlClient
from runtime.config import config_from_mapping
from runtime.daemon import Daemon
from runtime.features import AttentionEstimator
from runtime.messages import AttentionFeature, Control, DriverStatus, FeaturesStatus, RawChunk
from runtime.scenario import sim_layout_for
from tests.conftest import free_tcp_port


def _config(source: dict, **sections):
    """A fast synthetic-board config on free ports; ``sections`` override keys per table."""
    pub, sub = free_tcp_port(), free_tcp_port()
    tables: dict = {
        "bus": {
            "publish_endpoint": f"tcp://127.0.0.1:{pub}",
            "subscribe_endpoint": f"tcp://127.0.0.1:{sub}",
        },
        "source": source,
        "features": {"eeg": {"window_s": 2.0, "baseline_s": 2.0}},
        "controller": {"require_stress": False, "min_dwell_s": 0.5},
        "daemon": {"restart_backoff_s": 0.2, "status_interval_s": 0.5},
    }
    for name, table in sections.items():
        tables[name] = {**tables.get(name, {}), **table}
    return config_from_mapping(tables)


class Recorder:
    """Collects bus messages (with the time they arrived) until a predicate holds."""

    def __init__(self, endpoint: str, topics: tuple[str, ...]) -> None:
        self.subscriber = BusSubscriber(endpoint, topics, hwm=100_000)
        self.messages: list = []

    def until(self, predicate: Callable[[list], bool], timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if predicate(self.messages):
                return True
            message = self.subscriber.recv(timeout_s=0.05)
            if message is not None:
                self.messages.append(message)
        return predicate(self.messages)

    def drain(self, seconds: float) -> None:
        """Collect whatever arrives for ``seconds``."""
        self.until(lambda ms: False, seconds)

    def first(self, test: Callable) -> object | None:
        return next((m for m in self.messages if test(m)), None)

    def close(self) -> None:
        self.subscriber.close()


def _state(name: str) -> Callable:
    return lambda m: isinstance(m.data, DriverStatus) and m.data.state == name


def _live_control(m) -> bool:
    return isinstance(m.data, Control) and not m.data.safe


def test_a_playback_file_that_ends_is_detected_and_control_goes_safe(tmp_path):
    path = tmp_path / "short.csv"
    scenario = sim.load_scenario("ci_short")
    sim.render_session(scenario, sim_layout_for("synthetic"), speed=1.0, duration_s=8).write(path)
    config = _config({"board": "playback", "master_board": "synthetic", "file": str(path)})
    recorder = Recorder(config.bus.subscribe_endpoint, ("raw.eeg", "status.driver", "control"))
    try:
        with Daemon(config):
            assert recorder.until(lambda ms: any(map(_live_control, ms)), 15)
            assert recorder.until(
                lambda ms: any(
                    m.topic == "control" and m.data.rule == "safe:device-ended" for m in ms
                ),
                15,
            )
    finally:
        recorder.close()
    last_sample = max(m.publish_time for m in recorder.messages if m.topic == "raw.eeg")
    ended = recorder.first(_state("ended"))
    safe = recorder.first(
        lambda m: m.topic == "control" and m.publish_time > last_sample and m.data.safe
    )
    # Bounds: the detector's 0.5 s stall timeout plus a second of slack for a loaded
    # 2-core CI machine (without detection, control would only go safe when its TTL ran out,
    # under another rule).
    assert ended.publish_time - last_sample <= 1.5
    assert safe.publish_time - last_sample <= 2.0
    assert safe.data.intensity == 1.0 and safe.data.gentle is True


def _inject(monkeypatch, fault: str, trigger: threading.Event) -> list:
    """Patch BrainFlowSource.read: once ``trigger`` is set the first board raises or freezes."""
    original = BrainFlowSource.read
    instances: list = []

    def read(self):
        if self not in instances:
            instances.append(self)
        if self is instances[0] and trigger.is_set():
            if fault == "raise":
                raise DeviceLostError("injected: the dongle was unplugged")
            original(self)  # keep draining; deliver nothing
            return []
        return original(self)

    monkeypatch.setattr(BrainFlowSource, "read", read)
    return instances


@pytest.mark.parametrize("fault", ["raise", "freeze"])
def test_a_board_that_fails_mid_stream_is_reported_made_safe_and_reconnected(monkeypatch, fault):
    trigger = threading.Event()
    instances = _inject(monkeypatch, fault, trigger)
    config = _config({"board": "synthetic", "stall_timeout_s": 0.5, "lost_after_s": 1.5})
    recorder = Recorder(config.bus.subscribe_endpoint, ("raw.eeg", "status.", "control"))
    try:
        with Daemon(config):
            assert recorder.until(lambda ms: any(map(_live_control, ms)), 20), "no live control"
            fault_wall = time.time()
            trigger.set()
            expected = "reconnecting"
            assert recorder.until(
                lambda ms: any(
                    m.topic == "status.driver" and m.data.state == expected for m in ms
                ),
                15,
            )
            fault_at = time.monotonic()
            # A second board is opened and streams; control comes back without a restart.
            assert recorder.until(
                lambda ms: len(instances) >= 2 and any(_live_control(m) for m in ms[-20:]), 20
            ), "did not recover"
            recovered_s = time.monotonic() - fault_at
    finally:
        recorder.close()
    # The last chunk the first board delivered before the fault was injected.
    first_board = next(m.publisher for m in recorder.messages if m.topic == "raw.eeg")
    last_good = max(
        m.publish_time
        for m in recorder.messages
        if m.topic == "raw.eeg" and m.publisher == first_board and m.publish_time <= fault_wall
    )
    # A routine "streaming" report may come after the last sample; the next change counts.
    states = [
        m
        for m in recorder.messages
        if m.topic == "status.driver"
        and m.publish_time > last_good
        and m.data.state != "streaming"
    ]
    first_state = states[0]
    assert first_state.data.state in ("stalled", "reconnecting", "lost")
    assert first_state.publish_time - last_good <= 1.5  # stall_timeout_s + 1 s of slack
    safe = next(
        m
        for m in recorder.messages
        if m.topic == "control" and m.publish_time > last_good and m.data.safe
    )
    assert safe.publish_time - last_good <= 2.0
    assert safe.data.rule.startswith("safe:device-")
    if fault == "freeze":
        assert any(m.data.state == "lost" for m in states)
    assert recovered_s < 15


def _assert_control_finite_and_bounded(messages: list, config) -> None:
    limits = config.controller
    controls = [m for m in messages if m.topic == "control"]
    assert controls, "no control message was received"
    for message in controls:
        intensity = message.data.intensity
        assert math.isfinite(intensity), message.data
        assert limits.min_intensity <= intensity <= limits.max_intensity, message.data


def test_a_stage_that_raises_is_restarted_and_reported_while_control_stays_safe(monkeypatch):
    # The feature stage raises inside the estimator's push once ``armed`` is set, i.e. only
    # after valid features (and live control) have been seen on the bus.
    original = AttentionEstimator.push
    armed, failed = threading.Event(), threading.Event()

    def push(self, chunk):
        if armed.is_set() and not failed.is_set():
            failed.set()
            raise RuntimeError("injected feature failure")
        return original(self, chunk)

    monkeypatch.setattr(AttentionEstimator, "push", push)
    # A 3 s backoff (×0.8–1.2 jitter) keeps the stage down for longer than features take to
    # go stale (hop + stale_after_s = 1.75 s), so the fail-safe must act during the outage.
    config = _config({"board": "synthetic"}, daemon={"restart_backoff_s": 3.0})
    recorder = Recorder(config.bus.subscribe_endpoint, ("features", "status.features", "control"))

    def report(ms: list):
        return next(
            (m for m in ms if m.topic == "status.features" and m.data.state == "restarting"),
            None,
        )

    def recovered(ms: list) -> bool:
        fault = report(ms)
        if fault is None:
            return False
        valid_after = [
            m
            for m in ms
            if m.topic == "features.attention"
            and m.publish_time > fault.publish_time
            and m.data.valid
        ]
        return bool(valid_after) and any(
            _live_control(m) and m.publish_time > valid_after[0].publish_time for m in ms
        )

    try:
        with Daemon(config) as daemon:
            assert recorder.until(
                lambda ms: (
                    any(m.topic == "features.attention" and m.data.valid for m in ms)
                    and any(map(_live_control, ms))
                ),
                20,
            ), "features never became valid before the fault"
            armed.set()
            assert recorder.until(lambda ms: report(ms) is not None, 10), "no restart reported"
            assert recorder.until(recovered, 20), "features or live control did not come back"
            health = daemon.health()["features"]
    finally:
        recorder.close()
    assert failed.is_set()
    assert health["alive"] and health["restarts"] == 1
    assert "injected feature failure" in health["last_failure"]
    messages = recorder.messages
    fault = report(messages)
    # The supervisor's report is the stage's own status type, with the failure in it.
    assert isinstance(fault.data, FeaturesStatus)
    assert fault.data.error == "RuntimeError: injected feature failure"
    assert fault.data.retry_in_s is not None and 2.4 <= fault.data.retry_in_s <= 3.6
    features = [m for m in messages if m.topic == "features.attention"]
    first_stage = features[0].publisher
    before = [m for m in features if m.publish_time < fault.publish_time]
    after = [m for m in features if m.publish_time > fault.publish_time]
    # The fault came after features flowed: valid ones from the first run of the stage.
    assert any(m.data.valid for m in before)
    assert {m.publisher for m in before} == {first_stage}
    # Features flow again, from the restarted stage (a new publisher), and become valid.
    assert after and first_stage not in {m.publisher for m in after}
    assert any(m.data.valid for m in after)
    restarted = [
        m
        for m in messages
        if m.topic == "status.features"
        and m.data.state == "running"
        and m.publish_time > fault.publish_time
        and m.publisher not in (first_stage, fault.publisher)
    ]
    assert restarted, "the restarted stage did not report itself"
    # Joining the running stream is not a loss: the new stage invents no gap (it used to
    # count every sample since start-up as lost and fill them with NaN).
    assert all(m.data.gap_samples == 0 for m in restarted), restarted[-1].data
    # While the stage is down control goes safe once features are stale, and stays safe
    # until the restarted stage publishes again.
    last_before, resumed = before[-1], after[0]
    controls = [m for m in messages if m.topic == "control"]
    outage = [
        c for c in controls if last_before.publish_time < c.publish_time < resumed.publish_time
    ]
    safe = next((c for c in outage if c.data.safe), None)
    assert safe is not None, [c.data.rule for c in outage]
    assert safe.data.rule == "safe:attention-stale"
    stale_s = last_before.data.hop_s + config.controller.stale_after_s
    assert safe.publish_time - last_before.publish_time <= stale_s + 1.0  # slack for 2-core CI
    assert all(c.data.safe for c in outage if c.publish_time >= safe.publish_time)
    # From then until the restarted stage's first valid feature, nothing above baseline.
    valid_again = next(m for m in after if m.data.valid)
    held = [c for c in controls if safe.publish_time <= c.publish_time < valid_again.publish_time]
    for c in held:
        assert c.data.mode != "intensify", c.data
        assert c.data.intensity == config.controller.baseline_intensity, c.data
    _assert_control_finite_and_bounded(messages, config)


def test_the_broker_is_restarted_and_clients_get_control_again():
    config = _config({"board": "synthetic"})
    with Daemon(config) as daemon:
        client = ControlClient(config.bus.subscribe_endpoint, publish_endpoint=None)
        try:
            end = time.monotonic() + 20
            while not client.is_live() and time.monotonic() < end:
                time.sleep(0.05)
            assert client.is_live()
            daemon.broker.stop()  # the broker dies; the daemon's watchdog restarts it
            received = client.received
            end = time.monotonic() + 15
            while client.received <= received + 3 and time.monotonic() < end:
                time.sleep(0.05)
            assert client.received > received + 3, "no control after the broker restart"
            assert daemon.broker_restarts == 1
        finally:
            client.close()


#: Samples in each injected chunk. Its first_index is where the driver's stream has got to,
#: so the feature stage sees no gap (a gap would itself be filled with NaN); 125 samples
#: (0.5 s) cover the driver's progress while the chunk travels through the broker.
_INJECTED_SAMPLES = 125
_INJECTED_CHUNKS = 24


_PROBE = "test.probe"


def _confirm_through(publisher: BusPublisher, recorder: Recorder, timeout_s: float = 5.0) -> None:
    """Publish probes until one reaches ``recorder`` (which subscribes to ``_PROBE``): the
    publisher is connected, and what it sent before is through the broker (one connection
    keeps order). A PUB drops what it sends before it connects and, closed with linger 0,
    what it has not sent yet."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        publisher.publish(_PROBE, {})
        if recorder.until(
            lambda ms: any(m.topic == _PROBE and m.publisher == publisher.publisher_id for m in ms),
            0.1,
        ):
            return
    raise AssertionError(f"{publisher.publisher_id}: nothing reached the broker in {timeout_s} s")


def _from(message, publisher_id: str) -> bool:
    """An attention estimate whose newest raw chunk came from ``publisher_id``."""
    estimate = message.data
    return (
        isinstance(estimate, AttentionFeature)
        and estimate.trace is not None
        and estimate.trace.raw_publisher == publisher_id
    )


def _filled(value: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda like: np.full_like(like, value)


@pytest.mark.parametrize(
    ("make", "verdict"),
    [
        # Accepted as data: the estimator's channel-quality check must reject every channel.
        pytest.param(_filled(np.nan), {"non-finite"}, id="nan"),
        # inf and huge take ~20 s each (attention must come back valid in real time): they
        # run in CI's second step (make test-slow-ci).
        pytest.param(_filled(np.inf), {"non-finite"}, id="inf", marks=pytest.mark.slow),
        pytest.param(
            _filled(3e38), {"railed", "out of range"}, id="huge", marks=pytest.mark.slow
        ),
        # Malformed: the feature stage must refuse them before any estimator sees them.
        pytest.param(lambda like: like[:3], "3 rows but channels", id="channels"),
        pytest.param(lambda like: np.stack([like, like], axis=-1), "array of shape", id="rank"),
        pytest.param(lambda like: like.astype(np.int8), "dtype int8", id="dtype"),
    ],
)
def test_bad_raw_chunks_never_give_non_finite_or_out_of_bounds_control(make, verdict, caplog):
    caplog.set_level(logging.WARNING, logger="runtime.stages")
    config = _config({"board": "synthetic"})
    recorder = Recorder(
        config.bus.subscribe_endpoint,
        ("raw.eeg", "features.attention", "status.features", "control", _PROBE),
    )

    def features_status(ms: list) -> FeaturesStatus | None:
        return next(
            (m.data for m in reversed(ms) if isinstance(m.data, FeaturesStatus)), None
        )

    def rejected(ms: list) -> int:
        status = features_status(ms)
        return 0 if status is None else status.rejected

    try:
        with Daemon(config) as daemon:
            assert recorder.until(lambda ms: any(map(_live_control, ms)), 20)
            attacker = BusPublisher(daemon.publish_endpoint, "attacker")
            _confirm_through(attacker, recorder)
            for _ in range(_INJECTED_CHUNKS):
                recorder.drain(0.02)
                # A chunk exactly as the driver publishes one (_driver.py _publish_chunk):
                # its channel names, preset, rate and clock, continuing its sample index.
                latest = next(
                    m
                    for m in reversed(recorder.messages)
                    if m.topic == "raw.eeg" and m.publisher != attacker.publisher_id
                )
                chunk = latest.data
                assert isinstance(chunk, RawChunk) and chunk.t_last is not None
                first = chunk.first_index + latest.array.shape[1]
                t_first = chunk.t_last + 1.0 / chunk.fs
                t_last = t_first + (_INJECTED_SAMPLES - 1) / chunk.fs
                like = np.zeros((len(chunk.channels), _INJECTED_SAMPLES), dtype=np.float32)
                attacker.publish(
                    "raw.eeg",
                    dataclasses.replace(
                        chunk, first_index=first, dropped=0, t_first=t_first, t_last=t_last
                    ),
                    array=make(like),
                    source_time=t_last,
                )
            _confirm_through(attacker, recorder)
            attacker_id = attacker.publisher_id
            attacker.close()
            names = list(chunk.channels)
            injected_at = time.time()
            if isinstance(verdict, set):
                # Estimates computed on the injected samples, then valid ones again once
                # the driver's clean samples have filled the window.
                def reached(ms: list) -> bool:
                    return any(_from(m, attacker_id) for m in ms)

                assert recorder.until(reached, 10), "no estimate came from the injected chunks"
                assert recorder.until(
                    lambda ms: any(
                        m.topic == "features.attention"
                        and m.publish_time > injected_at
                        and m.data.valid
                        for m in ms
                    ),
                    15,
                ), "attention did not become valid again after the bad chunks"
            else:
                assert recorder.until(
                    lambda ms: rejected(ms) >= _INJECTED_CHUNKS,
                    30,  # generous: it once took over 10 s with both cores busy elsewhere
                ), f"the feature stage did not count {_INJECTED_CHUNKS} rejected chunks"
            count = sum(m.topic == "control" for m in recorder.messages)
            assert recorder.until(lambda ms: sum(m.topic == "control" for m in ms) > count + 10, 10)
            # A status report published after the last chunk was handled.
            seen = len(recorder.messages)
            assert recorder.until(
                lambda ms: any(m.topic == "status.features" for m in ms[seen:]), 5
            )
            health = daemon.health()
    finally:
        recorder.close()
    assert all(stage["alive"] for stage in health.values())
    assert health["features"]["restarts"] == 0
    status = features_status(recorder.messages)
    # The injected first_index continued the stream: no gap was filled with NaN, so any
    # non-finite channel below came from the injected values themselves.
    assert status is not None and status.gap_samples == 0, status
    from_attacker = [m.data for m in recorder.messages if _from(m, attacker_id)]
    dropped = [r.getMessage() for r in caplog.records if "features: dropped a" in r.getMessage()]
    if isinstance(verdict, set):
        # The injected values reached the estimator's channel-quality check: each estimate
        # computed on them rejects every channel for them, and is invalid.
        assert status.rejected == 0, status
        assert not dropped, dropped
        # (A window ending inside an injected chunk holds injected samples on every row.)
        assert from_attacker
        for estimate in from_attacker:
            assert set(estimate.channels_bad) == set(names), estimate.channels_bad
            assert set(estimate.channels_bad.values()) <= verdict, estimate.channels_bad
            assert not estimate.valid and estimate.attention is None
            assert estimate.quality == 0.0
    else:
        assert status.rejected == _INJECTED_CHUNKS, status
        assert len(dropped) == _INJECTED_CHUNKS, dropped
        assert all(verdict in line for line in dropped), dropped
        assert not from_attacker
    _assert_control_finite_and_bounded(recorder.messages, config)
