"""The controller stage with two people on a real bus (issue 21.4): features published
with ``person`` set, as the real types, give controls that follow the group rule and name
the person that triggered them; the recorder's reader keeps the name."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from runtime.bus import BusPublisher, BusSubscriber
from runtime.controller import ControllerSettings
from runtime.controller._settings import GroupSettings
from runtime.messages import AttentionFeature, Control, DriverStatus, Feature, StressFeature
from runtime.recorder import SessionRecord
from runtime.stages import ControllerStage, StageContext, SupervisedStage
from tests.stages.test_controller_stage import _controls, connect_feature_path

FS = 250.0
HOP_N = 62


@pytest.fixture
def run_controller(broker) -> Iterator:
    started: list[tuple[threading.Event, SupervisedStage]] = []

    def start(settings: ControllerSettings) -> None:
        stop = threading.Event()
        context = StageContext(
            "controller", broker.publish_endpoint, broker.subscribe_endpoint, stop
        )
        stage = SupervisedStage(context, ControllerStage(settings, status_interval_s=0.5))
        stage.start()
        started.append((stop, stage))
        assert context.ready.wait(30), "controller stage did not start"

    yield start
    for stop, stage in started:
        stop.set()
        assert stage.join(5), "controller stage did not stop"


def _features(index: int, person: str, attention: float, stress: float) -> list[Feature]:
    t = index / FS
    return [
        AttentionFeature(sample_index=index, time_s=t, window_s=2.0, hop_s=HOP_N / FS,
                         valid=True, calibrated=True, reason="", quality=1.0,
                         attention=attention, person=person),
        StressFeature(sample_index=index, time_s=t, window_s=20.0, hop_s=HOP_N / FS,
                      valid=True, calibrated=True, reason="", quality=1.0, stress=stress,
                      person=person),
    ]


def test_two_peoples_features_drive_one_control_by_the_group_rule(broker, run_controller):
    """Both attentive and calm → intensify; P02 stressed → gentle naming P02; P02's
    features stop while P01's go on → safe naming P02 (lost = "safe")."""
    settings = ControllerSettings(smoothing_tau_s=0.0, hysteresis=0.0, min_dwell_s=0.0,
                                  stale_after_s=1.0, ttl_s=2.0,
                                  group=GroupSettings(lost="safe", min_people=2))
    listener = BusSubscriber(broker.subscribe_endpoint, ("control",))
    features = BusPublisher(broker.publish_endpoint, "features")
    script = (  # hops, P01 (attention, stress), P02 (attention, stress) or None: silent
        (12, (0.9, 0.1), (0.85, 0.2)),
        (8, (0.9, 0.1), (0.9, 0.85)),
        (12, (0.9, 0.1), None),
    )
    try:
        run_controller(settings)
        connect_feature_path(features, listener, person="P01")
        index, phase_start = 1000, []
        for hops, p01, p02 in script:
            phase_start.append(index / FS)
            for _ in range(hops):
                for body in _features(index, "P01", *p01):
                    features.publish(body.TOPIC, body)
                if p02 is not None:
                    for body in _features(index, "P02", *p02):
                        features.publish(body.TOPIC, body)
                index += HOP_N
        controls = [c for c in _controls(listener, 2.5) if c.time_s is not None
                    and c.time_s >= phase_start[0] and c.trigger == "feature"]
    finally:
        listener.close()
        features.close()

    def phase(k: int) -> list[Control]:
        end = phase_start[k + 1] if k + 1 < len(phase_start) else float("inf")
        return [c for c in controls if phase_start[k] <= c.time_s < end]

    calm, stressed, lost = phase(0), phase(1), phase(2)
    assert len(calm) == 12 * 4 and len(stressed) == 8 * 4 and len(lost) == 12 * 2
    assert (calm[-1].mode, calm[-1].intensity, calm[-1].trigger_person) == (
        "intensify", 1.5, None)
    # gentle from P02's first stressed stress feature, the fourth of the phase's first hop
    assert [c.mode for c in stressed[:4]] == ["intensify"] * 3 + ["gentle"]
    assert {c.mode for c in stressed[3:]} == {"gentle"}
    assert {c.trigger_person for c in stressed[3:]} == {"P02"}
    assert stressed[-1].rule == "gentle: stress 0.85 (P02) > 0.7"
    safe = [c for c in lost if c.safe]
    assert safe and {c.rule for c in safe} == {"safe:attention-stale (P02)"}
    assert {c.trigger_person for c in safe} == {"P02"}
    assert not lost[0].safe and lost[-1].safe
    # recorded as it came, read back by the recorder's reader with the person kept
    line = json.loads(json.dumps({"topic": "control", "body": safe[0].to_dict()}))
    assert SessionRecord.from_json(line).data.trigger_person == "P02"


def _publish_hops(features: BusPublisher, index: int, hops: int, people: tuple[str, ...]) -> int:
    """``hops`` hops of attentive, calm features of each of ``people``; the next index."""
    for _ in range(hops):
        for person in people:
            for body in _features(index, person, 0.9, 0.1):
                features.publish(body.TOPIC, body)
        index += HOP_N
    return index


@pytest.mark.parametrize(("lost", "state"), [("safe", "lost"), ("drop", "lost"),
                                             ("safe", "streaming")])
def test_one_persons_driver_state_acts_on_that_person_by_the_group_rule(
    broker, run_controller, lost, state
):
    """P02's driver (``status.driver-P02``, its DriverStatus naming P02) reports ``lost``:
    with group.lost = "safe" the control goes safe at once naming P02 (trigger device) and
    stays so while P01's features go on; with "drop" P01's controls go on, P02 dropped. A
    driver of P02 that reports ``streaming`` changes nothing."""
    # stale_after_s: the pauses to collect controls stay well within the wall-clock
    # liveness check (hop + 1.5 s without features)
    settings = ControllerSettings(smoothing_tau_s=0.0, hysteresis=0.0, min_dwell_s=0.0,
                                  stale_after_s=1.5, ttl_s=2.0, require_stress=True,
                                  group=GroupSettings(lost=lost))
    listener = BusSubscriber(broker.subscribe_endpoint, ("control",))
    features = BusPublisher(broker.publish_endpoint, "features")
    driver = BusPublisher(broker.publish_endpoint, "driver-P02")
    try:
        run_controller(settings)
        connect_feature_path(features, listener, person="P01")
        index = _publish_hops(features, 1000, 12, ("P01", "P02"))
        before = _controls(listener, 0.4)
        driver.publish("status.driver-P02", DriverStatus(
            component="driver-P02", state=state, board="synthetic", person="P02"))
        device = _controls(listener, 0.4)
        after_start = index / FS
        _publish_hops(features, index, 8, ("P01",) if state == "lost" else ("P01", "P02"))
        after = [c for c in _controls(listener, 1.5) if c.trigger == "feature"
                 and c.time_s is not None and c.time_s >= after_start]
    finally:
        listener.close()
        features.close()
        driver.close()
    assert before[-1].mode == "intensify" and not before[-1].safe
    assert len(after) == 8 * (2 if state == "lost" else 4)
    if lost == "safe" and state == "lost":
        assert [(c.trigger, c.rule, c.safe, c.trigger_person) for c in device] == [
            ("device", "safe:device-lost (P02)", True, "P02")]
        assert {(c.safe, c.rule, c.trigger_person) for c in after} == {
            (True, "safe:device-lost (P02)", "P02")}
    elif state == "lost":  # drop: P01 alone goes on
        assert device == []
        assert {(c.mode, c.safe) for c in after} == {("intensify", False)}
        assert after[-1].rule == ("intensify: attention 0.90 (P01) > 0.8, stress 0.10 (P01) "
                                  "(dropped: P02 device-lost)")
    else:  # streaming: nothing happens
        assert device == []
        assert {(c.mode, c.safe) for c in after} == {("intensify", False)}
        assert not any("dropped" in c.rule for c in after)
