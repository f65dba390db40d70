"""NTP's clock filter, stretched over time: the lowest-delay exchange of each window.

An exchange's offset is wrong by at most half its round trip, and the round trip grows
with every queue on the way (a busy link, a descheduled process). So of the exchanges in
each ``window_s`` of hub time only the one with the smallest round trip is kept, and the
last ``windows`` windows are kept: the fit that follows sees one good sample every
``window_s`` over ``window_s × windows`` seconds, however many spikes came between.
"""

from __future__ import annotations

import math

from runtime.clock._exchange import ClockExchange
from runtime.errors import ConfigError

__all__ = ["LowestDelayFilter"]


class LowestDelayFilter:
    """Keeps the lowest-delay exchange of each ``window_s`` window, for the last ``windows``."""

    def __init__(self, window_s: float = 2.0, windows: int = 32) -> None:
        if not (isinstance(window_s, int | float) and math.isfinite(window_s) and window_s > 0):
            raise ConfigError(
                f"clock filter: window_s must be a number > 0; {window_s!r} is invalid"
            )
        if not isinstance(windows, int) or windows < 2:
            raise ConfigError(
                f"clock filter: windows must be an integer ≥ 2; {windows!r} is invalid"
            )
        self.window_s = float(window_s)
        self.windows = windows
        self._best: dict[int, ClockExchange] = {}
        self._newest: int | None = None

    def add(self, exchange: ClockExchange) -> bool:
        """Offer one exchange; True when it is now the best of its window."""
        index = math.floor(exchange.hub_time / self.window_s)
        newest = index if self._newest is None else max(index, self._newest)
        if index <= newest - self.windows:
            return False  # older than every window kept
        current = self._best.get(index)
        kept = current is None or exchange.delay_s < current.delay_s
        if kept:
            self._best[index] = exchange
        if newest != self._newest:
            self._newest = newest
            for old in [k for k in self._best if k <= newest - self.windows]:
                del self._best[old]
        return kept

    def kept(self) -> list[ClockExchange]:
        """The kept exchanges, oldest window first."""
        return [self._best[k] for k in sorted(self._best)]

    def clear(self) -> None:
        """Forget every window (a sensor's clock restarted)."""
        self._best.clear()
        self._newest = None
