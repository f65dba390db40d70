"""With artifacts switched on, the controller decides as it would on clean data."""

from __future__ import annotations

import sim
from runtime.controller import ControllerSettings, ControlPolicy
from runtime.features import AttentionEstimator, StressEstimator
from runtime.resolver import DeterministicResolver

FS = 250.0


def _modes(recording) -> dict[int, str]:
    """The controller's mode after each attention estimate, keyed by sample index.

    Features and policy run on stream time (sample index / rate), as in a fast replay.
    """
    layout = recording.layout
    names = [f"E{i}" for i in range(len(layout.eeg_rows))]
    attention = AttentionEstimator(FS, names).push(recording.data[list(layout.eeg_rows)])
    stress = StressEstimator(FS, "ppg").push(recording.data[layout.ppg_rows[0]])
    events = sorted(
        [(e.sample_index, 0, e) for e in attention] + [(e.sample_index, 1, e) for e in stress],
        key=lambda item: (item[0], item[1]),
    )
    policy = ControlPolicy(ControllerSettings(), DeterministicResolver())
    modes = {}
    for index, kind, estimate in events:
        t = index / FS
        if kind == 0:
            policy.observe_attention(
                estimate.attention, estimate.valid, estimate.reason, t, estimate.hop_s
            )
            modes[index] = policy.step(t, t).mode
        else:
            policy.observe_stress(
                estimate.stress, estimate.valid, estimate.reason, t, estimate.hop_s
            )
    return modes


def test_mode_matches_the_artifact_free_run_in_95_percent_of_windows():
    scenario = sim.load_scenario("artifacts")
    layout = sim.generic_layout(8, FS)
    with_artifacts = _modes(sim.render_session(scenario, layout, speed=0))
    clean = _modes(sim.render_session(scenario.without_artifacts(), layout, speed=0))
    # Count only windows after calibration (both runs are trivially 'safe' before it).
    windows = [i for i in clean if i / FS > scenario.calibration_s + 10 and i in with_artifacts]
    assert len(windows) > 800
    match = sum(with_artifacts[i] == clean[i] for i in windows) / len(windows)
    assert match >= 0.95, f"modes match in {match:.1%} of post-calibration windows"
    # The artifact run never intensifies where the clean run does not.
    assert not [i for i in windows if with_artifacts[i] == "intensify" != clean[i]]
