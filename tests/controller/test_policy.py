"""The control policy: the default rules, and properties that hold for any input history."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.controller import ControllerSettings, ControlPolicy
from runtime.resolver import Conflict, Decision, DeterministicResolver

HOP = 0.25


def _policy(**overrides) -> ControlPolicy:
    return ControlPolicy(ControllerSettings(**overrides), DeterministicResolver())


def _run_steady(policy: ControlPolicy, attention, stress, seconds: float, t0: float = 0.0):
    out = None
    t = t0
    while t < t0 + seconds:
        policy.observe_attention(attention, True, "", t)
        if stress is not None:  # None: this feature never arrives
            policy.observe_stress(stress, True, "", t)
        out = policy.step(t, 1000.0 + t)
        t += HOP
    return out, t


def test_focused_and_calm_raises_intensity_by_the_gain_and_no_further():
    policy = _policy(gain=1.5, max_rate_per_s=1.0)
    out, _ = _run_steady(policy, 0.9, 0.1, 10.0)
    assert out.mode == "intensify"
    assert out.control.intensity == pytest.approx(1.5)
    assert out.control.gentle is False
    assert out.control.rule.startswith("intensify")


def test_gain_is_bounded_by_max_intensity():
    policy = _policy(gain=10.0, max_intensity=2.0)
    out, _ = _run_steady(policy, 0.95, 0.05, 10.0)
    assert out.control.intensity == pytest.approx(2.0)


def test_high_stress_turns_gentle_mode_on():
    policy = _policy()
    out, _ = _run_steady(policy, 0.5, 0.9, 6.0)
    assert out.mode == "gentle"
    assert out.control.gentle is True
    assert "stress" in out.control.rule


def test_in_between_holds_the_baseline():
    out, _ = _run_steady(_policy(), 0.5, 0.5, 6.0)
    assert out.mode == "hold"
    assert out.control.intensity == pytest.approx(1.0)
    assert out.control.gentle is False


def test_missing_stress_is_safe_unless_the_config_says_attention_alone():
    out, _ = _run_steady(_policy(), 0.9, None, 6.0)
    assert out.mode == "safe" and out.control.rule == "safe:no-stress"
    out, _ = _run_steady(_policy(require_stress=False), 0.9, None, 6.0)
    assert out.mode == "hold"  # intensify needs stress < stress_low: unknown is not low


def test_calibrating_features_give_the_safe_state_with_the_reason():
    policy = _policy()
    policy.observe_attention(None, False, "calibrating (12 of 120 s)", 0.0)
    policy.observe_stress(0.2, True, "", 0.0)
    out = policy.step(0.0, 1000.0)
    assert out.control.safe and out.control.gentle
    assert out.control.rule == "safe:attention-calibrating"


def test_stale_features_give_the_safe_state_with_baseline_intensity_at_once():
    policy = _policy(stale_after_s=1.5)
    out, t = _run_steady(policy, 0.9, 0.1, 10.0)
    assert out.control.intensity > 1.0
    out = policy.step(t + 1.6, 2000.0)
    assert out.mode == "safe"
    assert out.control.intensity == 1.0 and out.control.gentle
    assert out.control.rule == "safe:attention-stale"


def test_safe_state_held_by_the_dwell_time_stays_gentle_at_baseline():
    policy = _policy(stale_after_s=1.5, min_dwell_s=2.0)
    out, t = _run_steady(policy, 0.9, 0.1, 10.0)
    assert out.mode == "intensify" and out.control.intensity == pytest.approx(1.5)
    t_safe = t + 1.6
    out = policy.step(t_safe, 2000.0)  # no features for 1.6 s: safe at once
    assert out.mode == "safe" and out.control.rule == "safe:attention-stale"
    # Features are back and want intensify, but the safe state is held for min_dwell_s:
    # every control in that time is still the fail-safe's gentle state at baseline.
    t = t_safe + HOP
    while t < t_safe + 2.0:
        policy.observe_attention(0.9, True, "", t)
        policy.observe_stress(0.1, True, "", t)
        out = policy.step(t, 2000.0 + t)
        assert out.mode == "safe"
        assert out.control.safe is True and out.control.gentle is True
        assert out.control.intensity == 1.0
        assert out.control.rule.startswith("dwell:safe (wanted intensify: ")
        t += HOP
    policy.observe_attention(0.9, True, "", t)
    policy.observe_stress(0.1, True, "", t)
    out = policy.step(t, 2000.0 + t)  # min_dwell_s after entering safe: intensify
    assert out.mode == "intensify"
    assert out.control.safe is False and out.control.gentle is False
    assert out.control.rule.startswith("intensify")


def test_every_control_carries_a_ttl_and_a_rule():
    policy = _policy(ttl_s=2.0)
    out, _ = _run_steady(policy, 0.6, 0.4, 3.0)
    assert out.control.ttl_s == 2.0
    assert out.control.expires_at == pytest.approx(out.control.issued_at + 2.0)
    assert out.control.rule


class _RecordingResolver:
    """A real DeterministicResolver that also keeps the conflicts it saw."""

    def __init__(self) -> None:
        self.inner = DeterministicResolver()
        self.conflicts: list[Conflict] = []

    def decide(self, conflict: Conflict) -> Decision:
        self.conflicts.append(conflict)
        return self.inner.decide(conflict)


def test_poor_signal_goes_to_the_decision_step_and_never_intensifies():
    resolver = _RecordingResolver()
    policy = ControlPolicy(ControllerSettings(), resolver)
    t = 0.0
    for _ in range(40):
        policy.observe_attention(None, False, "too few good channels", t)
        policy.observe_stress(0.1, True, "", t)
        out = policy.step(t, t)
        assert out.mode != "intensify"
        t += HOP
    assert resolver.conflicts and resolver.conflicts[0].kind == "poor-signal"
    assert "intensify" in resolver.conflicts[0].forbidden
    # An ongoing conflict is decided at most once per dwell time, not every hop.
    assert len(resolver.conflicts) <= 40 * HOP / ControllerSettings().min_dwell_s + 1


def test_guard_violation_forbids_intensify():
    resolver = _RecordingResolver()
    policy = ControlPolicy(ControllerSettings(), resolver)
    policy.observe_model_guards(0.0, identity_margin=-0.1, detail="cosine 0.1 < 0.2")
    out, _ = _run_steady(policy, 0.95, 0.05, 6.0)
    assert out.mode != "intensify"
    assert resolver.conflicts[-1].kind == "guard-violation"
    assert "intensify" in resolver.conflicts[-1].forbidden


class _BrokenResolver:
    def decide(self, conflict: Conflict) -> Decision:
        raise RuntimeError("injected")


def test_a_decision_step_that_raises_gives_gentle():
    policy = ControlPolicy(ControllerSettings(), _BrokenResolver())
    policy.observe_attention(None, False, "poor", 0.0)
    policy.observe_stress(0.5, True, "", 0.0)
    out = policy.step(0.0, 0.0)
    assert out.control.gentle and "decision-failed" in out.control.rule


# -- properties over arbitrary histories -------------------------------------------------------

_values = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=1),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.5, 1.5, 1e300]),
)
_event = st.tuples(
    st.sampled_from(["attention", "stress", "guard", "nothing"]),
    _values,
    st.booleans(),
    st.floats(min_value=0.01, max_value=2.5),  # time to the next step
)
_settings = st.builds(
    ControllerSettings,
    gain=st.floats(0.5, 5),
    max_intensity=st.floats(1.0, 5),
    min_dwell_s=st.floats(0, 5),
    hysteresis=st.floats(0, 0.2),
    max_rate_per_s=st.floats(0.1, 10),
    smoothing_tau_s=st.floats(0, 10),
    require_stress=st.booleans(),
)


def _drive(settings_: ControllerSettings, events):
    policy = ControlPolicy(settings_, DeterministicResolver())
    t = 0.0
    last_obs = -math.inf
    history = []
    for kind, value, valid, dt in events:
        if kind == "attention":
            policy.observe_attention(value, valid, "" if valid else "bad", t)
            last_obs = t
        elif kind == "stress":
            policy.observe_stress(value, valid, "" if valid else "bad", t)
        elif kind == "guard":
            policy.observe_model_guards(t, identity_margin=-1.0 if valid else 0.5)
        out = policy.step(t, t)
        history.append((t, out, last_obs))
        t += dt
    return history


@settings(max_examples=200, deadline=None)
@given(_settings, st.lists(_event, max_size=80))
def test_intensity_stays_finite_and_within_bounds(settings_, events):
    for _, out, _ in _drive(settings_, events):
        c = out.control
        assert math.isfinite(c.intensity)
        assert settings_.min_intensity <= c.intensity <= settings_.max_intensity
        assert c.ttl_s == settings_.ttl_s and c.rule


@settings(max_examples=200, deadline=None)
@given(_settings, st.lists(_event, max_size=80))
def test_no_mode_switch_faster_than_the_dwell_time_except_into_safe(settings_, events):
    history = _drive(settings_, events)
    last_switch = -math.inf
    previous = "safe"
    for t, out, _ in history:
        if out.mode != previous:
            if out.mode != "safe":
                assert t - last_switch >= settings_.min_dwell_s - 1e-9
            last_switch = t
            previous = out.mode


@settings(max_examples=200, deadline=None)
@given(_settings, st.lists(_event, max_size=80))
def test_safe_state_once_attention_is_older_than_stale_after(settings_, events):
    for t, out, last_attention in _drive(settings_, events):
        if t - last_attention > settings_.stale_after_s:
            assert out.mode == "safe" and out.control.safe
            assert out.control.intensity == settings_.baseline_intensity


@settings(max_examples=200, deadline=None)
@given(_settings, st.lists(_event, max_size=80))
def test_mode_safe_always_publishes_the_safe_state(settings_, events):
    for _, out, _ in _drive(settings_, events):
        if out.mode == "safe":  # a fail-safe, or the dwell time holding one
            assert out.control.safe is True and out.control.gentle is True
            assert out.control.intensity == settings_.baseline_intensity


def test_a_slow_feature_is_stale_only_after_its_own_interval():
    policy = _policy(stale_after_s=1.5, require_stress=True)
    policy.observe_attention(0.5, True, "", 0.0, interval_s=0.25)
    policy.observe_stress(0.5, True, "", 0.0, interval_s=5.0)  # stress updates every 5 s
    policy.observe_attention(0.5, True, "", 4.0, interval_s=0.25)
    assert policy.step(4.0, 4.0).mode != "safe"  # 4 s after stress: its next is not due yet
    policy.observe_attention(0.5, True, "", 6.6, interval_s=0.25)
    out = policy.step(6.6, 6.6)  # 6.6 s > 5 s interval + 1.5 s: stress is stale
    assert out.mode == "safe" and out.control.rule == "safe:stress-stale"
