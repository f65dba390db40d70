"""sim/ scenarios through BrainFlow's playback board and the whole daemon (the real path)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.stats import spearmanr

import sim
from runtime.bus import BusSubscriber
from runtime.config import config_from_mapping
from runtime.daemon import Daemon
from runtime.scenario import render_scenario_files, sim_layout_for
from tests.conftest import free_tcp_port


def _collect(source: dict, until, timeout_s: float, eeg: dict | None = None) -> list:
    """Run the daemon on ``source`` and collect features.* bodies until ``until(bodies)``."""
    pub, sub = free_tcp_port(), free_tcp_port()
    config = config_from_mapping(
        {
            "bus": {
                "publish_endpoint": f"tcp://127.0.0.1:{pub}",
                "subscribe_endpoint": f"tcp://127.0.0.1:{sub}",
                "hwm": 100_000,
            },
            "source": {"board": "playback", "master_board": "synthetic", **source},
            "features": {"eeg": eeg or {}},
        }
    )
    # Connected before the daemon binds, so nothing published is missed.
    subscriber = BusSubscriber(f"tcp://127.0.0.1:{sub}", ("features",), hwm=100_000)
    bodies: list = []
    try:
        with Daemon(config):
            end = time.monotonic() + timeout_s
            while time.monotonic() < end and not until(bodies):
                message = subscriber.recv(timeout_s=0.2)
                if message is not None:
                    bodies.append(dict(message.body))
    finally:
        subscriber.close()
    return bodies


def _truth_mean(per_sample: np.ndarray, end_index: int, window_n: int) -> float:
    return float(per_sample[max(0, end_index - window_n) : end_index].mean())


def test_fast_replay_follows_the_ground_truth(tmp_path):
    keys = render_scenario_files("ci_short", "synthetic", tmp_path, speed=20.0)
    truth = sim.load_truth(keys["file"])
    fs = sim_layout_for("synthetic").sampling_rate
    duration_n = int(sim.load_scenario("ci_short").duration_s * fs)

    def done(bodies):
        return any(
            b["kind"] == "stress" and b["sample_index"] >= duration_n - 5 * fs for b in bodies
        )

    bodies = _collect(keys, done, timeout_s=60)
    attention = [b for b in bodies if b["kind"] == "attention" and b["valid"]]
    stress = [b for b in bodies if b["kind"] == "stress" and b["valid"]]
    assert len(attention) > 400 and len(stress) > 15
    rho_a = spearmanr(
        [b["attention"] for b in attention],
        [_truth_mean(truth["attention"], b["sample_index"], int(4 * fs)) for b in attention],
    )[0]
    rho_s = spearmanr(
        [b["stress"] for b in stress],
        [_truth_mean(truth["stress"], b["sample_index"], int(60 * fs)) for b in stress],
    )[0]
    assert rho_a >= 0.9, f"attention ρ = {rho_a:.3f}"
    assert rho_s >= 0.9, f"stress ρ = {rho_s:.3f}"


@pytest.mark.parametrize("speed", [20.0])
def test_real_time_and_fast_replay_give_the_same_features(tmp_path, speed):
    scenario = sim.load_scenario("ci_short")
    layout = sim_layout_for("synthetic")
    seconds = 9.0
    expected = int((seconds - 4.0) / 0.25) + 1  # 4 s windows, 0.25 s hop
    eeg = {"baseline_s": 4.0}
    results = []
    for replay_speed in (1.0, speed):
        path = tmp_path / f"x{replay_speed:g}.csv"
        sim.render_session(scenario, layout, speed=replay_speed, duration_s=seconds).write(path)
        bodies = _collect(
            {"file": str(path)},
            lambda b: sum(x["kind"] == "attention" for x in b) >= expected,
            timeout_s=seconds + 20,
            eeg=eeg,
        )
        attention = {b["sample_index"]: b for b in bodies if b["kind"] == "attention"}
        for body in attention.values():
            body.pop("trace")
        results.append(attention)
    real_time, fast = results
    assert len(real_time) >= expected - 1
    common = sorted(set(real_time) & set(fast))
    assert len(common) >= expected - 1
    assert any(real_time[i]["valid"] for i in common)
    for index in common:
        assert real_time[index] == fast[index]
