"""The group policy (issue 21.4): several people's features, one control.

Gentle when anyone's stress is high (naming them), intensify only when everyone is
attentive and no one stressed, a lost person makes the group safe or drops out
(``[controller] group.lost``), and one person gives exactly the single-person policy.
The expected modes follow from the rules by hand: no smoothing, no hysteresis, no dwell.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.controller import ControllerSettings, ControlPolicy, PolicyOutput
from runtime.controller._clock import DataClock
from runtime.controller._settings import GroupSettings
from runtime.messages import AttentionFeature, Feature, StressFeature
from runtime.resolver import DeterministicResolver

HOP_S = 0.25


def _features(t: float, person: str | None, attention: float | None, stress: float
              ) -> list[Feature]:
    """One hop of ``person``'s features at data time ``t`` (attention None: poor signal)."""
    index = round(t * 250)
    return [
        AttentionFeature(
            sample_index=index, time_s=t, window_s=2.0, hop_s=HOP_S,
            valid=attention is not None, calibrated=True,
            reason="" if attention is not None else "too few good channels (0 of 4)",
            quality=1.0, attention=attention, person=person,
        ),
        StressFeature(
            sample_index=index, time_s=t, window_s=20.0, hop_s=HOP_S, valid=True,
            calibrated=True, reason="", quality=1.0, stress=stress, person=person,
        ),
    ]


def _policy(**group) -> ControlPolicy:
    settings = ControllerSettings(smoothing_tau_s=0.0, hysteresis=0.0, min_dwell_s=0.0,
                                  stale_after_s=1.0, group=GroupSettings(**group))
    return ControlPolicy(settings, DeterministicResolver())


def _run(policy: ControlPolicy, hops: int, t0: float, levels: dict
         ) -> tuple[list[tuple[str, PolicyOutput]], float]:
    """``hops`` hops from ``t0``: each person in ``levels`` (person → (attention, stress))
    sends its features at every hop, in person order; returns every output and the next t."""
    outputs = []
    for k in range(hops):
        t = t0 + k * HOP_S
        for person, (attention, stress) in levels.items():
            for feature in _features(t, person, attention, stress):
                outputs += policy.on_feature(feature, 1.7e9 + t)
    return outputs, t0 + hops * HOP_S


def _last(outputs) -> PolicyOutput:
    return outputs[-1][1]


CALM_FOCUSED = (0.9, 0.1)


def test_everyone_attentive_and_calm_intensifies_for_the_group_as_a_whole():
    policy = _policy()
    outputs, _ = _run(policy, 12, 4.0, {"P01": CALM_FOCUSED, "P02": (0.85, 0.2)})
    out = _last(outputs)
    assert (out.mode, out.control.intensity, out.control.gentle) == ("intensify", 1.5, False)
    assert out.control.trigger_person is None  # the whole group, no one in particular
    # the binding values, named: the least attentive and the most stressed
    assert out.control.rule == "intensify: attention 0.85 (P02) > 0.8, stress 0.20 (P02)"
    assert {o.control.trigger_person for _, o in outputs if not o.control.safe} == {None}


def test_one_person_not_attentive_holds_the_baseline():
    policy = _policy(min_people=2)  # before P02's first feature P01 would be the group
    outputs, _ = _run(policy, 12, 4.0, {"P01": CALM_FOCUSED, "P02": (0.5, 0.1)})
    assert "intensify" not in {o.mode for _, o in outputs}
    assert outputs[3][1].mode == "hold"  # as soon as both have sent both features
    out = _last(outputs)
    assert (out.mode, out.control.intensity) == ("hold", 1.0)
    assert out.control.rule == "hold: attention 0.50 (P02), stress 0.10 (P01)"


def test_one_person_stressed_makes_the_group_gentle_naming_them():
    policy = _policy()
    outputs, t = _run(policy, 8, 4.0, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    assert _last(outputs).mode == "intensify"
    outputs, _ = _run(policy, 8, t, {"P01": CALM_FOCUSED, "P02": (0.9, 0.85)})
    out = _last(outputs)
    assert (out.mode, out.control.gentle, out.control.safe) == ("gentle", True, False)
    assert out.control.trigger_person == "P02"
    assert out.control.rule == "gentle: stress 0.85 (P02) > 0.7"
    # the first control after P02's stressed stress feature is already gentle
    first = next(o for _, o in outputs if o.mode != "intensify")
    assert first.mode == "gentle" and first.control.time_s == t


def test_a_stressed_person_beats_another_ones_poor_signal_and_a_poor_signal_alone_is_decided():
    policy = _policy()
    outputs, t = _run(policy, 6, 4.0, {"P01": (None, 0.1), "P02": (0.9, 0.9)})
    out = _last(outputs)
    assert (out.mode, out.control.trigger_person, out.decision) == ("gentle", "P02", None)
    outputs, _ = _run(policy, 6, t, {"P01": (None, 0.1), "P02": CALM_FOCUSED})
    decisions = [o.decision for _, o in outputs if o.decision is not None]
    assert decisions and {d.conflict_kind for d in decisions} == {"poor-signal"}
    assert {d.trigger_person for d in decisions} == {"P01"}
    assert "intensify" not in {o.mode for _, o in outputs}
    assert _last(outputs).control.trigger_person == "P01"


def test_a_lost_person_makes_the_group_safe_naming_them_with_lost_safe():
    policy = _policy(lost="safe")
    outputs, t = _run(policy, 8, 4.0, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    last_p02 = t - HOP_S
    outputs, _ = _run(policy, 12, t, {"P01": CALM_FOCUSED})  # P02's features stop
    safe = [o for _, o in outputs if o.mode == "safe"]
    assert safe and safe[0].control.rule == "safe:attention-stale (P02)"
    assert safe[0].control.trigger_person == "P02" and safe[0].control.intensity == 1.0
    # stale once P02's next feature is more than stale_after_s overdue on the group clock
    assert safe[0].control.time_s == pytest.approx(last_p02 + HOP_S + 1.0 + HOP_S)
    before = [o for _, o in outputs if o.control.time_s < safe[0].control.time_s]
    assert before and {o.mode for o in before} == {"intensify"}
    assert {o.mode for _, o in outputs[outputs.index(("feature", safe[0])):]} == {"safe"}


def test_with_lost_drop_the_others_go_on_and_safe_when_no_one_is_left():
    policy = _policy(lost="drop")
    outputs, t = _run(policy, 8, 4.0, {"P01": CALM_FOCUSED, "P02": (0.5, 0.1)})
    assert _last(outputs).mode == "hold"  # P02 is not attentive
    outputs, t = _run(policy, 12, t, {"P01": CALM_FOCUSED})  # P02's features stop
    assert "safe" not in {o.mode for _, o in outputs}
    out = _last(outputs)
    assert out.mode == "intensify" and out.control.intensity == 1.5  # P01 alone decides
    assert out.control.rule.endswith("(dropped: P02 attention-stale)")
    # everyone's data stopped: at a later data time no one is left
    out = policy.step(t + 2.0, 1.7e9)
    assert (out.mode, out.control.rule, out.control.trigger_person) == (
        "safe", "safe:attention-stale (P01)", "P01")


def test_a_lost_person_who_comes_back_rejoins_the_group():
    policy = _policy(lost="safe")
    _, t = _run(policy, 8, 4.0, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    outputs, t = _run(policy, 12, t, {"P01": CALM_FOCUSED})
    assert _last(outputs).mode == "safe"
    # P02's sensor host restarted: its features count from 4 s again, placed on the clock
    outputs = []
    for k in range(8):
        for feature in _features(t + k * HOP_S, "P01", *CALM_FOCUSED):
            outputs += policy.on_feature(feature, 1.7e9)
        for feature in _features(4.0 + k * HOP_S, "P02", *CALM_FOCUSED):
            outputs += policy.on_feature(feature, 1.7e9)
    assert [trigger for trigger, _ in outputs] == ["feature"] * 32  # no burst of hops
    times = [o.control.time_s for _, o in outputs]
    assert times == sorted(times) and times[-1] == pytest.approx(t + 7 * HOP_S)
    assert _last(outputs).mode == "intensify"
    assert outputs[0][1].mode == "safe"  # not before P02's first feature is back


def test_a_person_joining_later_starts_from_the_group_clock():
    clock = DataClock()
    assert clock.place("attention", 100.0, "P01") == 100.0
    assert clock.place("attention", 4.0, "P02") == 100.0  # joins now, whatever its origin
    assert clock.place("attention", 4.25, "P02") == 100.25
    assert clock.place("attention", 100.25, "P01") == 100.25
    single = DataClock()  # one person's streams are not aligned with each other
    assert single.place("attention", 100.0) == 100.0 and single.place("stress", 4.0) == 4.0


def test_min_people_keeps_the_group_safe_until_enough_people_are_live():
    policy = _policy(min_people=2)
    outputs, t = _run(policy, 6, 4.0, {"P01": CALM_FOCUSED})
    assert outputs[0][1].control.rule == "safe:no-stress"  # its attention came first
    assert {o.control.rule for _, o in outputs[1:]} == {"safe:too-few-people (1 of 2)"}
    outputs, _ = _run(policy, 6, t, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    assert _last(outputs).mode == "intensify"


def test_one_person_gives_the_single_person_controls_whatever_their_id():
    """A scripted history with every rule of one person (calibrating, intensify, gentle, a
    poor signal decided, hold, a gap that goes stale), unnamed and named P01: the same
    controls output by output, only trigger_person says who."""
    settings = ControllerSettings()  # the defaults: smoothing, hysteresis, dwell

    def history(person):
        features: list[Feature] = []
        for k in range(160):
            t = 4.0 + k * HOP_S
            if 100 <= k < 110:
                continue  # a gap in the data: stale, then safe
            attention = None if 60 <= k < 70 else (0.95 if k < 40 else 0.5)
            stress = 0.9 if 40 <= k < 60 else 0.1
            features += _features(t, person, attention, stress)
        features[0] = AttentionFeature(
            sample_index=1000, time_s=4.0, window_s=2.0, hop_s=HOP_S, valid=False,
            calibrated=False, reason="calibrating (2 of 60 s)", quality=0.0, person=person)
        return features

    def run(person):
        policy = ControlPolicy(settings, DeterministicResolver())
        return [out for i, f in enumerate(history(person))
                for out in policy.on_feature(f, 1.7e9 + i)]

    unnamed, named = run(None), run("P01")
    assert len(unnamed) == len(named)
    for (t1, a), (t2, b) in zip(unnamed, named, strict=True):
        assert (t1, a.mode, a.decision is None) == (t2, b.mode, b.decision is None)
        assert a.control == replace(b.control, trigger_person=None)
        if a.decision is not None:
            assert a.decision.trigger_person is None and b.decision.trigger_person == "P01"
    assert {o.control.trigger_person for _, o in unnamed} == {None}
    modes = {o.mode for _, o in unnamed}
    assert modes >= {"safe", "intensify", "gentle", "hold"}
    assert any(o.decision is not None for _, o in unnamed)
    gentle = [o for _, o in named if o.mode == "gentle" and o.decision is None]
    assert gentle and {o.control.trigger_person for o in gentle} == {"P01"}
    assert "(P01)" not in " ".join(o.control.rule for _, o in named)  # one person: no tags


def test_the_group_settings_load_from_toml_and_a_bad_choice_names_key_and_choices(tmp_path):
    from runtime.config import load_config
    from runtime.errors import ConfigError

    path = tmp_path / "group.toml"
    path.write_text('[controller]\ngroup.lost = "drop"\ngroup.min_people = 2\n')
    group = load_config(path).controller.group
    assert (group.rule, group.lost, group.min_people) == ("default", "drop", 2)
    path.write_text('[controller]\ngroup.lost = "ignore"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "[controller.group] lost = 'ignore': Input should be 'safe' or 'drop'" in str(
        info.value)


@pytest.mark.parametrize("lost", ["safe", "drop"])
def test_a_named_persons_device_that_is_not_streaming_makes_them_lost(lost):
    """P02's device lost: with ``safe`` the group is safe at once naming P02, and stays
    so while P02's device is down; with ``drop`` P01 goes on alone, naming P02 dropped.
    Once P02's device and features are back, both decide again."""
    policy = _policy(lost=lost)
    _, t = _run(policy, 12, 4.0, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    assert policy.mode == "intensify"
    now = policy.observe_device("lost", 1.7e9 + t, person="P02")
    outputs, t = _run(policy, 8, t, {"P01": CALM_FOCUSED})  # P02 sends nothing
    if lost == "safe":
        assert now is not None and now.mode == "safe"
        assert (now.control.rule, now.control.trigger_person) == ("safe:device-lost (P02)", "P02")
        assert {(o.control.rule, o.control.trigger_person) for _, o in outputs} == {
            ("safe:device-lost (P02)", "P02")}
    else:
        assert now is None  # no control of its own: P01's next step goes on without P02
        assert {o.mode for _, o in outputs} == {"intensify"}
        assert _last(outputs).control.rule == (
            "intensify: attention 0.90 (P01) > 0.8, stress 0.10 (P01) "
            "(dropped: P02 device-lost)")
    assert policy.devices_down == {"P02": "lost"}
    assert policy.observe_device("streaming", 1.7e9 + t, person="P02") is None
    assert policy.devices_down == {}
    outputs, _ = _run(policy, 8, t, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    assert _last(outputs).mode == "intensify" and "dropped" not in _last(outputs).control.rule


def test_a_named_persons_streaming_device_changes_nothing():
    policy = _policy()
    outputs, t = _run(policy, 12, 4.0, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    assert policy.observe_device("streaming", 1.7e9 + t, person="P02") is None
    more, _ = _run(policy, 4, t, {"P01": CALM_FOCUSED, "P02": CALM_FOCUSED})
    assert [o.mode for _, o in more] == ["intensify"] * len(more)
    assert policy.devices_down == {}


def test_a_device_of_someone_the_unnamed_features_do_not_name_is_the_sessions_device():
    """Features that name nobody, a driver status that names P01 (a [source] person whose
    features are not stamped): the whole session goes safe, as for a device of no one."""
    named, unnamed = _policy(lost="drop"), _policy(lost="drop")
    for policy in (named, unnamed):
        _, t = _run(policy, 12, 4.0, {None: CALM_FOCUSED})
        assert policy.mode == "intensify"
    by_person = named.observe_device("stalled", 1.7e9 + t, person="P01")
    by_no_one = unnamed.observe_device("stalled", 1.7e9 + t)
    assert by_person is not None and by_no_one is not None
    assert by_person.control == by_no_one.control
    assert (by_person.control.rule, by_person.control.trigger_person) == (
        "safe:device-stalled", None)
    assert named.devices_down == {}
