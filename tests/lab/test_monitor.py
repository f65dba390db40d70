"""The monitor: its state from real bus messages, its screen, and the real command in a real
terminal (tmux) attached to a real daemon process, read back with ``tmux capture-pane``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from rich.console import Console

from runtime.bus import BusSubscriber, decode, encode
from runtime.cli import main
from runtime.messages import (
    AttentionFeature,
    Body,
    Control,
    DaemonStatus,
    Decision,
    DriverStatus,
    Marker,
    RawChunk,
    StageHealth,
    StressFeature,
)
from runtime.monitor import MonitorState, render_monitor
from tests.conftest import free_tcp_port
from tests.daemon._helpers import DaemonProcess, write_config

#: What every estimate carries besides its level (a 2 s window every 0.5 s, calibrated).
_WINDOW = {"sample_index": 500, "time_s": 2.0, "window_s": 2.0, "hop_s": 0.5,
           "calibrated": True}


def _message(topic: str, body: Body, array: np.ndarray | None = None, seq: int = 0,
             publish_time: float | None = None):
    """A message as the bus delivers it (the real envelope, encoded and decoded)."""
    frames = encode(topic, body.to_dict(), publisher="test-1", seq=seq, array=array,
                    publish_time=publish_time)
    return decode([bytes(f) for f in frames])


def _screen(state: MonitorState, now: float) -> str:
    console = Console(record=True, width=110, color_system=None)
    console.print(render_monitor(state, now=now))
    return console.export_text()


def test_state_and_screen_follow_the_messages():
    now = time.time()
    state = MonitorState(endpoint="tcp://127.0.0.1:1")
    rng = np.random.default_rng(3)
    eeg = rng.normal(0, 12.5, (2, 500)).astype(np.float32)
    state.observe(_message("raw.eeg", RawChunk(preset="default", fs=250.0,
                                               channels=("Fz", "Cz"), first_index=0), eeg))
    state.observe(_message("features.attention", AttentionFeature(
        **_WINDOW, valid=True, reason="", quality=0.5, attention=0.82,
        channels_used=("Fz",), channels_bad={"Cz": "railed"})))
    state.observe(_message("features.stress", StressFeature(
        **_WINDOW, valid=False, reason="too-few-beats", quality=1.0, stress=0.4)))
    state.observe(_message("control", Control(
        intensity=1.5, gentle=False, mode="intensify", safe=False,
        rule="intensify: attention 0.82 > 0.8, stress 0.20 < 0.3",
        issued_at=now, ttl_s=1.0, expires_at=now + 1.0, sample_time=now - 0.010),
        publish_time=now))
    state.observe(_message("decision", Decision(
        option="hold", index=0, probabilities=(0.5, 0.5), options=("hold", "pause"), seed=1,
        latency_ms=0.2, explanation="conflict", conflict_kind="attention-vs-stress",
        resolver="ethics")))
    state.observe(_message("marker", Marker(label="eyes closed", value=7.0, time=now)))
    state.observe(_message("status.driver", DriverStatus(
        component="driver", state="stalled", board="cyton", dropped={"default": 3})))
    state.observe(_message("status.daemon", DaemonStatus(
        component="daemon", state="running",
        stages={"driver": StageHealth(alive=True, restarts=2)})))
    channels = {c.name: c for c in state.channels()}
    assert channels["Fz"].state == "ok" and channels["Cz"].state == "railed"
    assert channels["Fz"].rms_uv == pytest.approx(float(np.std(eeg[0])), rel=1e-6)
    median, _ = state.latency_summary()
    assert median == pytest.approx(10.0, abs=1.0)
    screen = _screen(state, now)
    for text in ("0.82  valid", "0.40  invalid: too-few-beats", "intensify", "1.500",
                 "intensify: attention 0.82 > 0.8", "railed", "stalled", "board 3",
                 "×2 restarts", "decision: hold (ethics) conflict", "marker: eyes closed (7.0)",
                 "median 10 ms", "board cyton"):
        assert text in screen, f"{text!r} not on the screen:\n{screen}"


def test_a_restart_report_changes_the_state_and_keeps_the_counters():
    now = time.time()
    state = MonitorState(endpoint="tcp://127.0.0.1:1")
    state.observe(_message("status.daemon", DaemonStatus(component="daemon", state="running")))
    state.observe(_message("status.driver", DriverStatus(
        component="driver", state="streaming", board="cyton", samples={"default": 1250},
        dropped={"default": 3})))
    # The supervisor's report: only who, the new state and the failure.
    state.observe(_message("status.driver", DriverStatus(
        component="driver", state="reconnecting", error="DeviceLostError: gone",
        retry_in_s=0.5)))
    driver = state.components["driver"]
    assert isinstance(driver, DriverStatus)
    assert (driver.state, driver.error, driver.board) == ("reconnecting",
                                                          "DeviceLostError: gone", "cyton")
    assert driver.samples == {"default": 1250} and driver.dropped == {"default": 3}
    screen = _screen(state, now)
    for text in ("device  reconnecting  board cyton", "default 1250", "board 3"):
        assert text in screen, f"{text!r} not on the screen:\n{screen}"
    # A heartbeat (no error) replaces the status as it is.
    state.observe(_message("status.driver", DriverStatus(
        component="driver", state="streaming", board="cyton", samples={"default": 10})))
    assert state.components["driver"].samples == {"default": 10}
    assert state.components["driver"].error is None


def test_monitor_once_without_a_daemon(capsys):
    code = main(["monitor", "--once", "--timeout", "0.3",
                 "--endpoint", f"tcp://127.0.0.1:{free_tcp_port()}"])
    assert code == 1
    assert "waiting for a daemon" in capsys.readouterr().out


def _tmux(socket: str, *args: str) -> str:
    """Run tmux on a server of the test's own (``-L``), so no other tmux is touched."""
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                          check=True).stdout


#: What the control panel's mode row looks like (every mode of the policy).
_MODE_ROW = re.compile(r"\bmode\s+(safe|pause|gentle|hold|intensify)\b")
#: A capture is judged only when every control the test received in this many seconds
#: before it carried the same mode (the monitor refreshes 5 times a second).
_STEADY_S = 1.0


def _judge(captures: list, controls: list) -> list[tuple[str, str]]:
    """(mode on the bus, mode on the screen) for each capture taken in a steady mode.

    ``captures``: (monotonic time, screen text); ``controls``: (monotonic time received,
    mode) of the ``control`` messages a separate subscriber received. A screen with no mode
    row, or more than one, is judged as the list of what it shows (so it never matches).
    """
    judged = []
    for at, screen in captures:
        recent = {mode for received, mode in controls if at - _STEADY_S <= received <= at}
        if len(recent) == 1 and any(received < at - _STEADY_S for received, _ in controls):
            shown = _MODE_ROW.findall(screen)
            judged.append((recent.pop(), shown[0] if len(shown) == 1 else repr(shown)))
    return judged


@pytest.mark.skipif(shutil.which("tmux") is None,
                    reason="tmux is not installed (apt-get install tmux): the monitor's "
                    "terminal test needs a real terminal")
def test_monitor_in_a_real_terminal_against_a_real_daemon(tmp_path):
    # A 5 s baseline: control is safe (calibrating) long enough to be seen on the screen,
    # then live; the screen must show the mode the bus carries in both.
    config, pub, sub = write_config(tmp_path, baseline_s=5.0)
    daemon = DaemonProcess(config)
    witness = None
    socket = f"kintsugi-test-{uuid.uuid4().hex[:8]}"
    session = "monitor"
    # COLUMNS/LINES set by the test runner's environment would override the pane's size.
    command = (f"env -u COLUMNS -u LINES {sys.executable} -m runtime.cli monitor "
               f"--endpoint {sub} --refresh 5")
    controls: list[tuple[float, str]] = []
    captures: list[tuple[float, str]] = []

    def watch(seconds: float) -> str:
        """Collect the witness's controls for ``seconds``, then capture the screen."""
        end = time.monotonic() + seconds
        while True:
            message = witness.recv(timeout_s=max(0.0, end - time.monotonic()))
            if message is not None:
                assert isinstance(message.data, Control)
                controls.append((time.monotonic(), message.data.mode))
            elif time.monotonic() >= end:
                break
        screen = _tmux(socket, "capture-pane", "-p", "-t", session)
        captures.append((time.monotonic(), screen))
        return screen

    try:
        # The witness: the daemon's control messages, on a subscriber of the test's own.
        witness = BusSubscriber(sub, ("control",))
        _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "110",
              "-y", "45", command)
        _tmux(socket, "resize-window", "-t", session, "-x", "110", "-y", "45")
        screen = ""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            screen = watch(0.1)
            judged = _judge(captures, controls)
            if (any(bus == "safe" for bus, _ in judged)
                    and any(bus != "safe" for bus, _ in judged)
                    and re.search(r"attention\s+\d\.\d\d\s+valid", screen)
                    and "streaming" in screen):
                break
        judged = _judge(captures, controls)
        # The monitor shows the mode the daemon is in: safe while it calibrates, then the
        # live mode, each as a separate subscriber received it on the bus.
        assert judged and all(bus == shown for bus, shown in judged), (judged, screen)
        assert any(bus == "safe" for bus, _ in judged), (controls, screen)
        assert any(bus != "safe" for bus, _ in judged), (controls, screen)
        assert re.search(r"attention\s+\d\.\d\d\s+valid", screen), screen
        assert "device  streaming  board synthetic" in screen
        assert re.search(r"Fz\s+\d+\.\d µV ok", screen), screen  # synthetic Fz: a 5 Hz sine
        assert re.search(r"sample→control median \d+ ms", screen), screen
        assert main(["mark", "eyes closed", "--publish-endpoint", pub, "--endpoint", sub]) == 0
        end = time.monotonic() + 10
        while time.monotonic() < end and "marker: eyes closed" not in screen:
            time.sleep(0.3)
            screen = _tmux(socket, "capture-pane", "-p", "-t", session)
        assert "marker: eyes closed" in screen, screen
    finally:
        if witness is not None:
            witness.close()
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        daemon.stop()
