"""CURVE end to end through the CLI, and a stuck subscriber that must not hurt the daemon."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.bus import BusPublisher, BusSubscriber, CurveKeys, make_keys
from runtime.client import ControlClient
from runtime.stages import confirm_subscribed
from tests.daemon._helpers import DaemonProcess, write_config


def _kintsugi(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_status_json_names_endpoints_and_component_health(tmp_path):
    config, pub, sub = write_config(tmp_path)
    daemon = DaemonProcess(config)
    try:
        result = _kintsugi("status", "--json", "--endpoint", sub, "--timeout", "10")
        assert result.returncode == 0, result.stderr
        status = json.loads(result.stdout)
        assert status["publish_endpoint"] == pub
        assert status["subscribe_endpoint"] == sub
        components = status["components"]
        assert {"broker", "daemon", "driver", "features", "controller"} <= set(components)
        assert components["driver"]["state"] in ("opening", "streaming")
        assert all(s["alive"] for s in components["daemon"]["stages"].values())
    finally:
        daemon.stop()
    result = _kintsugi("status", "--endpoint", sub, "--timeout", "1")
    assert result.returncode == 1 and "no daemon answered" in result.stderr


def test_with_keys_only_key_holders_see_control(tmp_path):
    keys = tmp_path / "keys"
    assert _kintsugi("keys", str(keys), "--client", "laptop").returncode == 0
    config, _, sub = write_config(tmp_path)
    daemon = DaemonProcess(config, "--keys", str(keys))
    try:
        ok = _kintsugi(
            "watch",
            "control",
            "--count",
            "1",
            "--json",
            "--timeout",
            "15",
            "--endpoint",
            sub,
            "--keys",
            str(keys),
            "--key-name",
            "laptop",
        )
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["topic"] == "control"
        denied = _kintsugi("watch", "control", "--count", "1", "--timeout", "3", "--endpoint", sub)
        assert denied.returncode == 1  # nothing arrives without keys
        status = _kintsugi("status", "--endpoint", sub, "--keys", str(keys), "--timeout", "10")
        assert status.returncode == 0 and "subscribe_endpoint" in status.stdout
        with ControlClient(sub, publish_endpoint=None, keys=keys, key_name="laptop") as client:
            end = time.monotonic() + 15
            while not client.is_live() and time.monotonic() < end:
                time.sleep(0.05)
            assert client.is_live()
        make_keys(tmp_path / "other")
        stranger = CurveKeys.load(tmp_path / "other")
        with ControlClient(sub, publish_endpoint=None, keys=stranger) as client:
            time.sleep(3)
            assert not client.is_live() and client.received == 0
    finally:
        daemon.stop()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow  # ~16 s: CI's second step (make test-slow-ci)
def test_a_stuck_subscriber_neither_grows_the_daemon_nor_goes_unnoticed(tmp_path):
    # A 15-minute scenario replayed flat out, plus a flood through the daemon's broker sent
    # once the stuck subscriber is surely connected (the replay's burst alone can come and
    # go before a subscriber started beside the daemon has reconnected): together far more
    # than the high-water marks and the socket buffers can hold.
    config, pub, sub = write_config(tmp_path)
    text = config.read_text().replace(
        '[source]\nboard = "synthetic"',
        (
            '[source]\nboard = "playback"\nmaster_board = "synthetic"\n'
            'scenario = "focus_then_stress"\nspeed = 0.0'
        ),
    )
    config.write_text(text.replace("[bus]\n", "[bus]\nhwm = 100\n"))
    daemon = DaemonProcess(config)
    stuck = BusSubscriber(sub, ("raw.", "features", "control", "status.", "test."), hwm=10)
    flood = BusPublisher(pub, "flood")
    try:
        confirm_subscribed(stuck)  # registered at the broker; from here on it reads nothing
        time.sleep(2)  # warm-up
        before = _rss_kb(daemon.proc.pid)
        # 64 MB in 32 kB messages: a full queue to the stuck peer (100 messages) is 3.2 MB.
        payload = np.zeros((16, 512), dtype=np.float32)
        for i in range(2000):
            flood.publish("test.flood", {"index": i}, array=payload)  # outside the schema
            if i % 50 == 0:
                time.sleep(0.05)
        time.sleep(8)  # the stuck subscriber reads nothing meanwhile
        after = _rss_kb(daemon.proc.pid)
        assert after - before < 20_000, f"daemon RSS grew {after - before} kB"
        # A gap shows once a later message on the same topic arrives: status.* messages
        # keep coming every second, so read until one reveals what was dropped.
        end = time.monotonic() + 15
        while stuck.stats.dropped == 0 and time.monotonic() < end:
            stuck.recv(timeout_s=0.1)
        # Its queue held at most ~hwm messages per peer; the rest are counted as drops.
        assert stuck.stats.dropped > 0, stuck.stats
        assert daemon.proc.poll() is None
    finally:
        flood.close()
        stuck.close()
        daemon.stop()
