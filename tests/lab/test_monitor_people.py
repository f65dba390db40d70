"""The monitor shows people apart (issue 21.1/21.4): each named person's attention and
stress, who triggered the control and the decision; a single-person session as before."""

from __future__ import annotations

import time

from rich.console import Console

from runtime.bus import decode, encode
from runtime.messages import AttentionFeature, Body, Control, Decision, StressFeature
from runtime.monitor import MonitorState, render_monitor

_WINDOW = {"sample_index": 500, "time_s": 2.0, "window_s": 2.0, "hop_s": 0.5,
           "calibrated": True}


def _message(topic: str, body: Body):
    frames = encode(topic, body.to_dict(), publisher="test-1", seq=0)
    return decode([bytes(f) for f in frames])


def _screen(state: MonitorState, now: float) -> str:
    console = Console(record=True, width=110, color_system=None)
    console.print(render_monitor(state, now=now))
    return console.export_text()


def test_each_persons_levels_and_who_triggered_the_control_are_on_the_screen():
    now = time.time()
    state = MonitorState(endpoint="tcp://127.0.0.1:1")
    for person, attention, stress in (("P01", 0.82, 0.20), ("P02", 0.55, 0.85)):
        state.observe(_message("features.attention", AttentionFeature(
            **_WINDOW, valid=True, reason="", quality=1.0, attention=attention, person=person)))
        state.observe(_message("features.stress", StressFeature(
            **_WINDOW, valid=True, reason="", quality=1.0, stress=stress, person=person)))
    state.observe(_message("control", Control(
        intensity=1.0, gentle=True, mode="gentle", safe=False,
        rule="gentle: stress 0.85 (P02) > 0.7", issued_at=now, ttl_s=1.0,
        expires_at=now + 1.0, trigger_person="P02")))
    state.observe(_message("decision", Decision(
        option="gentle", index=0, probabilities=(1.0,), options=("gentle",), seed=0,
        latency_ms=0.1, explanation="poor signal", conflict_kind="poor-signal",
        trigger_person="P01")))
    assert set(state.people) == {"P01", "P02"}
    assert state.people["P02"].stress.stress == 0.85
    screen = _screen(state, now)
    for text in ("P01 attention 0.82  valid", "P01 stress    0.20  valid",
                 "P02 attention 0.55  valid", "P02 stress    0.85  valid",
                 "triggered by P02", "decision [P01]: gentle"):
        assert text in screen, f"{text!r} not on the screen:\n{screen}"


def test_a_single_person_session_shows_no_names():
    now = time.time()
    state = MonitorState(endpoint="tcp://127.0.0.1:1")
    state.observe(_message("features.attention", AttentionFeature(
        **_WINDOW, valid=True, reason="", quality=1.0, attention=0.82)))
    state.observe(_message("control", Control(
        intensity=1.0, gentle=False, mode="hold", safe=False, rule="hold",
        issued_at=now, ttl_s=1.0, expires_at=now + 1.0)))
    screen = _screen(state, now)
    assert state.people == {}
    assert "│ attention   0.82  valid" in screen
    assert "triggered by" not in screen and "P0" not in screen


def test_each_persons_device_is_on_its_own_line():
    """Two sources (status.driver-P01, -P02) and a sensor host's P03 on the shared
    status.driver: each person's device state, board and samples apart."""
    from runtime.messages import DriverStatus

    now = time.time()
    state = MonitorState(endpoint="tcp://127.0.0.1:1")
    for topic, person, device, samples in (
        ("status.driver-P01", "P01", "streaming", 2500),
        ("status.driver-P02", "P02", "lost", 1250),
        ("status.driver", "P03", "stalled", 500),
    ):
        state.observe(_message(topic, DriverStatus(
            component=topic.removeprefix("status."), state=device, board="synthetic",
            samples={"default": samples}, dropped={"default": 1}, person=person)))
    assert sorted(state.components) == ["driver-P01", "driver-P02", "driver-P03"]
    screen = _screen(state, now)
    for text in ("device P01 streaming  board synthetic  default 2500",
                 "device P02 lost  board synthetic  default 1250",
                 "device P03 stalled  board synthetic  default 500",
                 "board 3  gaps"):
        assert text in screen, f"{text!r} not on the screen:\n{screen}"


def test_a_single_unnamed_device_shows_as_before():
    from runtime.messages import DriverStatus

    now = time.time()
    state = MonitorState(endpoint="tcp://127.0.0.1:1")
    state.observe(_message("status.driver", DriverStatus(
        component="driver", state="streaming", board="synthetic", samples={"default": 42})))
    screen = _screen(state, now)
    assert "device  streaming  board synthetic" in screen
    assert "samples default 42" in screen and "device P" not in screen
