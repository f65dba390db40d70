"""The ``model.status`` body a training job reports: its step, the control it applied and
when, what repair did since the last report and how close the guards came to binding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.messages._base import Body
from runtime.messages._fields import FieldReader

__all__ = ["AppliedControl", "GuardMargins", "ModelStatus", "RepairCounts"]


@dataclass(frozen=True)
class AppliedControl(Body):
    """The control in force at the reported step (a subset of :class:`Control`)."""

    seq: int = -1
    intensity: float = 1.0
    gentle: bool = True
    safe: bool = True
    rule: str = ""
    issued_at: float = 0.0
    source_time: float | None = None
    sample_time: float | None = None
    #: When the job's client received this control (``time.time()``; None: not known, e.g.
    #: a control source that does not say): splits bus → client from client → applied.
    received_at: float | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "received_at": reader.number("received_at", None, optional=True),
            "seq": reader.integer("seq", -1, low=-1),
            "intensity": reader.number("intensity", 1.0, low=0.0),
            "gentle": reader.boolean("gentle", True),
            "safe": reader.boolean("safe", True),
            "rule": reader.string("rule", ""),
            "issued_at": reader.number("issued_at", 0.0),
            "source_time": reader.number("source_time", None, optional=True),
            "sample_time": reader.number("sample_time", None, optional=True),
        }


@dataclass(frozen=True)
class RepairCounts(Body):
    """Activations repaired since the last report: in all, per module, and by cause."""

    total: int = 0
    per_module: dict[str, int] = field(default_factory=dict)
    nonfinite: int = 0
    outliers: int = 0
    #: Of ``outliers``, those so far out that a blend would have left them outliers, set
    #: to the edge of the threshold band instead (docs/vwpr.md, the spike rule).
    spikes: int = 0

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "total": reader.integer("total", 0, low=0),
            "per_module": reader.int_map("per_module", {}),
            "nonfinite": reader.integer("nonfinite", 0, low=0),
            "outliers": reader.integer("outliers", 0, low=0),
            "spikes": reader.integer("spikes", 0, low=0),
        }


@dataclass(frozen=True)
class GuardMargins(Body):
    """How close repair came to its guards. A negative ``identity_margin`` or
    ``entropy_margin_bits`` is a violation (the controller treats intensify then as a
    conflict); ``guard_scaled`` and ``entropy_limited`` count repairs a guard cut back."""

    identity_floor: float | None = None
    min_similarity: float | None = None
    identity_margin: float | None = None
    entropy_margin_bits: float | None = None
    guard_scaled: int = 0
    entropy_limited: int = 0

    @property
    def violated(self) -> bool:
        """True when a margin is negative or a guard had to scale a repair back."""
        margins = (self.identity_margin, self.entropy_margin_bits)
        return self.guard_scaled > 0 or any(m is not None and m < 0 for m in margins)

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "identity_floor": reader.number("identity_floor", None, optional=True),
            "min_similarity": reader.number("min_similarity", None, optional=True),
            "identity_margin": reader.number("identity_margin", None, optional=True),
            "entropy_margin_bits": reader.number("entropy_margin_bits", None, optional=True),
            "guard_scaled": reader.integer("guard_scaled", 0, low=0),
            "entropy_limited": reader.integer("entropy_limited", 0, low=0),
        }


@dataclass(frozen=True)
class ModelStatus(Body):
    """A training job's report. ``applied_at`` is the wall clock when the control in force
    was applied, at step ``applied_step``; ``published_at`` when this report was made.
    ``repairs`` and ``guard`` are None without repair; ``value_weights`` is the value-
    weighted optimizer's summary when one is attached. Fields a job adds of its own (a
    loss, say) are kept as extra fields and passed on."""

    TOPIC = "model.status"

    step: int
    rank: int = 0
    world_size: int = 1
    control: AppliedControl | None = None
    applied_at: float | None = None
    applied_step: int | None = None
    published_at: float | None = None
    repairs: RepairCounts | None = None
    guard: GuardMargins | None = None
    value_weights: dict[str, Any] | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "step": reader.integer("step", low=0),
            "rank": reader.integer("rank", 0, low=0),
            "world_size": reader.integer("world_size", 1, low=1),
            "control": AppliedControl.read_nested(reader, "control"),
            "applied_at": reader.number("applied_at", None, optional=True),
            "applied_step": reader.integer("applied_step", None, low=0, optional=True),
            "published_at": reader.number("published_at", None, optional=True),
            "repairs": RepairCounts.read_nested(reader, "repairs"),
            "guard": GuardMargins.read_nested(reader, "guard"),
            "value_weights": reader.mapping("value_weights", None, optional=True),
        }
