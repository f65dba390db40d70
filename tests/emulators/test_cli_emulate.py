"""``kintsugi emulate``: where-to-connect line, serving until stopped, and its errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtime.bus import BusSubscriber
from runtime.cli import main
from sim.emulators import GaleaEmulator
from tests.conftest import free_tcp_port

CLI = [sys.executable, "-c", "import sys; from runtime.cli import main; sys.exit(main())"]
ENV = dict(os.environ, PYTHONUNBUFFERED="1")
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_rehearsal_emulate_then_run_with_the_shipped_config() -> None:
    """docs/emulators.md's rehearsal: ``kintsugi emulate cyton`` prints where to connect,
    ``kintsugi run -c configs/cyton.toml --serial-port PORT`` streams from it (EEG on
    raw.eeg, the ECG lead on raw.ecg), and the emulator stops cleanly on SIGINT."""
    emulate = subprocess.Popen(
        [*CLI, "emulate", "cyton", "--json", "--fault", "drop@0.5+0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )
    try:
        first = json.loads(emulate.stdout.readline())
        assert first["board"] == "cyton" and first["faults"] == ["drop@0.5+0.5"]
        assert first["serial_port"].startswith("/dev/")
        assert first["connect"].endswith(f"--serial-port {first['serial_port']}")
        pub, sub = (f"tcp://127.0.0.1:{free_tcp_port()}" for _ in range(2))
        run = subprocess.Popen(
            [*CLI, "run", "-c", str(CONFIGS / "cyton.toml"), "--serial-port",
             first["serial_port"], "--publish-endpoint", pub, "--subscribe-endpoint", sub,
             "--duration", "3"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
        )
        seen = _collect(sub, ("raw.eeg", "raw.ecg", "status.driver"), seconds=2.5)
        run_out, run_err = run.communicate(timeout=20)
        assert run.returncode == 0, run_err
        assert "board=cyton" in run_out.splitlines()[0]
    finally:
        emulate.send_signal(signal.SIGINT)
        out, err = emulate.communicate(timeout=10)
    assert emulate.returncode == 0, err
    eeg, ecg = seen["raw.eeg"], seen["raw.ecg"]
    assert eeg.shape[0] == 7 and ecg.shape[0] == 1 and eeg.shape[1] > 200
    assert abs(eeg).max() < 300 < abs(ecg).max()  # EEG tens of µV, R waves near 1 mV
    assert seen["dropped"] > 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["what"] for e in events if e["event"] == "fault"] == [
        "drop@0.5+0.5 started", "drop@0.5+0.5 ended"
    ]
    assert events[-1]["event"] == "stopped" and events[-1]["stats"]["packets_dropped"] > 0


def _collect(endpoint: str, topics: tuple[str, ...], seconds: float) -> dict[str, Any]:
    """Raw arrays by topic (joined along time) and the driver's drop count, from the bus."""
    subscriber = BusSubscriber(endpoint, topics)
    arrays: dict[str, list[np.ndarray]] = {"raw.eeg": [], "raw.ecg": []}
    dropped = 0
    deadline = time.monotonic() + seconds + 5.0
    first: float | None = None
    try:
        while time.monotonic() < deadline:
            message = subscriber.recv(timeout_s=0.1)
            if message is None:
                continue
            first = first or time.monotonic()
            if message.topic in arrays and message.array is not None:
                arrays[message.topic].append(np.asarray(message.array))
            elif message.topic == "status.driver":
                dropped = max(dropped, int(message.body["dropped"].get("default", 0)))
            if time.monotonic() - first > seconds:
                break
    finally:
        subscriber.close()
    out: dict[str, Any] = {k: np.hstack(v) if v else np.zeros((0, 0)) for k, v in arrays.items()}
    out["dropped"] = dropped
    return out


def test_bad_fault_is_a_usage_error_that_names_the_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["emulate", "cyton", "--fault", "melt@3"]) == 2
    err = capsys.readouterr().err
    assert "--fault" in err and "'melt@3'" in err and "unplug" in err


def test_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", "galea", "--scenario", "no_such_scenario"]) == 2
    assert "--scenario 'no_such_scenario'" in capsys.readouterr().err


def test_busy_galea_address_is_a_startup_failure(
    galea_ip: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with GaleaEmulator(ip_address=galea_ip):
        code = main(["emulate", "galea", "--ip-address", galea_ip, "--duration", "0.5"])
    assert code == 3
    err = capsys.readouterr().err
    assert f"{galea_ip}:2390" in err and "another loopback address" in err
