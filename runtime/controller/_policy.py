"""The control policy: features and model status in, a Control out per feature.

Pure logic with injected time, so property tests can drive it through any history. The
time is the session's **data clock** (:mod:`runtime.controller._clock`): seconds of data,
the features' own ``time_s``. Smoothing, hysteresis, dwell, the rate limit, the decision
cadence and staleness all run on it, so a replay at any speed gives the same controls. The
wall clock only stamps a control's TTL (``issued_at``/``expires_at``) and, through
:meth:`ControlPolicy.enter_safe`, lets a live stage go safe when data stops arriving.

The policy never raises on bad input: non-finite or out-of-range feature values count as
invalid, and any failure inside a decision step yields the safe state.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from runtime.controller._clock import DataClock
from runtime.controller._settings import ControllerSettings
from runtime.messages import Control, Feature, GuardMargins
from runtime.resolver import Decision, DecisionStep, score_options

logger = logging.getLogger("runtime.controller")

Mode = Literal["safe", "pause", "gentle", "hold", "intensify"]
#: Modes a decision may choose (the resolver's standard options).
CONFLICT_OPTIONS: tuple[Mode, ...] = ("intensify", "hold", "gentle", "pause")
#: Data times closer than this are the same time (float sums of hops).
_TIME_EPS_S = 1e-9


@dataclass
class _Reading:
    value: float | None = None
    valid: bool = False
    reason: str = "none yet"
    received_at: float = -math.inf
    smoothed: float | None = None
    interval_s: float = 0.0


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
    """

    def __init__(self, settings: ControllerSettings, decision_step: DecisionStep) -> None:
        self.settings = settings
        self.decision_step = decision_step
        self._attention = _Reading()
        self._stress = _Reading()
        self._guard_violated_at = -math.inf
        self._guard_detail = ""
        self._margins: dict[str, float] = {}
        self._device_state: str | None = None
        self.mode: Mode = "safe"
        self._mode_since = -math.inf
        self._intensity = settings.baseline_intensity
        self._last_step: float | None = None
        self._intensify_on = False
        self._gentle_on = False
        self._decision: Decision | None = None
        self._decided_at = -math.inf
        self._decided_kind = ""
        #: The session's data clock (the newest feature time seen).
        self.clock = DataClock()
        self._step_time = 0.0

    # -- inputs ---------------------------------------------------------------------------

    def observe_attention(
        self, value: float | None, valid: bool, reason: str, now: float, interval_s: float = 0.0
    ) -> None:
        """A new attention estimate in [0, 1] (``valid`` False: calibrating or poor signal).

        ``interval_s`` is how often this feature is updated (its hop): it counts as stale
        only ``stale_after_s`` after the next update was due.
        """
        self._observe(self._attention, value, valid, reason, now, interval_s)

    def observe_stress(
        self, value: float | None, valid: bool, reason: str, now: float, interval_s: float = 0.0
    ) -> None:
        """A new stress estimate in [0, 1]; ``interval_s`` as for attention."""
        self._observe(self._stress, value, valid, reason, now, interval_s)

    def observe_feature(self, feature: Feature, now: float | None = None) -> None:
        """A ``features.attention`` or ``features.stress`` body: its level, validity,
        reason and hop (see :meth:`observe_attention`), at data time ``now`` (default: the
        feature's own ``time_s`` on the session clock). Another kind is ignored."""
        if feature.kind == "attention":
            reading = self._attention
        elif feature.kind == "stress":
            reading = self._stress
        else:
            return
        if now is None:
            now = self.clock.place(feature.kind, feature.time_s)
        self._observe(reading, feature.level, feature.valid, feature.reason, now, feature.hop_s)

    def on_feature(self, feature: Feature, wall: float) -> list[tuple[str, PolicyOutput]]:
        """A feature in; the controls it makes due, each with its trigger.

        First one ``hop`` step for every ``hop_s`` of data time that passed since the last
        step without a feature (until one of them is safe: staleness shows there, and a
        safe state needs no repeating), then the ``feature`` step at the feature's time.
        Another kind of feature gives nothing.
        """
        if feature.kind not in ("attention", "stress"):
            return []
        t = self.clock.place(feature.kind, feature.time_s)
        outputs: list[tuple[str, PolicyOutput]] = []
        if self._last_step is not None:
            due = self._last_step + self.settings.hop_s
            while due < t - _TIME_EPS_S:
                output = self.step(due, wall)
                outputs.append(("hop", output))
                if output.mode == "safe":
                    break
                due += self.settings.hop_s
        self.observe_feature(feature, t)
        outputs.append(("feature", self.step(t, wall)))
        return outputs

    def enter_safe(self, reason: str, wall: float) -> PolicyOutput | None:
        """Enter the safe state now (rule ``safe:<reason>``), at the current data time.

        For what data cannot say: the device stopped streaming, or no feature arrived for
        ``stale_after_s`` of wall time. Returns the control to publish, or None when the
        policy is in the safe state already (the last control said so). Leaving it again
        waits ``min_dwell_s`` of data time, as after any safe state.
        """
        if self.mode == "safe":
            return None
        now = self.clock.now if self.clock.now is not None else (self._last_step or 0.0)
        self._last_step = self._step_time = now
        self._enter("safe", now)
        self._intensify_on = self._gentle_on = False
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

    def observe_device(self, state: str, wall: float) -> PolicyOutput | None:
        """The driver's state (``status.driver``): anything but ``streaming`` enters the safe
        state at once (rule ``safe:device-<state>``), so a stalled or lost device does not
        wait for features to go stale; returns that control (None: safe already, or
        streaming). Steps on features do not read the state: a feature that arrives is data
        that flowed, and what the policy makes of data depends on the data alone."""
        self._device_state = state
        if state == "streaming":
            return None
        return self.enter_safe(f"device-{state}", wall)

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

    def _observe(
        self,
        reading: _Reading,
        value: float | None,
        valid: bool,
        reason: str,
        now: float,
        interval_s: float,
    ) -> None:
        ok = valid and value is not None and math.isfinite(value) and 0.0 <= value <= 1.0
        if valid and not ok:
            reason = f"out-of-range value {value!r}"
        tau = self.settings.smoothing_tau_s
        if ok:
            assert value is not None
            if reading.smoothed is None or not reading.valid or tau == 0:
                reading.smoothed = value
            else:
                alpha = 1.0 - math.exp(-max(now - reading.received_at, 0.0) / tau)
                reading.smoothed += alpha * (value - reading.smoothed)
        else:
            reading.smoothed = None
        reading.value = value if ok else None
        reading.valid = ok
        reading.reason = "" if ok else (reason or "invalid")
        reading.received_at = now
        reading.interval_s = interval_s if math.isfinite(interval_s) and interval_s > 0 else 0.0

    # -- one hop ----------------------------------------------------------------------------

    def step(self, now: float, wall: float) -> PolicyOutput:
        """Decide the control at data time ``now`` (``wall``: the wall clock, for the TTL)."""
        s = self.settings
        dt = 0.0 if self._last_step is None else max(now - self._last_step, 0.0)
        self._last_step = self._step_time = now
        self.clock.advance(now)
        unsafe = self._safety_reason(now)
        decision = None
        if unsafe is not None:
            self._enter("safe", now)
            self._intensify_on = self._gentle_on = False
            self._intensity = s.baseline_intensity
            return PolicyOutput(self._control(f"safe:{unsafe}", wall, safe=True), "safe")
        wanted, rule, decision = self._wanted_mode(now)
        if wanted != self.mode and now - self._mode_since < s.min_dwell_s:
            rule = f"dwell:{self.mode} (wanted {wanted}: {rule})"
            wanted = self.mode
        self._enter(wanted, now)
        if self.mode == "safe":  # held by the dwell time: still the fail-safe's state
            self._intensity = s.baseline_intensity
            return PolicyOutput(self._control(rule, wall, safe=True), "safe", decision)
        target = self._target_intensity(wanted)
        step_max = s.max_rate_per_s * dt
        self._intensity += max(-step_max, min(step_max, target - self._intensity))
        self._intensity = min(s.max_intensity, max(s.min_intensity, self._intensity))
        return PolicyOutput(self._control(rule, wall, safe=False), self.mode, decision)

    def _enter(self, mode: Mode, now: float) -> None:
        if mode != self.mode:
            logger.info("controller: mode %s → %s", self.mode, mode)
            self.mode = mode
            self._mode_since = now

    def _safety_reason(self, now: float) -> str | None:
        s = self.settings
        required = [("attention", self._attention)]
        if s.require_stress:
            required.append(("stress", self._stress))
        for name, reading in required:
            if reading.received_at == -math.inf:
                return f"no-{name}"
            if now - reading.received_at > reading.interval_s + s.stale_after_s:
                return f"{name}-stale"
            if not reading.valid and reading.reason.startswith("calibrating"):
                return f"{name}-calibrating"
        return None

    def _wanted_mode(self, now: float) -> tuple[Mode, str, Decision | None]:
        s = self.settings
        attention, stress = self._attention, self._stress
        stress_known = (
            stress.valid and now - stress.received_at <= stress.interval_s + s.stale_after_s
        )
        invalid = [n for n, r in (("attention", attention), ("stress", stress)) if not r.valid]
        if not s.require_stress and not stress_known:
            invalid = [n for n in invalid if n != "stress"]
        if invalid:
            detail = ", ".join(
                f"{n} invalid ({(attention if n == 'attention' else stress).reason})"
                for n in invalid
            )
            return self._resolve("poor-signal", detail, now, forbid_intensify=True)
        a = attention.smoothed
        z = stress.smoothed if stress_known else None
        assert a is not None
        h = s.hysteresis
        if self._intensify_on:
            self._intensify_on = a > s.attention_high - h and (z is None or z < s.stress_low + h)
        else:
            self._intensify_on = a > s.attention_high and (z is not None and z < s.stress_low)
        if z is None:
            self._gentle_on = False
        elif self._gentle_on:
            self._gentle_on = z > s.stress_high - h
        else:
            self._gentle_on = z > s.stress_high
        z_text = "n/a" if z is None else f"{z:.2f}"
        guard = now - self._guard_violated_at <= s.guard_hold_s
        if self._intensify_on and self._gentle_on:
            detail = f"attention {a:.2f} high and stress {z_text} high at once"
            return self._resolve("intensify-vs-gentle", detail, now, forbid_intensify=guard)
        if self._intensify_on and guard:
            detail = f"intensify wanted but the model reported {self._guard_detail or 'a guard'}"
            return self._resolve("guard-violation", detail, now, forbid_intensify=True)
        if self._gentle_on:
            return "gentle", f"gentle: stress {z_text} > {s.stress_high}", None
        if self._intensify_on:
            return (
                "intensify",
                f"intensify: attention {a:.2f} > {s.attention_high}, stress {z_text}",
                None,
            )
        return "hold", f"hold: attention {a:.2f}, stress {z_text}", None

    def _resolve(
        self, kind: str, detail: str, now: float, *, forbid_intensify: bool
    ) -> tuple[Mode, str, Decision | None]:
        """Ask the decision step, at most once per dwell time for an ongoing conflict."""
        s = self.settings
        fresh = (
            self._decision is None
            or self._decided_kind != kind
            or now - self._decided_at >= max(s.min_dwell_s, s.hop_s)
        )
        if not fresh:
            assert self._decision is not None
            return (
                _as_mode(self._decision.option),
                f"decision:{self._decision.option} ({kind})",
                None,
            )
        state: dict[str, Any] = {
            "attention": self._attention.smoothed,
            "stress": self._stress.smoothed,
            "attention_valid": self._attention.valid,
            "stress_valid": self._stress.valid,
            "identity_margin": self._margins.get("identity_margin"),
            "entropy_margin": self._margins.get("entropy_margin"),
            "detail": detail,
        }
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
            return "gentle", f"decision-failed:gentle ({kind})", None
        decision = replace(decision, time_s=now)
        self._decision, self._decided_at, self._decided_kind = decision, now, kind
        return _as_mode(decision.option), f"decision:{decision.option} ({kind}: {detail})", decision

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
        )


def _as_mode(option: str) -> Mode:
    return option if option in CONFLICT_OPTIONS else "gentle"  # type: ignore[return-value]
