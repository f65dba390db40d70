"""Fault injection at the driver boundary and inside the daemon: detect, report, stay safe,
recover. The daemon runs in-process on real boards (synthetic, playback) and a real bus."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
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
from runtime.scenario import sim_layout_for
from runtime.stages import FeatureStage
from tests.conftest import free_tcp_port
from tests.daemon._helpers import DaemonProcess, write_config


def _config(source: dict, **sections):
    pub, sub = free_tcp_port(), free_tcp_port()
    return config_from_mapping(
        {
            "bus": {
                "publish_endpoint": f"tcp://127.0.0.1:{pub}",
                "subscribe_endpoint": f"tcp://127.0.0.1:{sub}",
            },
            "source": source,
            "features": {"eeg": {"window_s": 2.0, "baseline_s": 2.0}},
            "controller": {"require_stress": False, "min_dwell_s": 0.5},
            "daemon": {"restart_backoff_s": 0.2, "status_interval_s": 0.5},
            **sections,
        }
    )


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

    def first(self, test: Callable) -> object | None:
        return next((m for m in self.messages if test(m)), None)

    def close(self) -> None:
        self.subscriber.close()


def _state(name: str) -> Callable:
    return lambda m: m.topic == "status.driver" and m.body.get("state") == name


def _live_control(m) -> bool:
    return m.topic == "control" and not m.body["safe"]


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
                    m.topic == "control" and m.body["rule"] == "safe:device-ended" for m in ms
                ),
                15,
            )
    finally:
        recorder.close()
    last_sample = max(m.publish_time for m in recorder.messages if m.topic == "raw.eeg")
    ended = recorder.first(_state("ended"))
    safe = recorder.first(
        lambda m: m.topic == "control" and m.publish_time > last_sample and m.body["safe"]
    )
    # Bounds: the detector's 0.5 s stall timeout plus a second of slack for a loaded
    # 2-core CI machine (without detection, control would only go safe when its TTL ran out,
    # under another rule).
    assert ended.publish_time - last_sample <= 1.5
    assert safe.publish_time - last_sample <= 2.0
    assert safe.body["intensity"] == 1.0 and safe.body["gentle"] is True


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
                    m.topic == "status.driver" and m.body.get("state") == expected for m in ms
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
        and m.body.get("state") != "streaming"
    ]
    first_state = states[0]
    assert first_state.body["state"] in ("stalled", "reconnecting", "lost")
    assert first_state.publish_time - last_good <= 1.5  # stall_timeout_s + 1 s of slack
    safe = next(
        m
        for m in recorder.messages
        if m.topic == "control" and m.publish_time > last_good and m.body["safe"]
    )
    assert safe.publish_time - last_good <= 2.0
    assert safe.body["rule"].startswith("safe:device-")
    if fault == "freeze":
        assert any(m.body.get("state") == "lost" for m in states)
    assert recovered_s < 15


def test_a_stage_that_raises_is_restarted_and_reported_while_control_stays_safe(monkeypatch):
    original = FeatureStage._attention_for
    calls = {"n": 0}

    def flaky(self, message):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected feature failure")
        return original(self, message)

    monkeypatch.setattr(FeatureStage, "_attention_for", flaky)
    config = _config({"board": "synthetic"})
    recorder = Recorder(config.bus.subscribe_endpoint, ("status.features", "control"))
    try:
        with Daemon(config) as daemon:
            assert recorder.until(
                lambda ms: any(
                    m.topic == "status.features" and m.body.get("state") == "restarting" for m in ms
                ),
                10,
            )
            assert recorder.until(lambda ms: any(map(_live_control, ms)), 20)
            assert daemon.health()["features"]["restarts"] == 1
            assert "injected feature failure" in daemon.health()["features"]["last_failure"]
    finally:
        recorder.close()
    restarted = recorder.first(
        lambda m: m.topic == "status.features" and m.body.get("state") == "restarting"
    )
    before = [
        m
        for m in recorder.messages
        if m.topic == "control" and m.publish_time <= restarted.publish_time + 0.5
    ]
    assert before and all(m.body["safe"] for m in before)


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


@pytest.mark.parametrize(
    "array",
    [
        np.full((16, 50), np.nan, dtype=np.float32),
        np.full((16, 50), np.inf, dtype=np.float32),
        np.full((16, 50), 3e38, dtype=np.float32),
        np.zeros((3, 50), dtype=np.float32),  # wrong channel count
        np.zeros((16, 50, 2), dtype=np.float32),  # wrong rank
        np.zeros((16, 50), dtype=np.int8),  # wrong dtype
    ],
    ids=["nan", "inf", "huge", "channels", "rank", "dtype"],
)
def test_bad_raw_chunks_never_give_non_finite_or_out_of_bounds_control(array):
    config = _config({"board": "synthetic"})
    recorder = Recorder(config.bus.subscribe_endpoint, ("control",))
    try:
        with Daemon(config) as daemon:
            assert recorder.until(lambda ms: any(map(_live_control, ms)), 20)
            attacker = BusPublisher(daemon.publish_endpoint, "attacker")
            names = [f"C{i}" for i in range(array.shape[0])]
            for first in range(40):
                attacker.publish(
                    "raw.eeg",
                    {"fs": 250.0, "channels": names, "first_index": first * 50, "dropped": 0},
                    array=array,
                )
                time.sleep(0.02)
            attacker.close()
            count = len(recorder.messages)
            assert recorder.until(lambda ms: len(ms) > count + 10, 10)
            assert all(stage["alive"] for stage in daemon.health().values())
    finally:
        recorder.close()
    limits = config.controller
    for message in recorder.messages:
        intensity = message.body["intensity"]
        assert math.isfinite(intensity)
        assert limits.min_intensity <= intensity <= limits.max_intensity


def test_sigterm_stops_the_daemon_cleanly(tmp_path):
    config, _, _ = write_config(tmp_path)
    daemon = DaemonProcess(config)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=15) == 0
    assert "stopped" in daemon.stdout_path.read_text()


_IGNORES_STOP = """
import sys, threading, time
from runtime.cli._run import _install_signal_handlers
stop = threading.Event()
_install_signal_handlers(stop)
print("ready", flush=True)
while True:  # a shutdown that never finishes: only a forced exit ends this
    time.sleep(0.05)
"""


def test_a_second_sigint_forces_exit_130_when_shutdown_hangs():
    proc = subprocess.Popen(
        [sys.executable, "-c", _IGNORES_STOP], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)  # asks for a clean stop, which never comes
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
