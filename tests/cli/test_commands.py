"""The kintsugi command: boards, hrv, bands, watch, keys, status, and run's refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from runtime.bus import BusPublisher
from runtime.cli import main
from runtime.messages import Control
from tests.features.conftest import package_file


def _json_out(capsys) -> object:
    return json.loads(capsys.readouterr().out)


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "watch", "boards", "status", "keys", "sim", "hrv", "bands", "resolve"):
        assert command in out


def test_boards_json_shows_galea_ppg_on_the_auxiliary_preset(capsys):
    assert main(["boards", "--json"]) == 0
    boards = {b["name"]: b for b in _json_out(capsys)}
    assert set(boards) >= {"synthetic", "playback", "cyton", "cyton-daisy", "ganglion", "galea"}
    assert boards["galea"]["presets"]["auxiliary"]["ppg_rows"]
    assert boards["cyton"]["connect_with"] == "serial_port"


def test_hrv_json_keys_and_values_on_a_real_recording(capsys):
    path = package_file("heartpy", "data", "data.csv")
    assert main(["hrv", str(path), "--fs", "100", "--kind", "ppg", "--json"]) == 0
    result = _json_out(capsys)
    for key in ("hr_bpm", "rmssd_ms", "sdnn_ms", "pnn50_pct", "n_beats"):
        assert key in result
    hp = pytest.importorskip("heartpy")
    _, measures = hp.process(np.loadtxt(path), 100.0)
    assert result["hr_bpm"] == pytest.approx(measures["bpm"], abs=1.0)


def test_bands_json_on_a_sine_file(tmp_path, capsys):
    fs = 250.0
    t = np.arange(int(10 * fs)) / fs
    path = tmp_path / "sine.npy"
    np.save(path, 20 * np.sin(2 * np.pi * 20 * t))  # β
    assert main(["bands", str(path), "--fs", "250", "--json"]) == 0
    result = _json_out(capsys)
    assert set(result) == {"delta", "theta", "alpha", "beta", "gamma", "engagement_index"}
    assert result["beta"] == pytest.approx(200.0, rel=0.02)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["hrv", "missing.csv", "--fs", "100", "--kind", "ppg"], "does not exist"),
        (["bands", "{csv2}", "--fs", "100"], "choose one with --column"),
        (["bands", "{csv2}", "--fs", "100", "--column", "5"], "columns 0–1"),
        (["bands", "{csv2}", "--fs", "-1", "--column", "1"], "--fs must be"),
        (["hrv", "{short}", "--fs", "100", "--kind", "ecg"], "beat detection needs"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, args, needle):
    csv2 = tmp_path / "two.csv"
    csv2.write_text("a,b\n" + "\n".join(f"{i},{i * 2}" for i in range(300)))
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(50))
    args = [a.format(csv2=csv2, short=short) for a in args]
    assert main(args) == 2
    assert needle in capsys.readouterr().err


def test_watch_prints_one_json_object_per_message_and_stops_after_count(broker, capsys):
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    # The broker's last-value cache hands `watch` the newest control as soon as it subscribes.
    end = time.monotonic() + 3
    control = Control(intensity=1.5, gentle=False, rule="test", safe=False, mode="intensify",
                      seq=0, ttl_s=1.0, issued_at=1.0, expires_at=2.0)
    while broker.stats.forwarded == 0 and time.monotonic() < end:
        publisher.publish("control", control)
        time.sleep(0.05)
    code = main(["watch", "control", "--json", "--count", "1", "--timeout", "5",
                 "--endpoint", broker.subscribe_endpoint])
    publisher.close()
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    message = json.loads(lines[0])
    assert message["topic"] == "control" and message["publisher"] == publisher.publisher_id
    assert message["body"] == control.to_dict()  # printed verbatim, as published
    assert Control.from_dict(message["body"]) == control


def test_watch_summarises_control_from_its_fields(broker, capsys):
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    control = Control(intensity=1.25, gentle=True, rule="gentle: stress 0.80 > 0.7",
                      safe=False, mode="gentle", seq=3, ttl_s=1.0, issued_at=1.0,
                      expires_at=2.0)
    end = time.monotonic() + 3
    while broker.stats.forwarded == 0 and time.monotonic() < end:
        publisher.publish("control", control)
        time.sleep(0.05)
    code = main(["watch", "control", "--count", "1", "--timeout", "5",
                 "--endpoint", broker.subscribe_endpoint])
    publisher.close()
    assert code == 0
    out = capsys.readouterr().out
    assert "intensity=1.250 gentle=True mode=gentle rule='gentle: stress 0.80 > 0.7'" in out


def test_watch_times_out_with_exit_1_when_nothing_comes(broker, capsys):
    code = main(["watch", "nothing.here", "--timeout", "0.3", "--endpoint",
                 broker.subscribe_endpoint])
    assert code == 1
    assert "nothing on 'nothing.here'" in capsys.readouterr().err


def test_run_refuses_to_listen_beyond_loopback_without_keys(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run", "-c", "configs/synthetic.toml",
         "--listen", "0.0.0.0", "--duration", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 3
    assert "kintsugi keys" in result.stderr and "0.0.0.0" in result.stderr


def test_run_with_an_absent_device_fails_fast_with_exit_3(tmp_path):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run", "-c", "configs/synthetic.toml",
         "--board", "cyton", "--serial-port", "/dev/ttyUSB-absent"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 3
    assert "/dev/ttyUSB-absent" in result.stderr
    assert time.monotonic() - started < 30
