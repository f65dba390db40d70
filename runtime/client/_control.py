"""The control state a training job applies, and its safe default.

Pure data with no dependencies beyond the standard library, so that it can be imported by
the daemon, by the client in a training job, and by tests alike.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

#: Repair intensity the safe state uses: the unmodified baseline.
BASELINE_INTENSITY = 1.0


@dataclass(frozen=True)
class Control:
    """What the daemon asks the model side to do until ``expires_at``.

    ``intensity`` scales repair strength (1.0 is the baseline); ``gentle`` caps repairs and
    raises thresholds. ``rule`` names what produced this state (a policy rule, a fail-safe
    reason or a decision). ``issued_at`` and ``expires_at`` are wall-clock seconds
    (``time.time()``); ``ttl_s`` is their difference. ``safe`` marks the fail-safe state.
    ``seq`` is the controller's sequence number; ``-1`` for a state made locally.
    ``source_time`` is the board clock of the newest sample this control rests on and
    ``sample_time`` the wall clock when that sample's chunk left the driver, so a training
    job can report sample-to-applied latency.
    """

    intensity: float = BASELINE_INTENSITY
    gentle: bool = True
    rule: str = "safe:no-control-yet"
    ttl_s: float = 0.0
    issued_at: float = 0.0
    expires_at: float = 0.0
    safe: bool = True
    seq: int = -1
    source_time: float | None = None
    sample_time: float | None = None

    def expired(self, now: float | None = None) -> bool:
        """True when the time to live has run out (a safe state never expires)."""
        if self.safe and self.ttl_s == 0.0:
            return False
        return (time.time() if now is None else now) >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, as carried in a ``control`` message."""
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Control:
        """Build from a ``control`` message body, ignoring keys a newer version added."""
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in body.items() if k in known}
        control = cls(**kwargs)
        if not isinstance(control.intensity, int | float) or not isinstance(control.gentle, bool):
            raise ValueError(f"control body has wrong field types: {body!r}")
        return control


def safe_control(reason: str, now: float | None = None, ttl_s: float = 0.0) -> Control:
    """The fail-safe state: gentle on, baseline intensity, with ``reason`` as its rule."""
    issued = time.time() if now is None else now
    return Control(
        intensity=BASELINE_INTENSITY,
        gentle=True,
        rule=f"safe:{reason}",
        ttl_s=ttl_s,
        issued_at=issued,
        expires_at=issued + ttl_s,
        safe=True,
    )


def expire(control: Control, now: float | None = None) -> Control:
    """The safe state that replaces ``control`` once it has expired."""
    return replace(safe_control("control-expired", now), seq=control.seq)
