"""The control policy: features and model status in, a Control out per feature.

Pure logic with injected time, so property tests can drive it through any history. The
time is the session's **data clock** (:mod:`runtime.controller._clock`): seconds of data,
the features' own ``time_s``. Smoothing, hysteresis, dwell, the rate limit, the decision
cadence and staleness all run on it, so a replay at any speed gives the same controls. The
wall clock only stamps a control's TTL (``issued_at``/``expires_at``) and, through
:meth:`ControlPolicy.enter_safe`, lets a live stage go safe when data stops arriving.

The policy never raises on bad input: non-finite or out-of-range feature values count as
invalid, and any failure inside a decision step yields the safe state.

Several people (the features' ``person``; docs/group-policy.md): each keeps its own
readings, smoothing, hysteresis and staleness (:mod:`runtime.controller._person`); the
mode, dwell, intensity and decisions are the group's, combined by ``[controller] group``:
gentle when anyone's stress is high, intensify only when everyone is attentive and no one
stressed, a lost person makes the group safe (``lost = "safe"``) or drops out
(``"drop"``). One person gives exactly the single-person policy.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from runtime.controller._clock import DataClock
from runtime.controller._person import PersonState, Reading
from runtime.controller._settings import ControllerSettings
from runtime.messages import Control, Feature, GuardMargins
from runtime.resolver import Decision, DecisionStep, score_options

logger = logging.getLogger("runtime.controller")

Mode = Literal["safe", "pause", "gentle", "hold", "intensify"]
#: Modes a decision may choose (the resolver's standard options).
CONFLICT_OPTIONS: tuple[Mode, ...] = ("intensify", "hold", "gentle", "pause")
#: Data times closer than this are the same time (float sums of hops).
_TIME_EPS_S = 1e-9


@dataclass(frozen=True)
class PolicyOutput:
    """One hop's result: the control to publish, the mode, and a decision made this hop."""

    control: Control
    mode: Mode
    decision: Decision | None = None


class ControlPolicy:
    """Maps attention, stress and the model's guard reports to repair intensity and gentle mode.

    The stage calls :meth:`on_feature` for each feature (in data-time order) and publishes
    the controls it returns; :meth:`enter_safe` when data stops (a device that is not
    streaming, no feature for a while of wall time). Lower level, for tests and tools:
    ``observe_*`` and ``step``. ``now`` is data time (seconds of data), ``wall`` wall-clock
    seconds for the TTL. Into the safe state is immediate; every other change of mode waits
    ``min_dwell_s`` of data time since the previous change. A safe state the dwell time
    holds is still the safe state (``safe`` and ``gentle`` on, baseline intensity), with a
    ``dwell:safe`` rule.

    People are told apart by the features' ``person`` (None: a single-person session);
    rules name a person only once there are several. Each control and decision carries the
    person that triggered it in ``trigger_person``.
    """

    def __init__(self, settings: ControllerSettings, decision_step: DecisionStep) -> None:
        self.settings = settings
        self.decision_step = decision_step
        #: Each person's readings and hysteresis, by person id (None: the single person).
        self.people: dict[str | None, PersonState] = {}
        self._guard_violated_at = -math.inf
        self._guard_detail = ""
        self._margins: dict[str, float] = {}
        self._device_state: str | None = None
        #: Each named person whose device is not streaming, with its state (a group's
        #: devices, ``status.driver`` with ``person``): lost under ``[controller] group``.
        self.devices_down: dict[str, str] = {}
        self.mode: Mode = "safe"
        self._mode_since = -math.inf
        self._mode_person: str | None = None
        self._intensity = settings.baseline_intensity
        self._last_step: float | None = None
        self._decision: Decision | None = None
        self._decided_at = -math.inf
        self._decided_kind = ""
        self._decided_person: str | None = None
        #: The session's data clock (the newest feature time seen, of anyone).
        self.clock = DataClock()
        self._step_time = 0.0

    # -- inputs ---------------------------------------------------------------------------

    def observe_attention(
        self,
        value: float | None,
        valid: bool,
        reason: str,
        now: float,
        interval_s: float = 0.0,
        person: str | None = None,
    ) -> None:
        """A new attention estimate in [0, 1] (``valid`` False: calibrating or poor signal)
        of ``person`` (None: the single person).

        ``interval_s`` is how often this feature is updated (its hop): it counts as stale
        only ``stale_after_s`` after the next update was due.
        """
        reading = self._person(person).attention
        reading.observe(value, valid, reason, now, interval_s, self.settings.smoothing_tau_s)

    def observe_stress(
        self,
        value: float | None,
        valid: bool,
        reason: str,
        now: float,
        interval_s: float = 0.0,
        person: str | None = None,
    ) -> None:
        """A new stress estimate in [0, 1]; ``interval_s`` and ``person`` as for attention."""
        reading = self._person(person).stress
        reading.observe(value, valid, reason, now, interval_s, self.settings.smoothing_tau_s)

    def observe_feature(self, feature: Feature, now: float | None = None) -> None:
        """A ``features.attention`` or ``features.stress`` body: its level, validity,
        reason and hop (see :meth:`observe_attention`) for its ``person``, at data time
        ``now`` (default: the feature's own ``time_s`` on the session clock). Another kind
        is ignored."""
        if feature.kind not in ("attention", "stress"):
            return
        if now is None:
            now = self.clock.place(feature.kind, feature.time_s, feature.person)
        person = self._person(feature.person)
        reading: Reading = person.attention if feature.kind == "attention" else person.stress
        reading.observe(feature.level, feature.valid, feature.reason, now, feature.hop_s,
                        self.settings.smoothing_tau_s)

    def on_feature(self, feature: Feature, wall: float) -> list[tuple[str, PolicyOutput]]:
        """A feature in; the controls it makes due, each with its trigger.

        First one ``hop`` step for every ``hop_s`` of data time that passed since the last
        step without a feature (until one of them is safe: staleness shows there, and a
        safe state needs no repeating), then the ``feature`` step. With one person the
        step is at the feature's own time; in a group at the group's clock (the newest
        time of anyone's features, which never goes back), so a person whose features lag
        does not take the steps back. Another kind of feature gives nothing.
        """
        if feature.kind not in ("attention", "stress"):
            return []
        t = self.clock.place(feature.kind, feature.time_s, feature.person)
        group = len(self.people.keys() | {feature.person}) > 1
        step_at = self.clock.now if group and self.clock.now is not None else t
        outputs: list[tuple[str, PolicyOutput]] = []
        if self._last_step is not None:
            due = self._last_step + self.settings.hop_s
            while due < step_at - _TIME_EPS_S:
                output = self.step(due, wall)
                outputs.append(("hop", output))
                if output.mode == "safe":
                    break
                due += self.settings.hop_s
        self.observe_feature(feature, t)
        outputs.append(("feature", self.step(step_at, wall)))
        return outputs

    def enter_safe(
        self, reason: str, wall: float, person: str | None = None
    ) -> PolicyOutput | None:
        """Enter the safe state now (rule ``safe:<reason>``), at the current data time.

        For what data cannot say: the device stopped streaming, or no feature arrived for
        ``stale_after_s`` of wall time. Returns the control to publish, or None when the
        policy is in the safe state already (the last control said so). Leaving it again
        waits ``min_dwell_s`` of data time, as after any safe state. ``person``: whose
        data it is about (None: everyone's).
        """
        if self.mode == "safe":
            return None
        now = self.clock.now if self.clock.now is not None else (self._last_step or 0.0)
        self._last_step = self._step_time = now
        self._enter("safe", now, person)
        self._reset_conditions()
        self._intensity = self.settings.baseline_intensity
        return PolicyOutput(self._control(f"safe:{reason}", wall, safe=True), "safe")

    def observe_guard(self, guard: GuardMargins | None, now: float | None = None) -> None:
        """The guard margins of a ``model.status`` (None: a report without repair, which
        clears the margins), as :meth:`observe_model_guards`; ``now`` defaults to the data
        clock (a model's report has no data time of its own)."""
        if now is None:
            now = self.clock.now if self.clock.now is not None else 0.0
        guard = guard or GuardMargins()
        detail = "a guard violation"
        if guard.min_similarity is not None and guard.identity_floor is not None:
            detail = (
                f"identity similarity {guard.min_similarity:.2f} "
                f"(floor {guard.identity_floor:.2f})"
            )
        self.observe_model_guards(
            now,
            identity_margin=guard.identity_margin,
            entropy_margin=guard.entropy_margin_bits,
            violations=guard.guard_scaled,
            detail=detail,
        )

    def observe_device(
        self, state: str, wall: float, person: str | None = None
    ) -> PolicyOutput | None:
        """The driver's state (``status.driver``): anything but ``streaming`` enters the safe
        state at once (rule ``safe:device-<state>``), so a stalled or lost device does not
        wait for features to go stale; returns that control (None: safe already, or
        streaming). Steps on features do not read the state: a feature that arrives is data
        that flowed, and what the policy makes of data depends on the data alone.

        ``person``: whose device it is (the status's ``person``). A named person's device
        that is not streaming makes that person lost under ``[controller] group`` until it
        streams again (rule ``device-<state>``): ``lost = "safe"`` makes the group safe now,
        naming them; ``"drop"`` leaves them out of every step while the others go on (safe
        at once only when no one is left). None, or a person the features do not name in a
        session whose features name nobody, is the whole session's device, as above.
        """
        if state == "streaming":
            if person is not None:
                self.devices_down.pop(person, None)
            else:
                self._device_state = state
            return None
        if person is None or (person not in self.people and None in self.people):
            self._device_state = state
            return self.enter_safe(f"device-{state}", wall)
        self.devices_down[person] = state
        if self.settings.group.lost == "safe":
            return self.enter_safe(f"device-{state}{self._tag(person)}", wall, person)
        now = self.clock.now if self.clock.now is not None else (self._last_step or 0.0)
        _, _, unsafe = self._live_people(now)
        if unsafe is None:
            return None  # dropped: the next step goes on with the others
        reason, who = unsafe
        return self.enter_safe(f"{reason}{self._tag(who)}", wall, who)

    def observe_model_guards(
        self,
        now: float,
        *,
        identity_margin: float | None = None,
        entropy_margin: float | None = None,
        violations: int = 0,
        detail: str = "",
    ) -> None:
        """Guard margins from ``model.status``; a negative margin or a violation count > 0
        means a repair would erase too much of the model's identity."""
        margins = {"identity_margin": identity_margin, "entropy_margin": entropy_margin}
        self._margins = {
            k: float(v) for k, v in margins.items() if v is not None and math.isfinite(v)
        }
        if violations > 0 or any(v < 0 for v in self._margins.values()):
            self._guard_violated_at = now
            self._guard_detail = detail or "a guard violation"

    def _person(self, person: str | None) -> PersonState:
        state = self.people.get(person)
        if state is None:
            state = self.people[person] = PersonState()
        return state

    # -- one hop ----------------------------------------------------------------------------

    def step(self, now: float, wall: float) -> PolicyOutput:
        """Decide the control at data time ``now`` (``wall``: the wall clock, for the TTL)."""
        s = self.settings
        dt = 0.0 if self._last_step is None else max(now - self._last_step, 0.0)
        self._last_step = self._step_time = now
        self.clock.advance(now)
        live, dropped, unsafe = self._live_people(now)
        decision = None
        if unsafe is not None:
            reason, person = unsafe
            self._enter("safe", now, person)
            self._reset_conditions()
            self._intensity = s.baseline_intensity
            rule = f"safe:{reason}{self._tag(person)}"
            return PolicyOutput(self._control(rule, wall, safe=True), "safe")
        wanted, rule, decision, person = self._wanted_mode(now, live)
        if dropped:
            rule += " (dropped: " + ", ".join(f"{who} {why}" for who, why in dropped) + ")"
        if wanted != self.mode and now - self._mode_since < s.min_dwell_s:
            rule = f"dwell:{self.mode} (wanted {wanted}: {rule})"
            wanted, person = self.mode, self._mode_person
        self._enter(wanted, now, person)
        if self.mode == "safe":  # held by the dwell time: still the fail-safe's state
            self._intensity = s.baseline_intensity
            return PolicyOutput(self._control(rule, wall, safe=True), "safe", decision)
        target = self._target_intensity(wanted)
        step_max = s.max_rate_per_s * dt
        self._intensity += max(-step_max, min(step_max, target - self._intensity))
        self._intensity = min(s.max_intensity, max(s.min_intensity, self._intensity))
        return PolicyOutput(self._control(rule, wall, safe=False), self.mode, decision)

    def _enter(self, mode: Mode, now: float, person: str | None) -> None:
        self._mode_person = person
        if mode != self.mode:
            logger.info("controller: mode %s → %s", self.mode, mode)
            self.mode = mode
            self._mode_since = now

    def _reset_conditions(self) -> None:
        for state in self.people.values():
            state.intensify_on = state.gentle_on = False

    def _tag(self, person: str | None) -> str:
        """`` (P01)`` after a value or reason once there are several people; '' before."""
        return f" ({person})" if len(self.people) > 1 else ""

    def _live_people(
        self, now: float
    ) -> tuple[list[str | None], list[tuple[str | None, str]], tuple[str, str | None] | None]:
        """The people whose readings count at ``now``, those dropped (with why), and why
        the group is safe (the reason and whose it is) or None."""
        group = self.settings.group
        if not self.people:
            return [], [], ("no-attention", None)
        lost: list[tuple[str | None, str]] = []
        live: list[str | None] = []
        for person in sorted(self.people.keys() | self.devices_down.keys(), key=_person_order):
            down = self.devices_down.get(person) if person is not None else None
            reason = (
                f"device-{down}" if down is not None
                else self.people[person].safety_reason(now, self.settings)
            )
            if reason is None:
                live.append(person)
            else:
                lost.append((person, reason))
        if lost and (group.lost == "safe" or not live):
            person, reason = lost[0]
            return live, [], (reason, person)
        if len(live) < group.min_people:
            return live, lost, (f"too-few-people ({len(live)} of {group.min_people})", None)
        return live, lost, None

    def _wanted_mode(
        self, now: float, live: list[str | None]
    ) -> tuple[Mode, str, Decision | None, str | None]:
        """The mode the live people's readings want, its rule, a decision made for it and
        the person who triggered it (None: the group as a whole)."""
        s = self.settings
        seen = {person: self.people[person].assess(now, s) for person in live}
        poor = [(person, v.invalid) for person, v in seen.items() if v.invalid]
        valid = {person: v for person, v in seen.items() if not v.invalid}
        stressed = sorted(
            (person for person, v in valid.items() if v.gentle),
            key=lambda person: -(valid[person].stress or 0.0),
        )
        if poor and stressed:  # someone's stress is high: gentle, whoever's signal is poor
            person = stressed[0]
            z = valid[person].stress
            return "gentle", f"gentle: stress {z:.2f}{self._tag(person)} > {s.stress_high}", (
                None), person
        if poor:
            person = poor[0][0]
            detail = "; ".join(f"{why}{self._tag(who)}" for who, why in poor)
            return self._resolve("poor-signal", detail, now, person, person,
                                 forbid_intensify=True)
        intensify = all(v.intensify for v in valid.values())
        least = min(valid, key=lambda person: (valid[person].attention or 0.0))
        a = valid[least].attention
        known = [person for person, v in valid.items() if v.stress is not None]
        z_text = "n/a"
        if known:  # the most stressed person's (a person id may be None: not a sentinel)
            most = max(known, key=lambda person: valid[person].stress or 0.0)
            z_text = f"{valid[most].stress:.2f}{self._tag(most)}"
        a_text = f"{a:.2f}{self._tag(least)}"
        guard = now - self._guard_violated_at <= s.guard_hold_s
        if intensify and stressed:
            person = stressed[0]
            both = valid[person]
            detail = (f"attention {both.attention:.2f} high and stress {both.stress:.2f} high "
                      f"at once{self._tag(person)}")
            return self._resolve("intensify-vs-gentle", detail, now, person, person,
                                 forbid_intensify=guard)
        if intensify and guard:
            detail = f"intensify wanted but the model reported {self._guard_detail or 'a guard'}"
            # the group's own conflict: no one triggered it; the least attentive one's inputs
            return self._resolve("guard-violation", detail, now, None, least,
                                 forbid_intensify=True)
        if stressed:
            person = stressed[0]
            z = valid[person].stress
            return "gentle", f"gentle: stress {z:.2f}{self._tag(person)} > {s.stress_high}", (
                None), person
        if intensify:
            rule = f"intensify: attention {a_text} > {s.attention_high}, stress {z_text}"
            return "intensify", rule, None, None
        return "hold", f"hold: attention {a_text}, stress {z_text}", None, None

    def _resolve(
        self,
        kind: str,
        detail: str,
        now: float,
        person: str | None,
        inputs_of: str | None,
        *,
        forbid_intensify: bool,
    ) -> tuple[Mode, str, Decision | None, str | None]:
        """Ask the decision step, at most once per dwell time for an ongoing conflict (of
        the same kind, triggered by the same ``person``); the conflict's inputs are the
        readings of ``inputs_of``."""
        s = self.settings
        fresh = (
            self._decision is None
            or self._decided_kind != kind
            or self._decided_person != person
            or now - self._decided_at >= max(s.min_dwell_s, s.hop_s)
        )
        if not fresh:
            assert self._decision is not None
            return (
                _as_mode(self._decision.option),
                f"decision:{self._decision.option} ({kind})",
                None,
                person,
            )
        state = self._conflict_state(inputs_of, detail)
        try:
            scored = score_options(state)
        except Exception:  # out-of-range margins from a model: score without them
            logger.exception("controller: could not score %s; scoring without margins", kind)
            scored = score_options({k: v for k, v in state.items() if "margin" not in k})
        conflict = scored.to_conflict(kind)
        if forbid_intensify:
            conflict = replace(conflict, forbidden=conflict.forbidden | {"intensify"})
        try:
            decision = self.decision_step.decide(conflict)
        except Exception:  # a DecisionStep must not raise; if one does, be safe
            logger.exception("controller: decision step raised; choosing gentle")
            return "gentle", f"decision-failed:gentle ({kind})", None, person
        decision = replace(decision, time_s=now, trigger_person=person)
        self._decision, self._decided_at, self._decided_kind = decision, now, kind
        self._decided_person = person
        return (
            _as_mode(decision.option),
            f"decision:{decision.option} ({kind}: {detail})",
            decision,
            person,
        )

    def _conflict_state(self, person: str | None, detail: str) -> dict[str, Any]:
        """The decision step's inputs: ``person``'s readings, the model's margins."""
        readings = self.people[person]
        return {
            "attention": readings.attention.smoothed,
            "stress": readings.stress.smoothed,
            "attention_valid": readings.attention.valid,
            "stress_valid": readings.stress.valid,
            "identity_margin": self._margins.get("identity_margin"),
            "entropy_margin": self._margins.get("entropy_margin"),
            "detail": detail,
        }

    def _target_intensity(self, mode: Mode) -> float:
        s = self.settings
        if mode == "intensify":
            return min(s.max_intensity, s.baseline_intensity * s.gain)
        if mode == "pause":
            return s.min_intensity
        return s.baseline_intensity

    def _control(self, rule: str, wall: float, *, safe: bool) -> Control:
        ttl = self.settings.ttl_s
        return Control(
            intensity=float(self._intensity),
            gentle=safe or self.mode in ("gentle", "pause"),
            rule=rule,
            ttl_s=ttl,
            issued_at=wall,
            expires_at=wall + ttl,
            safe=safe,
            time_s=self._step_time,
            trigger_person=self._mode_person,
        )


def _person_order(person: str | None) -> tuple[bool, str]:
    """People in id order, the unnamed single person first."""
    return (person is not None, person or "")


def _as_mode(option: str) -> Mode:
    return option if option in CONFLICT_OPTIONS else "gentle"  # type: ignore[return-value]
