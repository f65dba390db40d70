"""The ``control`` body: what the daemon asks the model side to do, and its safe default.

Standard library only, so the daemon, a training job's client and tests share one type.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from runtime.messages._base import Body
from runtime.messages._common import Trace
from runtime.messages._fields import FieldReader
from runtime.messages._person import read_person, write_person

__all__ = ["BASELINE_INTENSITY", "CONTROL_MODES", "Control", "expire", "safe_control"]

#: Repair intensity the safe state uses: the unmodified baseline.
BASELINE_INTENSITY = 1.0

#: The controller's modes (``hold`` keeps the baseline; ``pause`` is a decision option).
CONTROL_MODES = ("safe", "hold", "intensify", "gentle", "pause")


@dataclass(frozen=True)
class Control(Body):
    """What the daemon asks the model side to do until ``expires_at``.

    ``intensity`` scales repair strength (1.0 is the baseline; the controller's settings
    bound it, the model side applies it as sent); ``gentle`` caps repairs and raises
    thresholds. ``rule`` names what produced this state (a policy rule, a fail-safe reason
    or a decision). ``issued_at`` and ``expires_at`` are wall-clock seconds (``time.time()``);
    ``ttl_s`` is their difference. ``safe`` marks the fail-safe state. ``seq`` is the
    controller's sequence number; ``-1`` for a state made locally. ``source_time`` is the
    board clock of the newest sample this control rests on and ``sample_time`` the wall
    clock when that sample's chunk left the driver. ``mode`` is the controller's mode,
    ``trigger`` what made it publish (``feature``: a new estimate; ``hop``: a hop of data
    time passed without one; ``device``: the driver reported a state other than streaming;
    ``liveness``: no feature for ``stale_after_s`` of wall time; ``local``: made by the
    client), ``trace`` the raw chunk behind the newest feature.
    ``time_s`` is the session's data clock when the control was made (seconds of data, the
    features' ``time_s``; None from senders before it existed): what a replay reproduces.
    ``trigger_person`` is the person whose features decided this control's mode in a group
    session: whose stress made it gentle, whose lost or poor signal made it safe (None when
    the group as a whole did, as for intensify and hold, for a device or liveness fail-safe,
    and in a single-person session, where it is left off the wire).
    """

    TOPIC = "control"

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
    mode: str = "safe"
    trigger: str = "local"
    trace: Trace | None = None
    time_s: float | None = None
    trigger_person: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return write_person(super().to_dict(), "trigger_person")

    def expired(self, now: float | None = None) -> bool:
        """True when the time to live has run out (a safe state never expires)."""
        if self.safe and self.ttl_s == 0.0:
            return False
        return (time.time() if now is None else now) >= self.expires_at

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "intensity": reader.number("intensity", low=0.0),
            "gentle": reader.boolean("gentle"),
            "rule": reader.string("rule"),
            "ttl_s": reader.number("ttl_s", 0.0, low=0.0),
            "issued_at": reader.number("issued_at", 0.0),
            "expires_at": reader.number("expires_at", 0.0),
            "safe": reader.boolean("safe", True),
            "seq": reader.integer("seq", -1, low=-1),
            "source_time": reader.number("source_time", None, optional=True),
            "sample_time": reader.number("sample_time", None, optional=True),
            "mode": reader.string("mode", "safe"),
            "trigger": reader.string("trigger", "local"),
            "trace": Trace.read_nested(reader, "trace"),
            "time_s": reader.number("time_s", None, optional=True),
            "trigger_person": read_person(reader, "trigger_person"),
        }


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
