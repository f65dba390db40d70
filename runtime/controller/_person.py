"""One person's inputs to the control policy: smoothed attention and stress, and hysteresis.

Each person of a group session (the features' ``person``; None in a single-person session)
keeps its own readings: EMA smoothing, staleness and the hysteresis of its intensify and
gentle conditions run per person, on that person's data times. The group policy
(:mod:`runtime.controller._policy`) combines what the people say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from runtime.controller._settings import ControllerSettings


@dataclass
class Reading:
    """The newest estimate of one feature stream of one person (``received_at``: its data
    time; ``interval_s``: how often the stream is updated, its hop)."""

    value: float | None = None
    valid: bool = False
    reason: str = "none yet"
    received_at: float = -math.inf
    smoothed: float | None = None
    interval_s: float = 0.0

    def observe(
        self,
        value: float | None,
        valid: bool,
        reason: str,
        now: float,
        interval_s: float,
        tau_s: float,
    ) -> None:
        """A new estimate at data time ``now``; non-finite or out-of-range values count as
        invalid, and an invalid estimate resets the smoothing."""
        ok = valid and value is not None and math.isfinite(value) and 0.0 <= value <= 1.0
        if valid and not ok:
            reason = f"out-of-range value {value!r}"
        if ok:
            assert value is not None
            if self.smoothed is None or not self.valid or tau_s == 0:
                self.smoothed = value
            else:
                alpha = 1.0 - math.exp(-max(now - self.received_at, 0.0) / tau_s)
                self.smoothed += alpha * (value - self.smoothed)
        else:
            self.smoothed = None
        self.value = value if ok else None
        self.valid = ok
        self.reason = "" if ok else (reason or "invalid")
        self.received_at = now
        self.interval_s = interval_s if math.isfinite(interval_s) and interval_s > 0 else 0.0

    def fresh(self, now: float, stale_after_s: float) -> bool:
        """True when the next update is not more than ``stale_after_s`` overdue at ``now``."""
        return now - self.received_at <= self.interval_s + stale_after_s


@dataclass(frozen=True)
class Assessment:
    """What one person's readings say at one step: a poor signal (``invalid`` names why),
    or the smoothed levels and whether the intensify and gentle conditions hold."""

    invalid: str = ""
    attention: float | None = None
    stress: float | None = None
    intensify: bool = False
    gentle: bool = False


@dataclass
class PersonState:
    """One person's readings and the hysteresis state of its two conditions."""

    attention: Reading = field(default_factory=Reading)
    stress: Reading = field(default_factory=Reading)
    intensify_on: bool = False
    gentle_on: bool = False

    def safety_reason(self, now: float, settings: ControllerSettings) -> str | None:
        """Why this person is lost at data time ``now`` (``no-attention``,
        ``attention-stale``, ``stress-calibrating``, ...), or None when usable."""
        required = [("attention", self.attention)]
        if settings.require_stress:
            required.append(("stress", self.stress))
        for name, reading in required:
            if reading.received_at == -math.inf:
                return f"no-{name}"
            if not reading.fresh(now, settings.stale_after_s):
                return f"{name}-stale"
            if not reading.valid and reading.reason.startswith("calibrating"):
                return f"{name}-calibrating"
        return None

    def assess(self, now: float, settings: ControllerSettings) -> Assessment:
        """This step's view of the person; updates the hysteresis of the two conditions
        (not for a poor signal, which leaves them as they were)."""
        s = settings
        attention, stress = self.attention, self.stress
        stress_known = stress.valid and stress.fresh(now, s.stale_after_s)
        invalid = [n for n, r in (("attention", attention), ("stress", stress)) if not r.valid]
        if not s.require_stress and not stress_known:
            invalid = [n for n in invalid if n != "stress"]
        if invalid:
            return Assessment(invalid=", ".join(
                f"{n} invalid ({(attention if n == 'attention' else stress).reason})"
                for n in invalid
            ))
        a = attention.smoothed
        z = stress.smoothed if stress_known else None
        assert a is not None
        h = s.hysteresis
        if self.intensify_on:
            self.intensify_on = a > s.attention_high - h and (z is None or z < s.stress_low + h)
        else:
            self.intensify_on = a > s.attention_high and (z is not None and z < s.stress_low)
        if z is None:
            self.gentle_on = False
        elif self.gentle_on:
            self.gentle_on = z > s.stress_high - h
        else:
            self.gentle_on = z > s.stress_high
        return Assessment(attention=a, stress=z, intensify=self.intensify_on,
                          gentle=self.gentle_on)
