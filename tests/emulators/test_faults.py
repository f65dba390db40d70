"""The fault syntax KIND@SECONDS[+DURATION][:VALUE]: parsing, defaults, and useful errors."""

from __future__ import annotations

import math

import pytest

from sim import SimError
from sim.emulators import FAULT_KINDS, Fault, FaultSpecError, parse_fault
from sim.emulators._faults import FaultSchedule


def test_every_kind_parses_with_its_default_span() -> None:
    spans = {kind: parse_fault(f"{kind}@3").duration_s for kind in FAULT_KINDS}
    assert spans == {"unplug": None, "freeze": None, "garbage": 1.0, "corrupt": 1.0,
                     "drop": 2.0, "rate": None}


def test_duration_and_value_are_read() -> None:
    fault = parse_fault("drop@5.5+3:0.2")
    assert (fault.kind, fault.at_s, fault.duration_s, fault.value) == ("drop", 5.5, 3.0, 0.2)
    assert fault.active(5.5) and fault.active(8.49) and not fault.active(8.5)
    assert parse_fault(fault.describe()) == fault


def test_permanent_fault_never_ends() -> None:
    fault = parse_fault("freeze@2")
    assert fault.end_s == math.inf and fault.active(1e9) and not fault.active(1.99)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("frez@1", ["unknown kind 'frez'", "freeze"]),
        ("freeze", ["KIND@SECONDS"]),
        ("freeze@soon", ["SECONDS 'soon' is not a number"]),
        ("drop@1:1.5", ["fraction", "1.5"]),
        ("unplug@1:3", ["takes no VALUE"]),
        ("rate@1:-2", ["> 0", "-2"]),
        ("garbage@-1", [">= 0", "-1"]),
        ("freeze@1+0", ["duration_s", "> 0"]),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, words: list[str]) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_fault(spec)
    assert isinstance(info.value, SimError)
    for word in words:
        assert word in str(info.value)


def test_schedule_reports_the_rate_factor_only_while_active() -> None:
    schedule = FaultSchedule([Fault("rate", 2.0, 1.0, 3.0), Fault("freeze", 5.0)])
    assert schedule.rate_factor(1.0) == 1.0
    assert schedule.rate_factor(2.5) == 3.0
    assert schedule.active("freeze", 4.9) is None and schedule.active("freeze", 6.0)
