"""Small real control sources for the training tests (in-process, no bus)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from runtime.messages import Control, ModelStatus


def make_control(seq: int, intensity: float = 1.0, gentle: bool = False) -> Control:
    """A live (non-safe) control with a 10 s time to live."""
    now = time.time()
    return Control(
        intensity=intensity,
        gentle=gentle,
        rule=f"test:{seq}",
        ttl_s=10.0,
        issued_at=now,
        expires_at=now + 10.0,
        safe=False,
        seq=seq,
        source_time=12.5 + seq,  # a board clock
        sample_time=now - 0.05,
    )


class ScriptedSource:
    """Returns ``controls[i]`` on the i-th ``current()`` call (the last one after that).

    Keeps every report it is given, like the bus would.
    """

    def __init__(self, controls: Sequence[Control]) -> None:
        self.controls = list(controls)
        self.calls = 0
        self.reports: list[ModelStatus] = []

    def current(self) -> Control:
        control = self.controls[min(self.calls, len(self.controls) - 1)]
        self.calls += 1
        return control

    def report(self, status: ModelStatus) -> None:
        self.reports.append(status)


class CountingSource:
    """``current()`` returns a control whose seq is the number of calls made before it."""

    def __init__(self) -> None:
        self.calls = 0
        self.reports: list[ModelStatus] = []

    def current(self) -> Control:
        control = make_control(self.calls, intensity=1.0 + 0.1 * self.calls)
        self.calls += 1
        return control

    def report(self, status: ModelStatus) -> None:
        self.reports.append(status)
