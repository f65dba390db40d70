"""The controller stage on a real bus: conflicts go to the Qiskit resolver and every
decision is published on `decision` with its audit fields; each control carries the trace
of the newest feature, and status.controller the latency training jobs report."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from runtime.bus import BusPublisher, BusSubscriber
from runtime.controller import ControllerSettings
from runtime.messages import (
    AppliedControl,
    AttentionFeature,
    Control,
    ControllerStatus,
    Decision,
    DriverStatus,
    ModelStatus,
    StressFeature,
    Trace,
)
from runtime.stages import ControllerStage, StageContext, SupervisedStage


def connect_feature_path(
    features: BusPublisher, listener: BusSubscriber, person: str | None = None
) -> None:
    """Publish calibrating attention (safe, data time 0) of ``person`` until a control
    comes back, so the features that follow are not lost to a connection still being made."""
    probe = AttentionFeature(
        sample_index=0, time_s=0.0, window_s=2.0, hop_s=0.248, valid=False, calibrated=False,
        reason="calibrating", quality=0.0, person=person,
    )
    end = time.monotonic() + 10
    while time.monotonic() < end:
        features.publish("features.attention", probe)
        message = listener.recv(timeout_s=0.1)
        if message is not None and isinstance(message.data, Control):
            while listener.recv(timeout_s=0.2) is not None:
                pass
            return
    raise AssertionError("no control came back for the probe features")


def _attention(level: float | None, *, reason: str = "", trace: Trace | None = None):
    return AttentionFeature(
        sample_index=1000, time_s=4.0, window_s=4.0, hop_s=0.25, valid=level is not None,
        calibrated=True, reason=reason, quality=1.0 if level is not None else 0.125,
        attention=level, trace=trace,
    )


def _stress(level: float, *, trace: Trace | None = None) -> StressFeature:
    return StressFeature(
        sample_index=15000, time_s=60.0, window_s=60.0, hop_s=5.0, valid=True,
        calibrated=True, reason="", quality=1.0, stress=level, trace=trace,
    )


@pytest.fixture
def run_controller(broker) -> Iterator:
    """Starts a supervised controller stage with the given settings; stops it after."""
    started: list[tuple[threading.Event, SupervisedStage]] = []

    def start(settings: ControllerSettings) -> StageContext:
        stop = threading.Event()
        context = StageContext(
            "controller", broker.publish_endpoint, broker.subscribe_endpoint, stop
        )
        stage = SupervisedStage(context, ControllerStage(settings, status_interval_s=0.2))
        stage.start()
        started.append((stop, stage))
        assert context.ready.wait(30), "controller stage did not start"
        return context

    yield start
    for stop, stage in started:
        stop.set()
        assert stage.join(5), "controller stage did not stop"


def test_a_poor_signal_conflict_is_decided_by_the_quantum_resolver_and_published(
    broker, run_controller
):
    settings = ControllerSettings(decision="quantum", decision_seed=7, require_stress=True)
    decisions = BusSubscriber(broker.subscribe_endpoint, ("decision", "control"))
    features = BusPublisher(broker.publish_endpoint, "features")
    try:
        run_controller(settings)
        decision = control = None
        end = time.monotonic() + 30
        while (decision is None or control is None) and time.monotonic() < end:
            features.publish(
                "features.attention", _attention(None, reason="too few good channels (1/8)")
            )
            features.publish("features.stress", _stress(0.4))
            message = decisions.recv(timeout_s=0.2)
            if message is not None and isinstance(message.data, Decision):
                decision = message
            elif (
                message is not None
                and isinstance(message.data, Control)
                and message.data.rule.startswith("decision:")
            ):
                control = message
        assert decision is not None, "no decision was published"
        d = decision.data
        assert isinstance(d, Decision)
        assert d.resolver == "qiskit-aer" and d.conflict_kind == "poor-signal"
        assert d.options == ("intensify", "hold", "gentle", "pause")
        assert d.probabilities[0] == 0.0  # intensify is forbidden without evidence
        assert abs(sum(d.probabilities) - 1.0) < 1e-9
        assert d.option in ("hold", "gentle", "pause") and d.explanation
        assert isinstance(d.seed, int) and d.latency_ms >= 0
        # On the wire as the resolver made it.
        assert decision.body["options"] == ["intensify", "hold", "gentle", "pause"]
        assert control is not None and control.data.rule.startswith(f"decision:{d.option}")
        assert control.data.trigger == "feature" and control.data.mode == d.option
    finally:
        decisions.close()
        features.close()


def test_control_carries_the_newest_feature_trace_and_status_reports_applied_latency(
    broker, run_controller
):
    settings = ControllerSettings(require_stress=False, min_dwell_s=0.0, hop_s=0.1)
    listener = BusSubscriber(broker.subscribe_endpoint, ("control", "status.controller"))
    features = BusPublisher(broker.publish_endpoint, "features")
    model = BusPublisher(broker.publish_endpoint, "job")
    trace = Trace(
        raw_publish_time=1000.0, raw_publisher="driver-x", raw_seq=41, raw_source_time=55.5
    )
    try:
        run_controller(settings)
        control = status = None
        end = time.monotonic() + 20
        while (control is None or status is None) and time.monotonic() < end:
            features.publish("features.attention", _attention(0.5, trace=trace))
            # A job that applied a control whose sample left the driver 40 ms earlier.
            model.publish(
                "model.status",
                ModelStatus(
                    step=3,
                    control=AppliedControl(seq=0, sample_time=2000.0),
                    applied_at=2000.040,
                ),
            )
            message = listener.recv(timeout_s=0.2)
            if message is None:
                continue
            data = message.data
            if isinstance(data, Control) and data.trigger == "feature" and not data.safe:
                control = message
            elif isinstance(data, ControllerStatus) and data.applied_latency_ms is not None:
                status = data
        assert control is not None, "no feature-triggered control"
        c = control.data
        assert c.trace == trace
        assert c.sample_time == 1000.0 and c.source_time == 55.5
        assert c.seq == control.seq  # the control's seq is its envelope's
        assert c.mode == "hold" and c.intensity == pytest.approx(1.0)
        assert control.body["trace"]["raw_seq"] == 41
        assert status is not None, "status.controller never reported an applied latency"
        assert status.applied_latency_ms.n >= 1
        assert status.applied_latency_ms.p50 == pytest.approx(40.0, abs=1e-3)
        assert status.mode == "hold" and status.bus is not None and status.bus.received > 0
    finally:
        listener.close()
        features.close()
        model.close()


def test_a_driver_that_is_not_streaming_makes_the_control_safe_at_once(broker, run_controller):
    settings = ControllerSettings(require_stress=False, min_dwell_s=0.0, hop_s=10.0)
    listener = BusSubscriber(broker.subscribe_endpoint, ("control",))
    features = BusPublisher(broker.publish_endpoint, "features")
    driver = BusPublisher(broker.publish_endpoint, "driver")
    try:
        run_controller(settings)
        end = time.monotonic() + 20
        live = None
        while live is None and time.monotonic() < end:
            features.publish("features.attention", _attention(0.5))
            message = listener.recv(timeout_s=0.2)
            if message is not None and not message.data.safe:
                live = message
        assert live is not None, "control never left the safe state"
        # No more features, and hop_s is 10 s: only the driver's status can make it
        # publish a safe control this soon.
        sent = time.monotonic()
        driver.publish("status.driver", DriverStatus(component="driver", state="stalled"))
        safe = None
        while safe is None and time.monotonic() < sent + 3:
            message = listener.recv(timeout_s=0.2)
            if message is not None and message.data.safe:
                safe = message.data
        assert safe is not None, "a stalled driver did not make the control safe"
        assert safe.rule == "safe:device-stalled" and safe.mode == "safe"
        assert safe.gentle and safe.intensity == settings.baseline_intensity
    finally:
        listener.close()
        features.close()
        driver.close()


def _attention_at(index: int, level: float) -> AttentionFeature:
    return AttentionFeature(
        sample_index=index, time_s=index / 250.0, window_s=2.0, hop_s=62 / 250.0, valid=True,
        calibrated=True, reason="", quality=1.0, attention=level,
    )


def _controls(listener: BusSubscriber, seconds: float) -> list[Control]:
    found, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        message = listener.recv(timeout_s=0.05)
        if message is not None and isinstance(message.data, Control):
            found.append(message.data)
    return found


def test_a_burst_of_features_gives_one_control_each_at_its_data_time_then_one_liveness(
    broker, run_controller
):
    """Features published as fast as a flat-out replay makes them: one control per feature,
    stamped with its time_s, none from a wall-clock timer; once they stop, one safe control
    from the wall-clock liveness check, and no repeats."""
    settings = ControllerSettings(require_stress=False, min_dwell_s=0.0, hop_s=0.25,
                                  stale_after_s=0.3, ttl_s=1.0, smoothing_tau_s=0.0)
    listener = BusSubscriber(broker.subscribe_endpoint, ("control",))
    features = BusPublisher(broker.publish_endpoint, "features")
    try:
        run_controller(settings)
        connect_feature_path(features, listener)
        indices = [500 + 62 * k for k in range(40)]
        for index in indices:
            features.publish("features.attention", _attention_at(index, 0.5))
        controls = _controls(listener, 2.0)
    finally:
        listener.close()
        features.close()
    burst = [c for c in controls if c.trigger == "feature" and c.time_s >= 500 / 250]
    assert [c.time_s for c in burst] == [i / 250.0 for i in indices]
    assert [c.seq for c in burst] == list(range(burst[0].seq, burst[0].seq + len(indices)))
    assert {c.mode for c in burst[1:]} == {"hold"}
    after = controls[controls.index(burst[-1]) + 1:]
    assert [(c.trigger, c.rule, c.safe) for c in after] == [
        ("liveness", "safe:attention-stale", True)]
    assert after[0].time_s == indices[-1] / 250.0  # at the data clock: data stopped there


def test_a_device_state_waits_for_the_features_of_the_data_delivered_before_it(
    broker, run_controller
):
    """A stalled driver that had delivered 10 s of data: the features up to 10 s still
    come (a replay's backlog), then the safe state; not before the last of them."""
    settings = ControllerSettings(require_stress=False, min_dwell_s=0.0, stale_after_s=1.5,
                                  smoothing_tau_s=0.0)
    listener = BusSubscriber(broker.subscribe_endpoint, ("control",))
    features = BusPublisher(broker.publish_endpoint, "features")
    driver = BusPublisher(broker.publish_endpoint, "driver")
    layout = {"default": {"sampling_rate": 250}}
    try:
        run_controller(settings)
        connect_feature_path(features, listener)
        for index in range(500, 1500, 62):
            features.publish("features.attention", _attention_at(index, 0.5))
        driver.publish("status.driver", DriverStatus(
            component="driver", state="stalled", samples={"default": 2500}, presets=layout))
        early = _controls(listener, 0.5)
        for index in range(1500, 2500, 62):  # the rest of the data before the stall
            features.publish("features.attention", _attention_at(index, 0.5))
        late = _controls(listener, 0.5)
    finally:
        listener.close()
        features.close()
        driver.close()
    assert not any(c.safe and c.trigger == "device" for c in early)
    device = [c for c in late if c.trigger == "device"]
    assert [c.rule for c in device] == ["safe:device-stalled"]
    assert late[-1] is device[0]  # after the control of the last feature, at 2492 / 250 s
    assert late[-2].time_s == 2492 / 250.0 and late[-2].trigger == "feature"
