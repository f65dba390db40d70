"""kintsugi verify: the comparison on hand-made differences, and recorded sessions (live on
the synthetic board, from a sped-up sim scenario) that verify at replay speeds 0, 10 and 1;
a tampered copy fails, naming the first difference."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.config import config_from_mapping
from runtime.daemon import Daemon
from runtime.lab import replay_session
from runtime.lab._verify import compare_loaded, compare_sessions
from runtime.messages import AttentionFeature, Control, Decision, DriverStatus
from runtime.recorder import RecordedSession, RecorderStage, SessionRecord, load_session
from tests.conftest import free_tcp_port
from tests.lab._helpers import wait_for

# -- the comparison, on hand-made sessions ------------------------------------------------------


def _feature(t: float) -> SessionRecord:
    body = AttentionFeature(sample_index=int(t * 250), time_s=t, window_s=2.0, hop_s=0.25,
                            valid=True, calibrated=True, reason="", quality=1.0, attention=0.5)
    return SessionRecord("features.attention", body)


def _control(seq: int, t: float, intensity: float = 1.0, trigger: str = "feature",
             rule: str = "hold: attention 0.50, stress n/a") -> SessionRecord:
    body = Control(intensity=intensity, gentle=False, rule=rule, seq=seq, mode="hold",
                   safe=False, trigger=trigger, time_s=t, issued_at=time.time())
    return SessionRecord("control", body)


def _decision(t: float, seed: int) -> SessionRecord:
    body = Decision(option="hold", index=1, probabilities=(0.0, 1.0), options=("intensify", "hold"),
                    seed=seed, latency_ms=0.3, explanation="x", conflict_kind="poor-signal",
                    time_s=t)
    return SessionRecord("decision", body)


def _session(n: int = 8, decisions: tuple[float, ...] = (0.5, 1.25)) -> RecordedSession:
    times = [0.25 * k for k in range(n)]
    session = RecordedSession(Path("s"), {})
    session.features = [_feature(t) for t in times]
    session.control = [_control(k, t) for k, t in enumerate(times)]
    session.decisions = [_decision(t, k) for k, t in enumerate(decisions)]
    return session


def test_identical_runs_match_whatever_their_wall_clock_stamps():
    a, b = _session(), _session()
    b.decisions = [replace(r, data=replace(r.data, latency_ms=9.0)) for r in b.decisions]
    result = compare_loaded(a, b)
    assert result.matched and result.difference is None
    assert result.counts == {"features": (8, 8), "controls": (8, 8), "decisions": (2, 2)}


def test_a_changed_intensity_is_named_with_its_data_time_and_both_values():
    a, b = _session(), _session()
    b.control[5] = _control(5, 1.25, intensity=1.25)
    d = compare_loaded(a, b).difference
    assert (d.stream, d.index, d.time_s, d.field, d.reference, d.other) == (
        "controls", 5, 1.25, "intensity", 1.0, 1.25)
    assert d.describe(("A", "B")) == (
        "controls #5 (data time 1.250 s): intensity is 1.0 in A and 1.25 in B")


def test_who_triggered_a_control_and_whose_feature_it_is_are_compared():
    """In a group session the same mode triggered by another person is a difference."""
    a, b = _session(), _session()
    assert compare_loaded(a, b).matched
    b.control[3] = replace(b.control[3], data=replace(b.control[3].data, trigger_person="P02"))
    d = compare_loaded(a, b).difference
    assert (d.stream, d.index, d.field, d.reference, d.other) == (
        "controls", 3, "trigger_person", None, "P02")
    b = _session()
    b.features[2] = replace(b.features[2], data=replace(b.features[2].data, person="P01"))
    d = compare_loaded(a, b).difference
    assert (d.stream, d.index, d.field, d.other) == ("features", 2, "person", "P01")


def test_a_missing_control_is_a_difference():
    a, b = _session(), _session()
    del b.control[3]
    d = compare_loaded(a, b).difference
    assert (d.stream, d.index, d.time_s, d.field) == ("controls", 3, 0.75, "seq")
    b = _session()
    del b.control[-1]  # the last one: the other run has no record there
    d = compare_loaded(a, b).difference
    assert (d.stream, d.index, d.other) == ("controls", 7, None)


def test_an_extra_decision_inside_the_span_is_a_difference():
    a, b = _session(), _session(decisions=(0.5, 1.25, 1.5))
    d = compare_loaded(a, b).difference
    assert (d.stream, d.index, d.time_s, d.reference) == ("decisions", 2, 1.5, None)
    assert d.other["seed"] == 2


def test_an_extra_liveness_control_inside_the_span_is_a_difference():
    a, b = _session(), _session()
    b.control.insert(4, _control(4, 0.75, trigger="liveness", rule="safe:attention-stale"))
    d = compare_loaded(a, b).difference
    assert (d.stream, d.index, d.time_s) == ("controls", 4, 0.75)


def test_the_other_run_may_go_on_after_the_reference_end_and_that_is_listed():
    a, b = _session(6), _session(8)  # b processed two more hops of data, then the file end
    b.control.append(_control(8, 1.75, trigger="device", rule="safe:device-ended"))
    result = compare_loaded(a, b)
    assert result.matched and result.end_time_s == 1.25
    assert result.beyond == {"features": 2, "controls": 3, "decisions": 0}
    assert any("goes on with 2 features, 3 controls" in line for line in result.summary())
    # The other way round the reference's last records are missing: a difference.
    assert compare_loaded(b, a).difference.stream in ("features", "controls")


# -- recorded sessions, replayed -----------------------------------------------------------------

#: Quantum decisions on a poor heart signal (the synthetic board's PPG gives implausible RR
#: intervals), so the session has decisions and gentle, hold and pause modes, not only safe.
CONTROLLER = {"require_stress": True, "min_dwell_s": 0.5, "ttl_s": 1.0, "stale_after_s": 1.0,
              "decision": "quantum", "decision_seed": 5}
FEATURES = {"eeg": {"window_s": 2.0, "baseline_s": 2.0},
            "heart": {"window_s": 4.0, "hop_s": 0.5, "baseline_s": 2.0}}


def _config(source: dict):
    pub, sub = free_tcp_port(), free_tcp_port()
    return config_from_mapping({
        "bus": {"publish_endpoint": f"tcp://127.0.0.1:{pub}",
                "subscribe_endpoint": f"tcp://127.0.0.1:{sub}"},
        "source": source, "features": FEATURES, "controller": CONTROLLER,
    })


def _bus() -> dict[str, str]:
    return {"publish_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}",
            "subscribe_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}"}


@pytest.fixture(scope="module")
def live_session(tmp_path_factory) -> Path:
    """10 s recorded live on BrainFlow's synthetic board, stopped as by Ctrl-C."""
    directory = tmp_path_factory.mktemp("live") / "session"
    config = _config({"board": "synthetic"})
    with Daemon(config, extra_stages={"recorder": RecorderStage(directory, config)},
                board_rows=True):
        time.sleep(10.0)
    return directory


SCENARIO = """
name = "verify_short"
description = "12 s: rest, then focus"
duration_s = 12.0
seed = 3
calibration_s = 2.0
attention = [[0, 0.5], [6, 0.5], [7, 0.95], [12, 0.95]]
stress = [[0, 0.15], [12, 0.15]]
markers = [[6, 1]]
"""


@pytest.fixture(scope="module")
def scenario_session(tmp_path_factory) -> Path:
    """A 12 s sim scenario played at [source] speed 4 (compressed timestamps) to its end."""
    root = tmp_path_factory.mktemp("scenario")
    (root / "verify_short.toml").write_text(SCENARIO)
    directory = root / "session"
    config = _config({"board": "playback", "master_board": "synthetic",
                      "scenario": str(root / "verify_short.toml"), "speed": 4.0})
    with Daemon(config, extra_stages={"recorder": RecorderStage(directory, config)},
                board_rows=True):
        wait_for(lambda: _driver_ended(directory), 30, "the scenario's end")
        time.sleep(1.0)
    return directory


def _driver_ended(directory: Path) -> bool:
    if not (directory / "session.json").exists():
        return False
    session = load_session(directory, raw=False)
    return any(isinstance(r.data, DriverStatus) and r.data.state == "ended"
               for r in session.status)


def test_the_live_session_has_mode_changes_and_decisions(live_session):
    session = load_session(live_session, raw=False)
    modes = {r.data.mode for r in session.control}
    assert {"safe", "hold", "gentle"} <= modes, modes
    assert len(session.decisions) >= 5
    assert all(r.data.resolver == "qiskit-aer" for r in session.decisions)


# Speeds 10 and 1 run in CI's second step (make test-slow-ci), outside the default budget.
@pytest.mark.parametrize(
    "speed",
    [0.0, pytest.param(10.0, marks=pytest.mark.slow), pytest.param(1.0, marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("which", ["live", "scenario"])
def test_a_recorded_session_verifies_at_three_replay_speeds(
    live_session, scenario_session, tmp_path, speed, which, capsys
):
    original = live_session if which == "live" else scenario_session
    out = tmp_path / "replayed"
    result = replay_session(original, speed=speed, record=out, bus_overrides=_bus())
    assert result.complete
    if speed:  # K × the data's own rate, also for the scenario's compressed stamps
        data_s = result.total / 250.0
        assert result.wall_s >= 0.8 * data_s / speed
    assert main(["verify", str(original), str(out)]) == 0, capsys.readouterr().out
    comparison = compare_sessions(original, out)
    original_counts = {s: a for s, (a, _) in comparison.counts.items()}
    assert original_counts["features"] > 30 and original_counts["controls"] > 30
    if which == "scenario":  # it ended with its data, as the replay does: nothing beyond
        assert sum(comparison.beyond.values()) == 0, comparison.summary()


def test_verify_with_one_argument_reruns_the_session(live_session, capsys):
    assert main(["verify", str(live_session)]) == 0
    out = capsys.readouterr().out
    assert "match: the same features, controls and decisions" in out
    assert "replayed" in out


def test_a_tampered_copy_fails_verify_and_names_the_first_difference(
    live_session, tmp_path, capsys
):
    copy = tmp_path / "tampered"
    shutil.copytree(live_session, copy)
    lines = (copy / "control.jsonl").read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if json.loads(line)["body"]["safe"] is False)
    record = json.loads(lines[index])
    record["body"]["intensity"] = 2.5
    lines[index] = json.dumps(record)
    (copy / "control.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["verify", str(live_session), str(copy)]) == 1
    out = capsys.readouterr().out
    t = record["body"]["time_s"]
    assert f"first difference: controls #{index} (data time {t:.3f} s): intensity is 1.0" in out
    assert "and 2.5 in" in out
