"""Faults an emulator injects into its stream, and the ``KIND@SECONDS[+DURATION][:VALUE]`` syntax.

Times count from the first start-streaming command the emulator receives (when the driver
starts streaming), in wall-clock seconds. What each fault does on the wire is described in
:data:`FAULT_HELP`; docs/emulators.md records what BrainFlow's drivers make of it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sim.emulators._errors import FaultSpecError

#: What each fault kind does, and what its VALUE means (used by --help and the docs).
FAULT_HELP: dict[str, str] = {
    "unplug": "close the port/socket (the dongle is pulled); with +DURATION it comes back "
    "(a new pty for the Cyton, the same address for Galea)",
    "freeze": "stop sending and answering, port left open; the board keeps sampling, so the "
    "counter jumps when it resumes after +DURATION",
    "garbage": "bytes that are no packet at all in between the packets; VALUE: bytes per "
    "second (default 2000)",
    "corrupt": "packets with a bad start or end byte (Cyton) or truncated datagrams (Galea, "
    "whose packets carry no header or footer); VALUE: fraction corrupted (default 1)",
    "drop": "packets lost on the radio link, so the counter jumps; VALUE: fraction lost "
    "(default 0.5)",
    "rate": "the board's clock runs at VALUE times its nominal rate (default 2)",
}
FAULT_KINDS: tuple[str, ...] = tuple(FAULT_HELP)

# Default duration (s; None = until the emulator stops) and VALUE of each kind.
_DEFAULT_DURATION_S: dict[str, float | None] = {
    "unplug": None,
    "freeze": None,
    "garbage": 1.0,
    "corrupt": 1.0,
    "drop": 2.0,
    "rate": None,
}
_DEFAULT_VALUE: dict[str, float | None] = {
    "unplug": None,
    "freeze": None,
    "garbage": 2000.0,
    "corrupt": 1.0,
    "drop": 0.5,
    "rate": 2.0,
}
_SYNTAX = "KIND@SECONDS[+DURATION][:VALUE], e.g. freeze@10+2 or drop@5+3:0.2"
_PATTERN = re.compile(
    r"^(?P<kind>[a-z]+)@(?P<at>[^+:]+)(?:\+(?P<duration>[^:]+))?(?::(?P<value>.+))?$"
)


@dataclass(frozen=True)
class Fault:
    """One scheduled fault: ``kind`` from ``at_s`` for ``duration_s`` (None: for good)."""

    kind: str
    at_s: float
    duration_s: float | None = None
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"fault kind {self.kind!r} is unknown; use one of {', '.join(FAULT_KINDS)}."
            )
        _check_number("at_s", self.at_s, minimum=0.0, strict=False)
        if self.duration_s is not None:
            _check_number("duration_s", self.duration_s, minimum=0.0, strict=True)
        if self.value is not None:
            _check_value(self.kind, self.value)

    @property
    def end_s(self) -> float:
        """When the fault ends (inf when it lasts until the emulator stops)."""
        return math.inf if self.duration_s is None else self.at_s + self.duration_s

    def active(self, t_s: float) -> bool:
        """Whether the fault is in effect ``t_s`` seconds after streaming started."""
        return self.at_s <= t_s < self.end_s

    @property
    def magnitude(self) -> float:
        """VALUE, or the kind's default (1.0 for kinds without a value)."""
        if self.value is not None:
            return self.value
        default = _DEFAULT_VALUE[self.kind]
        return 1.0 if default is None else default

    def describe(self) -> str:
        """The fault in the command-line syntax (round-trips through :func:`parse_fault`)."""
        text = f"{self.kind}@{self.at_s:g}"
        if self.duration_s is not None:
            text += f"+{self.duration_s:g}"
        if self.value is not None:
            text += f":{self.value:g}"
        return text


def _check_number(name: str, value: float, *, minimum: float, strict: bool) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value)
    ok = ok and (value > minimum if strict else value >= minimum)
    if not ok:
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise FaultSpecError(f"fault {name} must be a finite number {bound}; {value!r} is not.")


def _check_value(kind: str, value: float) -> None:
    if _DEFAULT_VALUE[kind] is None:
        raise FaultSpecError(f"fault {kind!r} takes no VALUE; got {value!r}. Drop the ':VALUE'.")
    if kind in ("corrupt", "drop"):
        if not (math.isfinite(value) and 0.0 < value <= 1.0):
            raise FaultSpecError(
                f"fault {kind!r} VALUE is a fraction of packets in (0, 1]; {value!r} is not."
            )
    elif not (math.isfinite(value) and value > 0.0):
        raise FaultSpecError(f"fault {kind!r} VALUE must be a number > 0; {value!r} is not.")


def _parse_float(text: str, what: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FaultSpecError(
            f"fault {spec!r}: {what} {text!r} is not a number; the format is {_SYNTAX}."
        ) from None


def parse_fault(spec: str) -> Fault:
    """Parse ``KIND@SECONDS[+DURATION][:VALUE]`` (see :data:`FAULT_HELP` for the kinds).

    Without ``+DURATION`` a fault uses its kind's default span (unplug, freeze and rate last
    until the emulator stops; garbage and corrupt 1 s; drop 2 s).
    """
    match = _PATTERN.match(spec.strip())
    if match is None:
        raise FaultSpecError(f"fault {spec!r} is not in the format {_SYNTAX}.")
    kind = match["kind"]
    if kind not in FAULT_KINDS:
        raise FaultSpecError(
            f"fault {spec!r}: unknown kind {kind!r}; use one of {', '.join(FAULT_KINDS)} "
            f"({_SYNTAX})."
        )
    at_s = _parse_float(match["at"], "SECONDS", spec)
    duration = match["duration"]
    duration_s = (
        _DEFAULT_DURATION_S[kind] if duration is None else _parse_float(duration, "DURATION", spec)
    )
    value = None if match["value"] is None else _parse_float(match["value"], "VALUE", spec)
    try:
        return Fault(kind, at_s, duration_s, value)
    except FaultSpecError as exc:
        raise FaultSpecError(f"fault {spec!r}: {exc}") from None


class FaultSchedule:
    """The faults of one emulator, queried by stream time (s since streaming started)."""

    def __init__(self, faults: tuple[Fault, ...] | list[Fault] = ()) -> None:
        self.faults = tuple(faults)
        for fault in self.faults:
            if not isinstance(fault, Fault):
                raise FaultSpecError(
                    f"faults must be Fault objects (see parse_fault); got {fault!r}."
                )

    def active(self, kind: str, t_s: float) -> Fault | None:
        """The first fault of ``kind`` in effect at ``t_s``, or None."""
        for fault in self.faults:
            if fault.kind == kind and fault.active(t_s):
                return fault
        return None

    def rate_factor(self, t_s: float) -> float:
        """How many times faster than nominal the board's clock runs at ``t_s``."""
        fault = self.active("rate", t_s)
        return 1.0 if fault is None else fault.magnitude
