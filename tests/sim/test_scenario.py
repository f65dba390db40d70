"""Scenario files: the shipped ones load; invalid ones fail naming the key and the fix."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim

BASE: dict[str, Any] = {
    "name": "t", "duration_s": 60.0, "seed": 1, "calibration_s": 20.0,
    "attention": [[0, 0.5], [20, 0.5], [40, 0.9]], "stress": [[0, 0.1]],
}


def _with(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    raw.update(changes)
    return raw


@pytest.mark.parametrize("name", ["ci_short", "calm_baseline", "focus_then_stress", "artifacts"])
def test_shipped_scenarios_load_with_a_calibration_segment(name: str) -> None:
    assert name in sim.list_scenarios()
    scenario = sim.load_scenario(name)
    assert scenario.name == name
    assert scenario.calibration_s >= 120.0
    for timeline in (scenario.attention, scenario.stress):
        assert timeline.is_constant_between(0.0, scenario.calibration_s)
    assert scenario.stress.at(0.0) <= 0.3  # calibration is rest


def test_ci_short_is_short_and_clean() -> None:
    scenario = sim.load_scenario("ci_short")
    assert 180.0 <= scenario.duration_s <= 300.0
    assert scenario.artifacts == ()


def test_a_scenario_loads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('duration_s = 30\nseed = 2\nattention = [[0, 0.4]]\nstress = [[0, 0.6]]\n')
    scenario = sim.load_scenario(path)
    assert (scenario.name, scenario.duration_s, scenario.seed) == ("mine", 30.0, 2)
    assert scenario.stress.at(12.0) == 0.6


def test_timeline_is_piecewise_linear_and_holds_its_ends() -> None:
    tl = sim.Timeline.from_points([[10, 0.2], [20, 0.6], [20, 1.0], [30, 0.0]])
    np.testing.assert_allclose(tl.at([0, 10, 15, 19.999, 20, 25, 30, 99]),
                               [0.2, 0.2, 0.4, 0.59996, 1.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        (_with(durations=5), r"unknown scenario key 'durations'.*allowed keys: .*duration_s"),
        ({k: v for k, v in BASE.items() if k != "seed"}, r"'seed' is missing"),
        (_with(duration_s=-3), r"'duration_s': -3 is invalid; expected a number > 0"),
        (_with(seed=1.5), r"'seed': 1\.5 is invalid; expected an integer >= 0"),
        (_with(attention=[[0, 0.5], [20, 1.4]]), r"'attention\[1\]' value must lie in \[0, 1\]"),
        (_with(stress=[[10, 0.1], [5, 0.2]]), r"'stress\[1\]' time 5 s is before"),
        (_with(stress="high"), r"'stress' must be a list of \[time_s, value\] pairs"),
        (_with(attention=[[0, 0.5], [10, 0.9]]), r"'attention' changes during the calibration"),
        (_with(calibration_s=60.0), r"'calibration_s': 60\.0 is invalid; expected less than"),
        (_with(eeg={"alpha_gain": 1}), r"unknown scenario key 'eeg\.alpha_gain'.*alpha_uv2"),
        (_with(heart={"hr_rest_bpm": 190}), r"'hr_rest_bpm' = 190"),
        (_with(markers=[[70, 1]]), r"'markers\[0\] time': 70 is invalid"),
        (_with(artifacts=[{"kind": "blinks", "start_s": 1, "duration_s": 1}]),
         r"'artifacts\[0\]\.kind': 'blinks' is not an artifact kind; allowed: blink, emg"),
        (_with(artifacts=[{"kind": "emg", "start_s": 1, "duration_s": 1, "interval_s": 2}]),
         r"unknown scenario key 'artifacts\[0\]\.interval_s'.*channels, amplitude_uv"),
        (_with(artifacts=[{"kind": "emg", "start_s": 1}]), r"'artifacts\[0\]\.duration_s' is "
                                                            "missing"),
        (_with(artifacts=[{"kind": "flat", "start_s": 50, "duration_s": 20}]),
         r"'artifacts\[0\]': span 50–70 s ends after the scenario's duration_s = 60"),
        (_with(artifacts=[{"kind": "nan_gap", "start_s": 1, "duration_s": 1, "target": "eog"}]),
         r"'artifacts\[0\]\.target': 'eog' is invalid; allowed: eeg, ecg, ppg, all"),
        (_with(artifacts=[{"kind": "pop", "start_s": 1, "duration_s": 1, "channels": [-1]}]),
         r"'artifacts\[0\]\.channels': \[-1\] is invalid"),
        (_with(artifacts=[{"kind": "pop", "start_s": 1, "duration_s": 1, "channels": "frontal"}]),
         r"'artifacts\[0\]\.channels': 'frontal' is invalid"),
    ],
)
def test_invalid_scenarios_name_the_key(raw: dict[str, Any], pattern: str) -> None:
    with pytest.raises(sim.ScenarioError, match=pattern):
        sim.parse_scenario(raw)


def test_bad_toml_and_unknown_names_are_explained(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("duration_s = = 3\n")
    with pytest.raises(sim.ScenarioError, match=re.escape(f"{bad} is not valid TOML")):
        sim.load_scenario(bad)
    with pytest.raises(sim.ScenarioError, match="ci_short") as info:
        sim.load_scenario("no_such_scenario")
    assert "'no_such_scenario' is neither a file nor a shipped scenario" in str(info.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('duration_s = 30\nseed = 2\nattention = [[0, 0.4]]\nstress = [[0, 7]]\n')
    with pytest.raises(sim.ScenarioError, match=re.escape(str(path)) + r".*'stress\[0\]'"):
        sim.load_scenario(path)
