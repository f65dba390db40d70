"""The control policy's settings: the ``[controller]`` table of a config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GroupSettings(BaseModel):
    """How the controller combines several people (``[controller] group``; docs/group-policy.md).

    ``rule = "default"``: gentle when anyone's stress is high; intensify only when everyone
    is attentive and no one is stressed; a poor signal of anyone goes to the decision step
    with intensify forbidden. ``lost``: a person who is lost (a required stream stale,
    calibrating, never seen) makes the group ``safe``, or is left out (``drop``) while
    others go on (safe when no one is left). ``min_people``: the group is safe while fewer
    people than this are live. With one person every setting gives the single-person policy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: Literal["default"] = "default"
    lost: Literal["safe", "drop"] = Field(
        "safe", description="a lost person makes the group safe, or drops out of it"
    )
    min_people: int = Field(1, ge=1, description="fewer live people than this → safe")


class ControllerSettings(BaseModel):
    """Thresholds, gain, bounds and timing of the default policy.

    Default policy (original design): attention > ``attention_high`` and stress <
    ``stress_low`` → intensity = baseline × ``gain`` (within bounds); stress > ``stress_high``
    → gentle mode. Inputs are EMA-smoothed with time constant ``smoothing_tau_s``; a
    condition switches off only ``hysteresis`` below (or above) its threshold; intensity
    moves at most ``max_rate_per_s`` per second; a mode is held at least ``min_dwell_s``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attention_high: float = Field(0.8, ge=0.0, le=1.0)
    stress_low: float = Field(0.3, ge=0.0, le=1.0)
    stress_high: float = Field(0.7, ge=0.0, le=1.0)
    gain: float = Field(1.5, gt=0.0, description="intensity multiplier when intensifying")
    baseline_intensity: float = Field(1.0, ge=0.0)
    min_intensity: float = Field(0.0, ge=0.0)
    max_intensity: float = Field(3.0, gt=0.0)
    smoothing_tau_s: float = Field(2.0, ge=0.0, description="EMA time constant; 0 = none")
    hysteresis: float = Field(0.05, ge=0.0, le=0.5)
    max_rate_per_s: float = Field(1.0, gt=0.0, description="intensity change per second")
    min_dwell_s: float = Field(2.0, ge=0.0, description="shortest time a mode is held")
    hop_s: float = Field(0.25, gt=0.0, description="how often control is published")
    ttl_s: float = Field(2.0, gt=0.0, description="a control message's time to live")
    stale_after_s: float = Field(1.5, gt=0.0, description="features older than this → safe")
    require_stress: bool = Field(
        True, description="false: run on attention alone when the board has no usable heart data"
    )
    guard_hold_s: float = Field(10.0, ge=0.0, description="how long a guard violation counts")
    decision: Literal["deterministic", "quantum"] = "deterministic"
    decision_seed: int = Field(0, ge=0, description="session seed of the quantum resolver")
    decision_temperature: float = Field(1.0, gt=0.0)
    group: GroupSettings = Field(default_factory=GroupSettings)

    @model_validator(mode="after")
    def _check_order(self) -> ControllerSettings:
        if not self.min_intensity <= self.baseline_intensity <= self.max_intensity:
            raise ValueError(
                "need min_intensity ≤ baseline_intensity ≤ max_intensity; got "
                f"{self.min_intensity} ≤ {self.baseline_intensity} ≤ {self.max_intensity}"
            )
        if self.stress_low > self.stress_high:
            raise ValueError(
                f"stress_low ({self.stress_low}) must not exceed stress_high ({self.stress_high})"
            )
        if self.stale_after_s > self.ttl_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s}) must not exceed ttl_s ({self.ttl_s}): "
                "the safe state must be reached within a control's time to live"
            )
        return self
