"""The default policy's numbers, pinned: each default, on ControlPolicy with the default
ControllerSettings() and the real decision step, happens just past its threshold (or time)
and not just short of it. A changed default or a broken mechanism fails one of these.

Defaults (runtime/controller/_settings.py): attention_high 0.8, stress_low 0.3, stress_high
0.7, gain 1.5, hysteresis 0.05, max_rate_per_s 1.0, smoothing_tau_s 2.0, min_dwell_s 2.0.
Time is injected; control is stepped every HOP = 0.25 s (the default hop_s) unless a test
says otherwise. A constant input is its own EMA, so a steady input reads exactly.
"""

from __future__ import annotations

import pytest

from runtime.controller import ControllerSettings, ControlPolicy, PolicyOutput, make_decision_step

HOP = 0.25


def _default_policy() -> ControlPolicy:
    settings = ControllerSettings()
    return ControlPolicy(settings, make_decision_step(settings))


def _feed(policy: ControlPolicy, attention: float, stress: float, t: float) -> PolicyOutput:
    policy.observe_attention(attention, True, "", t, interval_s=HOP)
    policy.observe_stress(stress, True, "", t, interval_s=HOP)
    return policy.step(t, 1000.0 + t)


def _hold(
    policy: ControlPolicy, attention: float, stress: float, t0: float, seconds: float
) -> tuple[PolicyOutput, float]:
    """Steps every HOP from ``t0`` for ``seconds``; returns the last output and the next t."""
    out = None
    for i in range(round(seconds / HOP)):
        out = _feed(policy, attention, stress, t0 + i * HOP)
    assert out is not None
    return out, t0 + round(seconds / HOP) * HOP


def _assert_control(
    out: PolicyOutput, mode: str, intensity: float, *, gentle: bool, safe: bool = False
) -> None:
    assert (out.mode, out.control.gentle, out.control.safe) == (mode, gentle, safe), out.control
    assert out.control.intensity == pytest.approx(intensity, abs=1e-12), out.control


# -- thresholds and gain -----------------------------------------------------------------------


def test_attention_just_above_0_8_with_low_stress_reaches_1_5_after_half_a_second():
    policy = _default_policy()
    # Intensify from the first step; intensity climbs at 1.0/s: 0.25 per 0.25 s hop.
    _assert_control(_feed(policy, 0.82, 0.2, 0.0), "intensify", 1.0, gentle=False)
    _assert_control(_feed(policy, 0.82, 0.2, 0.25), "intensify", 1.25, gentle=False)
    out = _feed(policy, 0.82, 0.2, 0.5)
    _assert_control(out, "intensify", 1.5, gentle=False)
    assert out.control.intensity == 1.5  # baseline 1.0 × gain 1.5, exactly
    assert out.control.rule == "intensify: attention 0.82 > 0.8, stress 0.20"
    out, _ = _hold(policy, 0.82, 0.2, 0.75, 10.0)
    _assert_control(out, "intensify", 1.5, gentle=False)  # and no further


def test_attention_just_below_0_8_holds_the_baseline():
    out, _ = _hold(_default_policy(), 0.78, 0.2, 0.0, 10.0)
    _assert_control(out, "hold", 1.0, gentle=False)
    assert out.control.rule == "hold: attention 0.78, stress 0.20"


def test_stress_just_below_0_3_allows_intensify():
    out, _ = _hold(_default_policy(), 0.9, 0.28, 0.0, 10.0)
    _assert_control(out, "intensify", 1.5, gentle=False)


def test_stress_just_above_0_3_blocks_intensify():
    out, _ = _hold(_default_policy(), 0.9, 0.32, 0.0, 10.0)
    _assert_control(out, "hold", 1.0, gentle=False)
    assert out.control.rule == "hold: attention 0.90, stress 0.32"


def test_stress_just_above_0_7_turns_gentle_on_at_baseline():
    out, _ = _hold(_default_policy(), 0.5, 0.72, 0.0, 10.0)
    _assert_control(out, "gentle", 1.0, gentle=True)
    assert out.control.rule == "gentle: stress 0.72 > 0.7"


def test_stress_just_below_0_7_leaves_gentle_off():
    out, _ = _hold(_default_policy(), 0.5, 0.68, 0.0, 10.0)
    _assert_control(out, "hold", 1.0, gentle=False)


# -- hysteresis 0.05 ---------------------------------------------------------------------------


def _intensifying() -> tuple[ControlPolicy, float]:
    policy = _default_policy()
    out, t = _hold(policy, 0.9, 0.1, 0.0, 5.0)
    _assert_control(out, "intensify", 1.5, gentle=False)
    return policy, t


@pytest.mark.parametrize(
    ("attention", "stress", "mode", "intensity"),
    [
        (0.76, 0.1, "intensify", 1.5),  # attention below 0.8, above 0.8 - 0.05: kept
        (0.74, 0.1, "hold", 1.0),  # below 0.8 - 0.05: ended
        (0.9, 0.34, "intensify", 1.5),  # stress above 0.3, below 0.3 + 0.05: kept
        (0.9, 0.36, "hold", 1.0),  # above 0.3 + 0.05: ended
    ],
    ids=["attention-0.76-keeps", "attention-0.74-ends", "stress-0.34-keeps", "stress-0.36-ends"],
)
def test_once_intensifying_hysteresis_keeps_or_ends_it(attention, stress, mode, intensity):
    policy, t = _intensifying()
    out, _ = _hold(policy, attention, stress, t, 20.0)
    _assert_control(out, mode, intensity, gentle=False)


def _gentle() -> tuple[ControlPolicy, float]:
    policy = _default_policy()
    out, t = _hold(policy, 0.5, 0.9, 0.0, 5.0)
    _assert_control(out, "gentle", 1.0, gentle=True)
    return policy, t


@pytest.mark.parametrize(
    ("stress", "mode", "gentle"),
    [(0.66, "gentle", True), (0.64, "hold", False)],  # below 0.7: kept above 0.7 - 0.05
    ids=["stress-0.66-keeps", "stress-0.64-ends"],
)
def test_once_gentle_hysteresis_keeps_or_ends_it(stress, mode, gentle):
    policy, t = _gentle()
    out, _ = _hold(policy, 0.5, stress, t, 20.0)
    _assert_control(out, mode, 1.0, gentle=gentle)


# -- smoothing τ = 2 s -------------------------------------------------------------------------
# The EMA weighs a sample by the time since the previous one, so the k-th sample after a step
# reads 1 - exp(-k·HOP/τ) of it: 63 % (1 - 1/e) at the 8th, 2 s after the last old sample.


def test_a_step_in_attention_reads_63_percent_of_the_step_2_s_later():
    policy = _default_policy()
    _, t_next = _hold(policy, 0.2, 0.5, 0.0, 10.0)
    t0 = t_next - HOP  # the last sample of the old value
    # 0.2 → 0.7: 1 s later the EMA reads 0.2 + (1 - e^-0.5) × 0.5 = 0.397; 2 s later 0.516.
    out, _ = _hold(policy, 0.7, 0.5, t0 + HOP, 1.0)
    assert out.control.rule == "hold: attention 0.40, stress 0.50"
    out, _ = _hold(policy, 0.7, 0.5, t0 + 1.0 + HOP, 1.0)
    assert out.control.rule == "hold: attention 0.52, stress 0.50"


def test_a_step_to_0_975_crosses_0_8_2_s_later_not_a_hop_before():
    policy = _default_policy()
    _, t_next = _hold(policy, 0.5, 0.1, 0.0, 10.0)
    t0 = t_next - HOP
    # 0.5 + (1 - 1/e) × 0.475 = 0.8003 at t0 + 2 s; 0.777 at t0 + 1.75 s.
    out, _ = _hold(policy, 0.975, 0.1, t0 + HOP, 1.75)  # last step at t0 + 1.75
    _assert_control(out, "hold", 1.0, gentle=False)
    assert out.control.rule == "hold: attention 0.78, stress 0.10"
    out = _feed(policy, 0.975, 0.1, t0 + 2.0)
    _assert_control(out, "intensify", 1.25, gentle=False)  # + 1.0/s × one hop
    assert out.control.rule == "intensify: attention 0.80 > 0.8, stress 0.10"


# -- dwell 2 s ---------------------------------------------------------------------------------


def test_a_wanted_change_within_2_s_of_the_last_is_held_and_happens_at_2_s():
    policy = _default_policy()
    _assert_control(_feed(policy, 0.5, 0.5, 0.0), "hold", 1.0, gentle=False)  # hold from t=0
    # Stress steps to 1.0: its EMA passes 0.7 at t = 1.25 s; gentle is wanted from then on.
    for t in (0.25, 0.5, 0.75, 1.0):
        assert _feed(policy, 0.5, 1.0, t).control.rule.startswith("hold:")
    for t in (1.25, 1.5, 1.75, 1.99):
        out = _feed(policy, 0.5, 1.0, t)
        _assert_control(out, "hold", 1.0, gentle=False)
        assert out.control.rule.startswith("dwell:hold (wanted gentle: gentle: stress ")
    out = _feed(policy, 0.5, 1.0, 2.0)
    _assert_control(out, "gentle", 1.0, gentle=True)
    assert out.control.rule.startswith("gentle: stress ")


def test_a_fail_safe_is_held_2_s_after_features_return():
    policy, t_next = _intensifying()
    t_safe = t_next - HOP + 1.8  # features older than their 0.25 s interval + 1.5 s: stale
    out = policy.step(t_safe, 1000.0 + t_safe)
    _assert_control(out, "safe", 1.0, gentle=True, safe=True)
    assert out.control.rule == "safe:attention-stale"
    out = _feed(policy, 0.9, 0.1, t_safe + 1.99)
    _assert_control(out, "safe", 1.0, gentle=True, safe=True)
    assert out.control.rule.startswith("dwell:safe (wanted intensify: ")
    out = _feed(policy, 0.9, 0.1, t_safe + 2.0)
    _assert_control(out, "intensify", 1.01, gentle=False)  # from baseline, 1.0/s × 0.01 s


# -- rate limit 1.0 per second -----------------------------------------------------------------


def test_intensity_moves_at_most_1_0_per_second_of_step_time():
    policy = _default_policy()
    # Irregular step times: each step moves the intensity by exactly its dt until the target.
    expected = [(0.0, 1.0), (0.1, 1.1), (0.4, 1.4), (0.45, 1.45), (1.45, 1.5)]
    for t, intensity in expected:
        _assert_control(_feed(policy, 0.9, 0.1, t), "intensify", intensity, gentle=False)
    # And down again: attention 0.5 ends intensify (its EMA passes below 0.75 about 1 s
    # after the last 0.9), then 1.5 → 1.0 at 1.0/s.
    t = 1.45 + 0.5
    trail = []
    while t < 6.0:
        out = _feed(policy, 0.5, 0.1, t)
        trail.append((out.mode, out.control.intensity))
        t += 0.1
    first_hold = next(i for i, (mode, _) in enumerate(trail) if mode == "hold")
    assert trail[first_hold - 1] == ("intensify", 1.5)
    down = [round(x, 12) for _, x in trail[first_hold : first_hold + 6]]
    assert down == [1.4, 1.3, 1.2, 1.1, 1.0, 1.0]
