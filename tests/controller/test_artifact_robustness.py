"""With artifacts switched on, the controller decides as it would on clean data.

``artifacts.toml`` puts every EEG artifact inside a focus block (the clean recording
intensifies there) and the heart artifacts inside a stress block (the clean recording is
gentle there), so an artifact that flipped the mode would show.
"""

from __future__ import annotations

import bisect

import pytest

import sim
from runtime.controller import ControllerSettings, ControlPolicy
from runtime.features import AttentionEstimator, StressEstimator
from runtime.resolver import DeterministicResolver

FS = 250.0
#: The focus block with the EEG artifacts (after attention settles) and the stress block.
FOCUS_S = (140.0, 248.0)
#: Windows touched by the NaN gap on every EEG channel (225–227 s), its 4 s window and the
#: dwell time: no channel has signal there, so the window is invalid, not cleaned.
NO_EEG_S = (225.0, 233.0)
STRESS_S = (325.0, 360.0)  # the 60 s heart window has left the ramp by then


def _modes(recording) -> dict[float, tuple[str, float, bool]]:
    """(mode, intensity, stress valid) after each attention estimate, keyed by the
    estimate's time in the scenario (s).

    Features and policy run on stream time (sample index / rate), as in a fast replay; the
    truth's kept-sample indices map sample counts back to scenario time, so dropped packets
    do not shift one run against the other.
    """
    layout = recording.layout
    kept = recording.truth.sample_index
    names = [f"E{i}" for i in range(len(layout.eeg_rows))]
    attention = AttentionEstimator(FS, names).push(recording.data[list(layout.eeg_rows)])
    stress = StressEstimator(FS, "ppg").push(recording.data[layout.ppg_rows[0]])
    events = sorted(
        [(e.sample_index, 0, e) for e in attention] + [(e.sample_index, 1, e) for e in stress],
        key=lambda item: (item[0], item[1]),
    )
    policy = ControlPolicy(ControllerSettings(), DeterministicResolver())
    modes = {}
    stress_valid = False
    for index, kind, estimate in events:
        t = index / FS
        if kind == 0:
            policy.observe_attention(
                estimate.attention, estimate.valid, estimate.reason, t, estimate.hop_s
            )
            output = policy.step(t, t)
            scenario_t = round(float(kept[index - 1]) / FS + 1 / FS, 2)
            modes[scenario_t] = (output.mode, output.control.intensity, stress_valid)
        else:
            stress_valid = estimate.valid
            policy.observe_stress(
                estimate.stress, estimate.valid, estimate.reason, t, estimate.hop_s
            )
    return modes


@pytest.fixture(scope="module")
def runs():
    scenario = sim.load_scenario("artifacts")
    layout = sim.generic_layout(8, FS)
    dirty = _modes(sim.render_session(scenario, layout, speed=0))
    clean = _modes(sim.render_session(scenario.without_artifacts(), layout, speed=0))
    return dirty, clean


def _inside(modes, span):
    return {t: v for t, v in modes.items() if span[0] <= t < span[1]}


def _pairs(dirty, clean, span):
    """(time, dirty value, clean value) for each clean window in ``span``, matched with the
    dirty run's nearest window (dropped packets move its hop grid)."""
    times = sorted(dirty)
    out = []
    for t, value in _inside(clean, span).items():
        k = bisect.bisect_left(times, t)
        near = min(times[max(0, k - 1) : k + 1], key=lambda x: abs(x - t))
        if abs(near - t) <= 0.13:
            out.append((t, dirty[near], value))
    return out


def test_the_clean_recording_intensifies_then_is_gentle(runs):
    """The premise: without artifacts, the focus block intensifies (to 1.5) and the
    stress block is gentle, so the comparison below can fail."""
    _, clean = runs
    focus = _inside(clean, FOCUS_S)
    stress = _inside(clean, STRESS_S)
    assert sum(m == "intensify" for m, _, _ in focus.values()) / len(focus) >= 0.9
    assert max(i for _, i, _ in focus.values()) == pytest.approx(1.5)
    assert sum(m == "gentle" for m, _, _ in stress.values()) / len(stress) >= 0.9


def test_eeg_artifacts_do_not_flip_the_mode(runs):
    """Blinks, EMG, a pop, a railed and a flat channel and mains hum: the mode matches the
    clean run in ≥ 95 % of the focus block's windows; where no EEG channel has signal at
    all (the NaN gap) the controller does not intensify."""
    dirty, clean = runs
    pairs = _pairs(dirty, clean, FOCUS_S)
    artifacts = [(d, c) for t, d, c in pairs if not NO_EEG_S[0] <= t < NO_EEG_S[1]]
    assert len(artifacts) > 350
    match = sum(d[0] == c[0] for d, c in artifacts) / len(artifacts)
    assert match >= 0.95, f"modes match in {match:.1%} of the focus block's windows"
    no_signal = [d[0] for t, d, _ in pairs if NO_EEG_S[0] + 4.0 <= t < NO_EEG_S[0] + 6.0]
    assert no_signal and "intensify" not in no_signal, no_signal


def test_heart_artifacts_never_intensify_and_keep_the_mode_where_stress_is_valid(runs):
    """Motion and a lost PPG sensor make the stress windows that hold them invalid: there
    the controller never intensifies; wherever stress is valid it matches the clean run."""
    dirty, clean = runs
    pairs = _pairs(dirty, clean, (258.0, 360.0))
    assert not [t for t, d, c in pairs if d[0] == "intensify" != c[0]]
    assert not [t for t, d, _ in pairs if d[0] == "intensify" and not d[2]]
    assert [t for t, d, _ in pairs if not d[2]], "no stress window was made invalid"
    valid = [(d, c) for t, d, c in pairs if d[2] and t >= STRESS_S[0]]
    assert valid
    assert all(d[0] == c[0] for d, c in valid)
