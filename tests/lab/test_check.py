"""The signal check: its measurements against analytic values and BrainFlow's own railed
metric, a sim scenario with bad electrodes (ground truth), and Cyton impedance through
BrainFlow's real Cyton driver on the emulator (ground-truth electrode impedance)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from brainflow.data_filter import DataFilter

from drivers import describe_presets
from runtime.cli import main
from runtime.config import config_from_mapping
from runtime.features import EegFeatureSettings
from runtime.lab import (
    CheckSettings,
    assess_channels,
    check_signal,
    impedance_from_amplitude_ohm,
    lead_off_amplitude_uv,
)
from sim import load_scenario
from sim.emulators import CytonEmulator, sine_feed
from tests.lab._helpers import DATA, fast_config

FS = 250.0


def _signals() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(1)
    t = np.arange(int(4 * FS)) / FS
    clean = 20 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 2, t.size)
    hum = clean + 40 * np.sin(2 * np.pi * 50 * t)
    railed = np.full(t.size, 187500.0)
    drifting = clean + 150000.0  # 80 % of full scale: near the rail
    flat = np.full(t.size, 12.0)
    nan = clean.copy()
    nan[100] = np.nan
    return np.vstack([clean, hum, railed, drifting, flat, nan]), [
        "clean", "hum", "railed", "drifting", "flat", "nan"]


def test_measurements_match_analytic_values_and_brainflow():
    data, names = _signals()
    eeg = EegFeatureSettings(line_freq_hz=50)
    checks = {c.name: c for c in assess_channels(data, names, ["eeg"] * 6, FS, eeg)}
    # A 20 µV-peak sine plus 2 µV RMS noise: RMS √(20²/2 + 2²) within Welch's bin leakage.
    assert checks["clean"].rms_uv == pytest.approx(math.sqrt(200 + 4), rel=0.05)
    # 40 µV-peak mains hum: 40/√2 µV RMS in the 49–51 Hz band.
    assert checks["hum"].line_uv == pytest.approx(40 / math.sqrt(2), rel=0.05)
    for name in ("clean", "hum", "railed", "drifting"):
        expected = DataFilter.get_railed_percentage(np.ascontiguousarray(data[names.index(name)]),
                                                    24)
        assert checks[name].railed_percent == pytest.approx(expected, rel=1e-6)
    verdicts = {n: (c.verdict, c.problems) for n, c in checks.items()}
    assert verdicts == {
        "clean": ("pass", ()),
        "hum": ("fail", ("line-noise",)),
        "railed": ("fail", ("railed",)),
        "drifting": ("warn", ("near-railed",)),
        "flat": ("fail", ("flat",)),
        "nan": ("fail", ("non-finite",)),
    }
    assert all(checks[n].fixes for n in ("hum", "railed", "flat"))


def test_impedance_from_the_lead_off_sine():
    rng = np.random.default_rng(2)
    t = np.arange(496) / FS  # a multiple of 8 samples: whole 31.25 Hz cycles
    impedance_ohm = 23_000.0
    peak_uv = 6e-9 * (impedance_ohm + 2200.0) * 1e6
    x = (peak_uv * np.sin(2 * np.pi * 31.25 * t + 0.7) + 30 * np.sin(2 * np.pi * 10 * t)
         + 25 * np.sin(2 * np.pi * 50 * t) + rng.normal(0, 3, t.size) + 800.0)
    amplitude = lead_off_amplitude_uv(x, FS)
    assert impedance_from_amplitude_ohm(amplitude) == pytest.approx(impedance_ohm, rel=0.03)


def test_check_on_the_synthetic_board(tmp_path, capsys):
    config_path, config = fast_config(tmp_path)
    code = main(["check", "-c", str(config_path), "--seconds", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == (0 if result["passed"] else 1)
    names = [c["name"] for c in result["channels"]]
    assert names == ["Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8", "F5", "F7", "F3", "F1",
                     "F2", "F4", "F6", "F8", "PPG1", "PPG2"]
    assert result["impedance_note"].startswith("n/a")
    assert all(c["impedance_kohm"] is None for c in result["channels"])
    # BrainFlow's synthetic channel i is a sine at 5·(i+1) Hz: channel 0 (5 Hz) is clean.
    assert result["channels"][0]["verdict"] == "pass"


def test_check_finds_the_bad_electrodes_of_a_scenario(tmp_path, capsys):
    scenario = DATA / "bad_electrode.toml"
    config_path = tmp_path / "bad.toml"
    config_path.write_text(
        f'[source]\nboard = "playback"\nmaster_board = "synthetic"\nscenario = "{scenario}"\n'
    )
    code = main(["check", "-c", str(config_path), "--seconds", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "What to fix" in out
    # Ground truth from the scenario file: which EEG channel has which artifact.
    eeg_names = describe_presets(-1)["default"].eeg_names  # the synthetic board's
    truth = {}
    for artifact in load_scenario(str(scenario)).artifacts:
        for ch in artifact.channels:
            truth[eeg_names[ch]] = {"railed": "railed", "flat": "flat",
                                    "line_noise": "line-noise"}[artifact.kind]
    result = check_signal(config_from_mapping(
        {"source": {"board": "playback", "master_board": "synthetic",
                    "scenario": str(scenario)}}), CheckSettings(seconds=2))
    failed = {c.name: c.problems for c in result.channels if c.verdict == "fail"}
    assert failed == {name: (problem,) for name, problem in truth.items()}


@pytest.mark.parametrize(("impedance_ohm", "verdict"), [(12_000.0, "pass"), (80_000.0, "fail")])
def test_cyton_impedance_through_brainflow_and_the_emulator(impedance_ohm, verdict):
    feed = sine_feed("cyton", amplitude_uv=20, freq_hz=10, duration_s=60)
    with CytonEmulator(feed, speed=4.0, electrode_impedance_ohm=impedance_ohm) as cyton:
        config = config_from_mapping({"source": {"board": "cyton",
                                                 "serial_port": cyton.serial_port}})
        result = check_signal(config, CheckSettings(seconds=1, impedance_measure_s=0.5,
                                                    impedance_settle_s=0.25))
        commands = list(cyton.board.commands)
    assert len(result.channels) == 8
    for channel in result.channels:
        assert channel.impedance_kohm == pytest.approx(impedance_ohm / 1000, rel=0.05)
        assert channel.verdict == verdict
        assert ("impedance" in channel.problems) == (verdict == "fail")
    # Lead-off on the N input of one channel at a time, switched off again after each.
    lead_off = [c for c in commands if c.startswith("z")]
    assert lead_off == [f"z{ch}{on}Z" for ch in "12345678" for on in ("01", "00")]
