"""bench_multi (issue 21, point 6): one hub fed by several sensor hosts, beside one person.

The smoke run is the real thing at a tiny size: a hub daemon and two sensor-host daemons,
each a process of its own on BrainFlow's synthetic board, a few seconds measured. Speed
targets are not asserted (they live in the bench output); that every key is there and
finite, and that controls came from both people, is.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench._common import REPO, is_finite_number, loopback_bus
from bench.bench_multi import compare, hub_config, person_id, sensor_config
from runtime.config import config_from_mapping

#: Keys the issue names, for each case, and the ratios between them.
CASE_KEYS = ("hub_cpu_pct", "board_to_control_p50_ms", "board_to_control_p99_ms")
RATIOS = (
    "multi_single_hub_cpu_ratio",
    "multi_hub_cpu_scaling",
    "multi_single_board_to_control_p50_ratio",
    "multi_single_board_to_control_p99_ratio",
)


def test_each_sensor_host_is_its_own_board_and_person_on_the_hubs_bus():
    bus = loopback_bus()
    hub = config_from_mapping(hub_config(bus), origin="test")
    assert hub.daemon.stages == ("features", "controller")
    sensors = [config_from_mapping(sensor_config(bus, person_id(i)), origin="test")
               for i in range(8)]
    assert [s.source.person for s in sensors] == [f"P0{i}" for i in range(1, 9)]
    # BrainFlow opens two synthetic boards only when their parameters differ.
    assert len({s.source.serial_number for s in sensors}) == 8
    assert all(s.bus.connect == bus["publish_endpoint"] and s.daemon.stages == ("driver",)
               for s in sensors)


def test_ratios_are_multi_over_single_and_scaling_is_per_person():
    single = {"people": 1, "hub_cpu_pct": 5.0, "board_to_control_p50_ms": 4.0,
              "board_to_control_p99_ms": 8.0}
    multi = {"people": 8, "hub_cpu_pct": 30.0, "board_to_control_p50_ms": 6.0,
             "board_to_control_p99_ms": 12.0}
    out = compare(single, multi)
    assert out["multi_single_hub_cpu_ratio"] == pytest.approx(6.0)
    assert out["multi_hub_cpu_scaling"] == pytest.approx(0.75)  # 30 / (8 × 5)
    assert out["multi_single_board_to_control_p50_ratio"] == pytest.approx(1.5)
    assert out["multi_single_board_to_control_p99_ratio"] == pytest.approx(1.5)


# ≈ 26 s: a hub and three sensor-host daemons, each its own process, started twice.
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_smoke_run_gives_every_key_finite_and_controls_from_both_people(tmp_path):
    out = tmp_path / "multi.json"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "bench.bench_multi", "--smoke", "--json",
         str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=170,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["single_people"] == 1 and result["multi_people"] == 2
    for key in [f"{case}_{k}" for case in ("single", "multi") for k in CASE_KEYS] + [
        *RATIOS,
        "multi_worst_person_board_to_control_p99_ms",
    ]:
        assert is_finite_number(result[key]) and result[key] > 0, (key, result[key])
    # Controls rested on both people's samples, each attributed by its trace.
    assert result["multi_persons_with_controls"] == 2
    assert set(result["multi_controls_by_person"]) == {"P01", "P02"}
    assert all(n >= 5 for n in result["multi_controls_by_person"].values())
    assert result["multi_worst_person"] in ("P01", "P02")
    detail = result["multi_detail"]
    assert detail["controls_unattributed"] == 0 and detail["stage_failures"] == []
    assert set(detail["estimates_by_person"]) == {"P01", "P02"}
    # The breakdown is the whole, per sample.
    assert result["multi_stage_sum_max_error_ms"] < 1e-6
    assert result["multi_stage_incomplete_n"] == 0
    assert result["multi_keeps_up"] and result["single_keeps_up"]
