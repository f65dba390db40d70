"""Two people on two sensor hosts drive one hub's controller across veth links, under CURVE
(issue 21, points 1, 3, 4 and 5): the hub keeps a baseline per person, knows each sensor
host's clock, and its controls follow the group rule (docs/group-policy.md), naming the
person who triggered them.

Each sensor replays a sim scenario through BrainFlow's playback board at 10× real time, so
the scenarios' ground truth says what the group rule must do: ``ci_short`` is at rest to
120 s, attentive (0.95) from 130 to 180 s and stressed (0.9) from 190 s; ``calm_baseline``
is at rest throughout.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.net.conftest import start_hub, start_sensor

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HUB_CONFIG = REPO / "configs" / "hub.toml"
SPEED = 10.0
#: Data seconds both scenarios have been replayed through, with the slower sensor's start.
ENOUGH_DATA_S = 280.0


def _sensor_config(tmp_path: Path, scenario: str, index: int) -> str:
    path = tmp_path / f"sensor{index}.toml"
    path.write_text(
        (REPO / "configs" / "sensor.toml").read_text().split("[source]")[0]
        + "[source]\n"
        'board = "playback"\n'
        'master_board = "synthetic"\n'
        f'scenario = "{scenario}"\n'
        f"speed = {SPEED}\n"
        'heart_signal = "ppg"\n'
    )
    return str(path)


def _run_group(netlab, hub_keys, tmp_path, scenarios: dict[str, str]):
    """The hub, and one sensor host per person replaying its scenario; returns what the
    hub's observer saw once the controls reach ``ENOUGH_DATA_S`` of data."""
    for index in (1, 2):
        netlab.add_sensor_host(index)
    hub, observed = start_hub(
        netlab, hub_keys, HUB_CONFIG, "control,features.,status.clock,status.features"
    )
    sensors = [
        start_sensor(netlab, index, hub_keys, person,
                     config=_sensor_config(tmp_path, scenario, index))
        for index, (person, scenario) in enumerate(scenarios.items(), start=1)
    ]
    end = time.monotonic() + 90
    while time.monotonic() < end:
        times = [c.get("time_s") or 0.0 for c in observed.bodies("control")]
        if times and max(times) >= ENOUGH_DATA_S:
            break
        assert all(s.proc.poll() is None for s in sensors), [s.stderr()[-2000:] for s in sensors]
        time.sleep(0.5)
    else:
        raise AssertionError(
            f"the hub's controls never reached {ENOUGH_DATA_S} s of data: "
            f"{hub.stderr()[-3000:]}"
        )
    assert hub.proc.poll() is None
    return observed


def _modes(controls: list[dict], mode: str) -> list[dict]:
    return [c for c in controls if c["mode"] == mode]


def _check_people_and_clocks(observed) -> None:
    """Each person has features of their own, calibrated on their own data, and the hub
    has an estimate of each sensor host's clock (the namespaces share one clock, so the
    true offset is 0)."""
    features = observed.bodies("features.attention")
    for person in ("P01", "P02"):
        own = [f for f in features if f.get("person") == person]
        assert own and any(f["calibrated"] for f in own), person
        assert not own[0]["calibrated"]  # each calibrated from their own start
    assert all("person" in f for f in features)
    people = [s["people"] for s in observed.bodies("status.features")]
    assert ["P01", "P02"] in people
    clocks = [s["sensors"] for s in observed.bodies("status.clock") if len(s["sensors"]) == 2]
    assert clocks, "no status.clock with both sensors"
    for person, clock in clocks[-1].items():
        assert person in ("P01", "P02")
        assert abs(clock["offset_ms"]) < 1.0 and 0 < clock["uncertainty_ms"] < 2.0, clock
        assert clock["samples"] >= 10


def test_two_attentive_people_intensify_the_group_and_a_stressed_one_makes_it_gentle(
    netlab, hub_keys, tmp_path
):
    observed = _run_group(netlab, hub_keys, tmp_path, {"P01": "ci_short", "P02": "ci_short"})
    controls = observed.bodies("control")
    # Both attentive and calm (130–180 s): the group intensifies, which no one person does.
    intensify = _modes(controls, "intensify")
    assert intensify, sorted({c["mode"] for c in controls})
    assert all(c.get("trigger_person") is None for c in intensify)
    # The intensity ramps up from the baseline (1.0) at the rate limit, never gentle.
    assert all(c["intensity"] >= 1.0 and not c["gentle"] for c in intensify), intensify[:3]
    assert max(c["intensity"] for c in intensify) > 1.2
    # Both stressed from 190 s: gentle, naming whose stress it was.
    gentle = [c for c in _modes(controls, "gentle") if c["time_s"] > 200]
    assert gentle and {c.get("trigger_person") for c in gentle} <= {"P01", "P02"}
    assert all(c["gentle"] for c in gentle)
    _check_people_and_clocks(observed)


def test_one_person_at_rest_holds_the_group_back_and_the_other_ones_stress_is_named(
    netlab, hub_keys, tmp_path
):
    observed = _run_group(
        netlab, hub_keys, tmp_path, {"P01": "ci_short", "P02": "calm_baseline"}
    )
    controls = observed.bodies("control")
    # P01 attentive, P02 at rest: the group never intensifies.
    assert _modes(controls, "intensify") == []
    # P01 stressed, P02 calm: gentle, and it is P01's stress.
    gentle = [c for c in _modes(controls, "gentle") if c["time_s"] > 200]
    assert gentle and {c.get("trigger_person") for c in gentle} == {"P01"}
    _check_people_and_clocks(observed)
