"""sim/ scenarios through BrainFlow's playback board and the whole daemon (the real path)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import sim
from runtime.bus import BusSubscriber
from runtime.config import config_from_mapping
from runtime.controller import ControllerSettings, ControlPolicy, make_decision_step
from runtime.daemon import Daemon
from runtime.scenario import render_scenario_files, sim_layout_for
from tests import _recording as recording
from tests._levels import (
    ATTENTION_SPAN_S,
    MAX_MAE,
    STRESS_SPAN_S,
    settled_errors,
    settled_truth,
)
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


SPEED = 40.0
#: What the controller's own smoothing (3·τ) and dwell add to a feature's settling time.
CONTROLLER_SETTLE_S = 3 * 2.0 + 2.0
#: Until then the estimators calibrate (120 s of rest; attention's first hop after it).
CALIBRATION_S = 120.0
#: From then on the policy may leave safe: stress's first hop after calibration (125 s)
#: plus the dwell time.
CALIBRATED_S = 127.5


# focus_then_stress (≈ 30 s, 600 s of data) runs in CI's second step (make test-slow-ci).
@pytest.fixture(
    scope="module",
    params=["ci_short", pytest.param("focus_then_stress", marks=pytest.mark.slow)],
)
def replayed(request, tmp_path_factory):
    """A scenario rendered for the synthetic board and replayed through BrainFlow's playback
    board and the whole daemon at ×40; its name, truth, rate and every features.* body."""
    name = request.param
    keys = render_scenario_files(name, "synthetic", tmp_path_factory.mktemp(name), speed=SPEED)
    truth = sim.load_truth(keys["file"])
    fs = sim_layout_for("synthetic").sampling_rate
    duration_n = int(sim.load_scenario(name).duration_s * fs)

    def done(bodies):
        return any(
            b["kind"] == "stress" and b["sample_index"] >= duration_n - 5 * fs for b in bodies
        )

    bodies = _collect(keys, done, timeout_s=120)
    return name, truth, fs, bodies


def test_fast_replay_reads_the_ground_truth_levels(replayed):
    """Levels, not ranks: mean absolute error ≤ 0.12 over settled windows."""
    name, truth, fs, bodies = replayed
    attention = [b for b in bodies if b["kind"] == "attention" and b["valid"]]
    stress = [b for b in bodies if b["kind"] == "stress" and b["valid"]]
    errors_a = settled_errors(
        [(b["sample_index"], b["attention"]) for b in attention],
        truth["attention"],
        int(ATTENTION_SPAN_S * fs),
    )
    errors_s = settled_errors(
        [(b["sample_index"], b["stress"]) for b in stress],
        truth["stress"],
        int(STRESS_SPAN_S * fs),
    )
    assert errors_a.size > 100 and errors_s.size >= 2
    assert errors_a.mean() <= MAX_MAE, f"{name}: attention MAE {errors_a.mean():.3f}"
    assert errors_s.mean() <= MAX_MAE, f"{name}: stress MAE {errors_s.mean():.3f}"


def _implied_mode(attention: float, stress: float, s: ControllerSettings) -> str:
    """The mode the default policy's rules give the true levels."""
    if stress > s.stress_high:
        return "gentle"
    if attention > s.attention_high and stress < s.stress_low:
        return "intensify"
    return "hold"


def _policy_on_data_clock(
    features: list[dict],
    fs: float,
    settings: ControllerSettings,
    lost: tuple[float, float] | None = None,
):
    """Drive the default policy with replayed features on their own data clock (sample
    index / rate), one step per controller hop; features inside ``lost`` (s) are dropped,
    as if the board had stalled. Yields (data time, PolicyOutput)."""
    policy = ControlPolicy(settings, make_decision_step(settings))
    queue = sorted(features, key=lambda b: (b["sample_index"], b["kind"]))
    t = queue[0]["sample_index"] / fs
    while queue:
        t += settings.hop_s
        while queue and queue[0]["sample_index"] / fs <= t:
            b = queue.pop(0)
            if lost is not None and lost[0] <= b["sample_index"] / fs < lost[1]:
                continue
            observe = policy.observe_attention if b["kind"] == "attention" else (
                policy.observe_stress
            )
            observe(b[b["kind"]], b["valid"], b["reason"], t, b["hop_s"])
        yield t, policy.step(t, t)


def test_the_controller_walks_the_phases_the_truth_implies(replayed):
    """The replayed features drive the default policy on their own data clock (sample
    index / rate): in each phase the mode is the one the true levels imply in ≥ 80 % of
    settled controls; intensify reaches intensity 1.5; calibration and a 6 s loss of
    features (a stalled board) are safe."""
    name, truth, fs, bodies = replayed
    settings = ControllerSettings()
    features = [b for b in bodies if b["kind"] in ("attention", "stress")]
    # Every feature is lost for 6 s in the middle of the recording's last phase.
    end_s = max(b["sample_index"] for b in features) / fs
    loss = (end_s - 20.0, end_s - 14.0)
    a_span = int((ATTENTION_SPAN_S + CONTROLLER_SETTLE_S) * fs)
    s_span = int((STRESS_SPAN_S + CONTROLLER_SETTLE_S) * fs)
    by_phase: dict[str, list[str]] = {}
    intensities: dict[str, list[float]] = {}
    for t, output in _policy_on_data_clock(features, fs, settings, lost=loss):
        if loss[0] + settings.hop_s + settings.stale_after_s + 0.5 < t < loss[1]:
            phase = "lost"
        elif t < CALIBRATION_S:
            phase = "safe"
        elif t < CALIBRATED_S:
            continue
        elif loss[0] <= t < loss[1] + 30.0:
            continue  # the loss and the settling after it
        else:
            a = settled_truth(truth["attention"], int(t * fs), a_span)
            z = settled_truth(truth["stress"], int(t * fs), s_span)
            if a is None or z is None:
                continue
            phase = _implied_mode(a, z, settings)
        by_phase.setdefault(phase, []).append(output.mode)
        intensities.setdefault(phase, []).append(output.control.intensity)

    expected = {
        "ci_short": {"safe", "intensify", "gentle", "lost"},
        "focus_then_stress": {"safe", "hold", "intensify", "gentle", "lost"},
    }[name]
    assert expected <= set(by_phase), sorted(by_phase)
    for phase, modes in by_phase.items():
        wanted = "safe" if phase == "lost" else phase
        share = modes.count(wanted) / len(modes)
        assert share >= 0.8, f"{name}: {phase}: {share:.0%} of {len(modes)} controls"
    assert max(intensities["intensify"]) == pytest.approx(settings.gain)
    for phase in ("safe", "lost", "hold", "gentle"):
        if phase in intensities:  # only intensify raises the intensity
            assert max(intensities[phase]) <= settings.baseline_intensity + 1e-9, phase


@pytest.mark.slow  # ~11 s: CI's second step (make test-slow-ci)
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


def summarise_unseen_recording(bodies: list[dict], fs: float) -> dict[str, dict]:
    """Per phase of tests/_recording.py (its settled part: from 90 s after the phase
    starts), the median attention and stress read and the share of each controller mode."""
    settings = ControllerSettings()
    features = [b for b in bodies if b["kind"] in ("attention", "stress")]
    modes = list(_policy_on_data_clock(features, fs, settings))
    summary = {}
    for phase in recording.PHASES:
        lo, hi = phase.start_s + 90.0, phase.end_s
        if phase.name == "rest":
            lo = 130.0  # after calibration (120 s) and the dwell out of safe
        inside = [b for b in features if b["valid"] and lo <= b["sample_index"] / fs <= hi]
        controls = [out for t, out in modes if lo <= t <= hi]
        counts: dict[str, int] = {}
        for out in controls:
            counts[out.mode] = counts.get(out.mode, 0) + 1
        summary[phase.name] = {
            "attention": float(np.median([b["attention"] for b in inside
                                          if b["kind"] == "attention"])),
            "stress": float(np.median([b["stress"] for b in inside if b["kind"] == "stress"])),
            "modes": {m: c / len(controls) for m, c in counts.items()},
            "max_intensity": max(out.control.intensity for out in controls),
        }
    return summary


def test_a_recording_not_made_by_sim_reads_its_levels_and_walks_hold_intensify_gentle_hold(
    tmp_path,
):
    """Issue 17's acceptance case, on a session written without sim/ (tests/_recording.py)
    with literature effect sizes: E ×2 / HR +2 / RMSSD −6 % in focus, HR +22 / RMSSD −64 %
    under stress. Replayed ×40 through BrainFlow's playback board and the daemon."""
    path = recording.write_recording(tmp_path / "unseen.csv", speed=SPEED)
    n = int(recording.PHASES[-1].end_s * recording.FS)
    bodies = _collect(
        {"file": str(path)},
        lambda b: any(x["kind"] == "stress" and x["sample_index"] >= n - 5 * 250 for x in b),
        timeout_s=120,
    )
    summary = summarise_unseen_recording(bodies, recording.FS)
    rest, focus, stress, recovery = (summary[p.name] for p in recording.PHASES)
    assert 0.4 <= rest["attention"] <= 0.6 and rest["stress"] <= 0.25, rest
    assert focus["attention"] >= 0.85 and focus["stress"] < 0.3, focus
    assert stress["stress"] >= 0.8, stress
    assert recovery["stress"] <= 0.3 and 0.4 <= recovery["attention"] <= 0.6, recovery
    assert rest["modes"].get("hold", 0) >= 0.8, rest
    assert focus["modes"].get("intensify", 0) >= 0.8, focus
    assert focus["max_intensity"] == pytest.approx(1.5)
    assert stress["modes"].get("gentle", 0) >= 0.8, stress
    assert recovery["modes"].get("hold", 0) >= 0.8, recovery
