"""One request/response exchange between the hub and a sensor host, as NTP reads it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from runtime.errors import KintsugiError

__all__ = ["ClockExchange", "ClockExchangeError"]


class ClockExchangeError(KintsugiError, ValueError):
    """An exchange's four times cannot come from one request and its answer."""


@dataclass(frozen=True)
class ClockExchange:
    """The four times of one exchange, in seconds: ``t1`` the hub sent the request (hub
    clock), ``t2`` the sensor received it and ``t3`` the sensor sent the answer (sensor
    clock), ``t4`` the hub received the answer (hub clock).

    ``offset_s`` (sensor minus hub) is exact when both legs take as long; otherwise it is
    off by half their difference, which is never more than half of ``delay_s``, the round
    trip without the sensor's own time. That bound is why the lowest-delay exchanges are
    the ones to trust.
    """

    t1: float
    t2: float
    t3: float
    t4: float

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t3", "t4"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ClockExchangeError(
                    f"clock exchange: {name} is {value!r}; expected a finite time in s"
                )
        if self.t3 < self.t2:
            raise ClockExchangeError(
                f"clock exchange: t3 ({self.t3!r}) is before t2 ({self.t2!r}); the sensor "
                "must stamp t2 on receipt and t3 just before it answers"
            )
        if self.delay_s < 0.0:
            raise ClockExchangeError(
                f"clock exchange: the round trip is {self.delay_s * 1e3:.3f} ms (t4 - t1 = "
                f"{(self.t4 - self.t1) * 1e3:.3f} ms is shorter than the sensor's t3 - t2); "
                "did the hub's clock step back?"
            )

    @property
    def offset_s(self) -> float:
        """θ = ((t2 − t1) + (t3 − t4)) / 2: the sensor's clock minus the hub's, s."""
        return ((self.t2 - self.t1) + (self.t3 - self.t4)) / 2.0

    @property
    def delay_s(self) -> float:
        """δ = (t4 − t1) − (t3 − t2): the time on the wire both ways, s."""
        return (self.t4 - self.t1) - (self.t3 - self.t2)

    @property
    def hub_time(self) -> float:
        """The hub time the offset belongs to: the middle of the round trip, s."""
        return (self.t1 + self.t4) / 2.0
