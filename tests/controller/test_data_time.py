"""The policy on the data clock: features' own time_s drive smoothing, dwell, rate and
staleness, so the controls do not depend on when the features arrive; the wall clock only
stamps the TTL and lets data that stopped go safe (enter_safe)."""

from __future__ import annotations

import pytest

from runtime.controller import ControllerSettings, ControlPolicy
from runtime.controller._clock import DataClock
from runtime.messages import AttentionFeature, Feature, StressFeature
from runtime.resolver import DeterministicResolver

FS = 250.0
HOP_N = 62  # the estimators' hop at 250 Hz: round(0.25 · 250) samples
HOP_S = HOP_N / FS


def _attention(index: int, level: float | None, reason: str = "") -> AttentionFeature:
    return AttentionFeature(
        sample_index=index, time_s=index / FS, window_s=2.0, hop_s=HOP_S, valid=level is not None,
        calibrated=True, reason=reason, quality=1.0, attention=level,
    )


def _stress(index: int, level: float) -> StressFeature:
    return StressFeature(
        sample_index=index, time_s=index / FS, window_s=20.0, hop_s=HOP_S, valid=True,
        calibrated=True, reason="", quality=1.0, stress=level,
    )


#: A scripted session, one (attention, stress) per hop: rest, focus, strong stress, rest.
PHASES = ((0.5, 0.15, 16), (0.95, 0.15, 24), (0.4, 0.9, 24), (0.5, 0.15, 24))


def _history() -> list[Feature]:
    features: list[Feature] = []
    index = 500
    for attention, stress, hops in PHASES:
        for _ in range(hops):
            features += [_attention(index, attention), _stress(index, stress)]
            index += HOP_N
    return features


def _settings() -> ControllerSettings:
    # No smoothing and no hysteresis, so the expected modes follow from the rules by hand.
    return ControllerSettings(smoothing_tau_s=0.0, hysteresis=0.0, min_dwell_s=2.0,
                              max_rate_per_s=1.0)


def _expected(features: list[Feature], s: ControllerSettings) -> list[tuple[str, float, float]]:
    """(mode, intensity, time) per feature, from the rules alone: the wanted mode of the
    newest levels; a change only min_dwell_s after the previous one (out of safe too);
    intensity towards its target at max_rate_per_s."""
    out = []
    mode, since, intensity, last_t = "safe", float("-inf"), s.baseline_intensity, None
    levels: dict[str, float] = {}
    for feature in features:
        t = feature.time_s
        levels[feature.kind] = feature.level
        if "stress" not in levels:
            out.append(("safe", s.baseline_intensity, t))
            mode, since, intensity, last_t = ("safe", t, s.baseline_intensity, t) if (
                mode != "safe") else (mode, since, s.baseline_intensity, t)
            continue
        a, z = levels["attention"], levels["stress"]
        wanted = "gentle" if z > s.stress_high else (
            "intensify" if a > s.attention_high and z < s.stress_low else "hold")
        if wanted != mode and t - since >= s.min_dwell_s:
            mode, since = wanted, t
        dt = 0.0 if last_t is None else t - last_t
        last_t = t
        if mode == "safe":
            intensity = s.baseline_intensity
        else:
            target = s.baseline_intensity * s.gain if mode == "intensify" else 1.0
            step = s.max_rate_per_s * dt
            intensity += max(-step, min(step, target - intensity))
        out.append((mode, intensity, t))
    return out


def _run(policy: ControlPolicy, features: list[Feature], wall: list[float]):
    return [
        (trigger, output)
        for feature, w in zip(features, wall, strict=True)
        for trigger, output in policy.on_feature(feature, w)
    ]


def test_at_speed_1_the_data_clock_gives_the_modes_and_dwell_of_the_rules():
    """Live at speed 1 data time is wall time: the controls are what the wall-clock policy
    gave, one per feature — computed here from the rules, independently of the policy."""
    s = _settings()
    features = _history()
    outputs = _run(ControlPolicy(s, DeterministicResolver()), features,
                   [1.7e9 + f.time_s for f in features])
    expected = _expected(features, s)
    assert [trigger for trigger, _ in outputs] == ["feature"] * len(features)
    got = [(o.mode, o.control.intensity, o.control.time_s) for _, o in outputs]
    for (mode, intensity, t), (want_mode, want_intensity, want_t) in zip(got, expected,
                                                                        strict=True):
        assert (mode, t) == (want_mode, want_t)
        assert intensity == pytest.approx(want_intensity, abs=1e-12)
    modes = [m for m, _, _ in got]
    # The walk itself: hold, intensify reaching 1.5, hold (the attention of the stress phase
    # comes first, with the old stress), gentle once the dwell allows, hold again.
    assert [m for i, m in enumerate(modes) if i == 0 or m != modes[i - 1]] == [
        "safe", "hold", "intensify", "hold", "gentle", "hold"]
    assert max(i for _, i, _ in got) == pytest.approx(1.5)
    # Each change waited the dwell time of data since the one before.
    changes = [t for i, (m, _, t) in enumerate(got) if i and m != got[i - 1][0]]
    assert all(b - a >= s.min_dwell_s for a, b in zip(changes, changes[1:], strict=False))


def test_the_same_features_at_another_pace_give_the_same_controls():
    """The wall clock they arrive at (real time, 1000× faster, all at once) changes the TTL
    stamps only."""
    s = ControllerSettings()
    features = _history()

    def controls(wall):
        outputs = _run(ControlPolicy(s, DeterministicResolver()), features, wall)
        return [(t, o.mode, o.control.intensity, o.control.gentle, o.control.rule,
                 o.control.time_s) for t, o in outputs], outputs

    real, real_out = controls([1.7e9 + f.time_s for f in features])
    fast, _ = controls([1.7e9 + f.time_s / 1000 for f in features])
    flat, flat_out = controls([5.0] * len(features))
    assert real == fast == flat
    assert {m for _, m, *_ in real} >= {"hold", "intensify", "gentle"}
    assert flat_out[-1][1].control.issued_at == 5.0
    assert real_out[-1][1].control.issued_at == 1.7e9 + features[-1].time_s


def test_a_gap_in_data_time_makes_hop_controls_and_the_safe_state():
    s = ControllerSettings(require_stress=False, stale_after_s=1.0, smoothing_tau_s=0.0)
    policy = ControlPolicy(s, DeterministicResolver())
    index = 500
    for _ in range(20):
        outputs = policy.on_feature(_attention(index, 0.5), 0.0)
        assert [t for t, _ in outputs] == ["feature"]  # one hop apart: no hop controls
        index += HOP_N
    assert outputs[-1][1].mode == "hold"
    # The next feature comes 3 s of data later: a hop control every hop_s until staleness
    # (hop 0.248 s + stale_after_s 1.0 past the last feature) shows, then this feature's.
    last_t = (index - HOP_N) / FS
    outputs = policy.on_feature(_attention(index + 750, 0.5), 0.0)
    triggers = [t for t, _ in outputs]
    hops = [o for t, o in outputs if t == "hop"]
    assert triggers == ["hop"] * len(hops) + ["feature"]
    assert [o.control.time_s for o in hops] == pytest.approx(
        [last_t + k * s.hop_s for k in range(1, len(hops) + 1)])
    assert [o.mode for o in hops[:-1]] == ["hold"] * (len(hops) - 1)
    assert hops[-1].mode == "safe" and hops[-1].control.rule == "safe:attention-stale"
    assert hops[-1].control.time_s - last_t > HOP_S + s.stale_after_s
    # Back from safe: held there for min_dwell_s of data (dwell:safe), not released at once.
    assert outputs[-1][1].mode == "safe"
    assert outputs[-1][1].control.rule.startswith("dwell:safe (wanted hold")


def test_enter_safe_is_immediate_once_and_leaving_it_waits_the_dwell_in_data_time():
    s = ControllerSettings(require_stress=False, min_dwell_s=1.0, smoothing_tau_s=0.0)
    policy = ControlPolicy(s, DeterministicResolver())
    index = 500
    for _ in range(12):
        policy.on_feature(_attention(index, 0.9), 0.0)
        index += HOP_N
    assert policy.mode == "hold"
    safe = policy.enter_safe("device-stalled", 123.0)
    assert safe is not None and safe.mode == "safe"
    assert safe.control.rule == "safe:device-stalled" and safe.control.safe
    assert safe.control.time_s == (index - HOP_N) / FS  # at the data clock
    assert safe.control.issued_at == 123.0
    assert policy.enter_safe("attention-stale", 124.0) is None  # already safe: no repeat
    # Data again right after: safe for 1.0 s of data since entering, then hold.
    modes = []
    for _ in range(6):
        modes.append(policy.on_feature(_attention(index, 0.9), 200.0)[-1][1].mode)
        index += HOP_N
    assert modes == ["safe", "safe", "safe", "safe", "hold", "hold"]  # 4 × 0.248 < 1.0


def test_observe_device_enters_safe_and_streaming_does_not():
    s = ControllerSettings(require_stress=False, smoothing_tau_s=0.0)
    policy = ControlPolicy(s, DeterministicResolver())
    for k in range(12):
        policy.on_feature(_attention(500 + k * HOP_N, 0.5), 0.0)
    assert policy.observe_device("streaming", 1.0) is None and policy.mode == "hold"
    out = policy.observe_device("ended", 1.0)
    assert out is not None and out.control.rule == "safe:device-ended"


def test_the_data_clock_never_goes_back_and_continues_a_restarted_stream():
    clock = DataClock()
    assert clock.now is None
    assert clock.place("attention", 10.0) == 10.0
    assert clock.place("stress", 8.0) == 8.0 and clock.now == 10.0  # older stream: no step back
    assert clock.place("attention", 10.25) == 10.25
    # The feature stage restarted: attention begins again at its first window (2 s).
    assert clock.place("attention", 2.0) == 10.25
    assert clock.place("attention", 2.25) == 10.5 and clock.now == 10.5
    assert clock.place("stress", 9.0) == 9.0  # the other stream is not shifted
