"""One sensor host's clock, estimated from exchanges: offset, drift and their uncertainty.

Each exchange goes through the lowest-delay filter (:mod:`runtime.clock._filter`); the
kept exchanges get a robust line (:mod:`runtime.clock._fit`). The uncertainty is

    half the mean round trip of the exchanges the line rests on
    + twice the line's standard error at the time asked for.

The first term bounds what no two-way exchange can see: a path slower one way than the
other shifts every offset by half the difference, and that difference is at most the
round trip. The second is the random part: the kept samples' scatter about the line,
growing as the line is extrapolated away from its data (or, with no slope fitted yet, by
the ±100 ppm a crystal may drift).
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.clock._exchange import ClockExchange
from runtime.clock._filter import LowestDelayFilter
from runtime.clock._fit import OffsetLine, fit_offset_line
from runtime.clock._map import ClockMap, UnknownSensorClockError
from runtime.messages import SensorClock

__all__ = ["ClockEstimate", "ClockEstimator"]


@dataclass(frozen=True)
class ClockEstimate:
    """The estimate at hub time ``at_time``: ``offset_s`` (sensor minus hub), ``drift``
    (s per s), ``uncertainty_s``; ``samples`` exchanges seen, ``kept`` in the fit's windows;
    the last and the smallest round trip (s)."""

    offset_s: float
    drift: float
    uncertainty_s: float
    at_time: float
    samples: int
    kept: int
    last_delay_s: float
    min_delay_s: float

    @property
    def clock_map(self) -> ClockMap:
        return ClockMap(self.offset_s, self.drift, self.at_time, self.uncertainty_s)

    def sensor_clock(self, since_exchange_s: float | None = None) -> SensorClock:
        """The ``status.clock`` entry of this estimate."""
        return SensorClock(
            offset_ms=self.offset_s * 1e3,
            drift_ppm=self.drift * 1e6,
            uncertainty_ms=self.uncertainty_s * 1e3,
            samples=self.samples,
            last_rtt_ms=self.last_delay_s * 1e3,
            at_time=self.at_time,
            kept=self.kept,
            min_rtt_ms=self.min_delay_s * 1e3,
            since_exchange_s=None if since_exchange_s is None else max(0.0, since_exchange_s),
        )


class ClockEstimator:
    """Estimates one sensor's clock from (t1, t2, t3, t4) exchanges (see ClockExchange).

    ``window_s`` and ``windows`` set the filter (one exchange kept per window, the fit over
    ``window_s × windows`` seconds); ``min_span_s`` is the shortest span a slope is fitted
    over. Not thread-safe: one owner feeds and reads it.
    """

    def __init__(
        self, *, window_s: float = 2.0, windows: int = 32, min_span_s: float = 4.0
    ) -> None:
        self._filter = LowestDelayFilter(window_s, windows)
        self._min_span_s = min_span_s
        self.reset()

    def add(self, exchange: ClockExchange) -> None:
        """Take one exchange."""
        self.samples += 1
        self.last = exchange
        self.min_delay_s = min(self.min_delay_s, exchange.delay_s)
        if self._filter.add(exchange):
            self._dirty = True

    def add_times(self, t1: float, t2: float, t3: float, t4: float) -> ClockExchange:
        """Take one exchange given as its four times (raises ClockExchangeError if they
        cannot be one); returns it."""
        exchange = ClockExchange(t1, t2, t3, t4)
        self.add(exchange)
        return exchange

    def reset(self) -> None:
        """Forget every exchange (the sensor's responder restarted: its clock may have too)."""
        self._filter.clear()
        self._line: OffsetLine | None = None
        self._line_delay_s = 0.0
        self._dirty = False
        self.samples = 0
        self.last: ClockExchange | None = None
        self.min_delay_s = float("inf")

    def line(self) -> OffsetLine | None:
        """The fitted line through the kept exchanges (None before the first exchange)."""
        if self._dirty:
            kept = self._filter.kept()
            self._line = fit_offset_line(
                [e.hub_time for e in kept], [e.offset_s for e in kept],
                [e.delay_s for e in kept], min_span_s=self._min_span_s,
            )
            used = [kept[i].delay_s for i in self._line.used]
            self._line_delay_s = sum(used) / len(used)
            self._dirty = False
        return self._line

    def estimate(self, hub_time: float | None = None) -> ClockEstimate | None:
        """The estimate at ``hub_time`` (default: the last exchange's), or None before any."""
        line = self.line()
        if line is None or self.last is None:
            return None
        at = self.last.hub_time if hub_time is None else hub_time
        return ClockEstimate(
            offset_s=line.offset_at(at),
            drift=line.drift,
            uncertainty_s=self._line_delay_s / 2.0 + 2.0 * line.standard_error_s(at),
            at_time=at,
            samples=self.samples,
            kept=len(self._filter.kept()),
            last_delay_s=self.last.delay_s,
            min_delay_s=self.min_delay_s,
        )

    def offset_at(self, hub_time: float) -> float:
        """The offset (sensor minus hub, s) at ``hub_time``."""
        return self._map().offset_at(hub_time)

    def to_hub(self, sensor_time: float) -> float:
        """``sensor_time`` (the sensor's clock, s) on the hub's clock."""
        return self._map().to_hub(sensor_time)

    def _map(self) -> ClockMap:
        estimate = self.estimate()
        if estimate is None:
            raise UnknownSensorClockError(
                "no clock exchange yet: the estimate needs at least one answered request"
            )
        return estimate.clock_map
