"""The policy read from typed bodies: features and guard margins as the bus delivers them
act as the values they carry (the observe_* tests in test_policy.py hold the rules)."""

from __future__ import annotations

import pytest

from runtime.controller import ControllerSettings, ControlPolicy
from runtime.messages import AttentionFeature, GuardMargins, StressFeature
from tests.controller.test_policy import HOP, _RecordingResolver


def _attention(level: float | None, reason: str = "") -> AttentionFeature:
    return AttentionFeature(
        sample_index=1000, time_s=4.0, window_s=4.0, hop_s=HOP, valid=level is not None,
        calibrated=True, reason=reason, quality=1.0, attention=level,
    )


def _stress(level: float) -> StressFeature:
    return StressFeature(
        sample_index=15000, time_s=60.0, window_s=60.0, hop_s=5.0, valid=True,
        calibrated=True, reason="", quality=1.0, stress=level,
    )


def _run(policy: ControlPolicy, attention: float | None, stress: float, seconds: float):
    out, t = None, 0.0
    while t < seconds:
        reason = "" if attention is not None else "too few good channels (1/8)"
        policy.observe_feature(_attention(attention, reason), t)
        policy.observe_feature(_stress(stress), t)
        out = policy.step(t, 1000.0 + t)
        t += HOP
    return out


def test_focused_and_calm_features_raise_intensity_by_the_gain():
    policy = ControlPolicy(ControllerSettings(gain=1.5, max_rate_per_s=1.0), _RecordingResolver())
    out = _run(policy, 0.9, 0.1, 10.0)
    assert out.mode == "intensify" and out.control.intensity == pytest.approx(1.5)


def test_an_invalid_feature_brings_its_reason_to_the_decision():
    resolver = _RecordingResolver()
    policy = ControlPolicy(ControllerSettings(), resolver)
    out = _run(policy, None, 0.5, 3.0)
    assert out.mode != "intensify"
    conflict = resolver.conflicts[-1]
    assert conflict.kind == "poor-signal" and "intensify" in conflict.forbidden
    assert "too few good channels (1/8)" in conflict.inputs["detail"]


def test_violated_guard_margins_forbid_intensify_and_name_the_similarity():
    resolver = _RecordingResolver()
    policy = ControlPolicy(ControllerSettings(), resolver)
    guard = GuardMargins(identity_floor=0.2, min_similarity=0.1, identity_margin=-0.1)
    assert guard.violated
    policy.observe_guard(guard, 0.0)
    out = _run(policy, 0.95, 0.05, 6.0)
    assert out.mode != "intensify"
    conflict = resolver.conflicts[-1]
    assert conflict.kind == "guard-violation" and "intensify" in conflict.forbidden
    assert "identity similarity 0.10 (floor 0.20)" in conflict.inputs["detail"]


def test_margins_within_the_guards_or_no_guard_report_leave_intensify_alone():
    for guard in (GuardMargins(identity_margin=0.3, entropy_margin_bits=0.5), None):
        resolver = _RecordingResolver()
        policy = ControlPolicy(ControllerSettings(gain=1.5), resolver)
        policy.observe_guard(guard, 0.0)
        out = _run(policy, 0.95, 0.05, 10.0)
        assert out.mode == "intensify", guard
        assert not resolver.conflicts
