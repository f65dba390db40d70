"""The session's data clock: seconds of data, read from the features themselves.

Every feature carries ``time_s = sample_index / fs``, the position of its window's end in
the recording. The controller runs on that clock, not on the wall clock, so a replay at any
speed sees the same times. With two streams (EEG attention, PPG/ECG stress) the session
clock is the newest ``time_s`` seen of either; it never goes back. A stream whose
``time_s`` goes back started again from 0 (the feature stage was restarted and built new
estimators): from then on it is shifted so that it continues from the session clock.
"""

from __future__ import annotations

import math


class DataClock:
    """The newest data time seen (``now``, seconds; None before the first feature)."""

    def __init__(self) -> None:
        self.now: float | None = None
        self._last: dict[str, float] = {}
        self._offset: dict[str, float] = {}

    def place(self, stream: str, time_s: float) -> float:
        """The session data time of a feature of ``stream`` at its own ``time_s``; the
        clock moves on to it if it is newer. A non-finite ``time_s`` reads as the clock."""
        if not math.isfinite(time_s):
            return self.now if self.now is not None else 0.0
        last = self._last.get(stream)
        if last is not None and time_s < last:  # a new estimator: continue from the clock
            self._offset[stream] = (self.now or 0.0) - time_s
        self._last[stream] = time_s
        placed = time_s + self._offset.get(stream, 0.0)
        self.advance(placed)
        return placed

    def advance(self, time_s: float) -> None:
        """Move the clock to ``time_s`` if that is later (never back)."""
        if math.isfinite(time_s) and (self.now is None or time_s > self.now):
            self.now = time_s
