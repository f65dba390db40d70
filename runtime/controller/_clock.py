"""The session's data clock: seconds of data, read from the features themselves.

Every feature carries ``time_s = sample_index / fs``, the position of its window's end in
the recording. The controller runs on that clock, not on the wall clock, so a replay at any
speed sees the same times. With two streams (EEG attention, PPG/ECG stress) the session
clock is the newest ``time_s`` seen of either; it never goes back. A stream whose
``time_s`` goes back started again from 0 (the feature stage was restarted and built new
estimators): from then on it is shifted so that it continues from the session clock.

In a group session each person's streams count from that person's own start, so each
person's time is placed on the group's clock: the first person's as it is, a person who
joins later from the clock as it stands when their first feature arrives (their first
feature is placed at the clock's newest time), and a stream that goes back (a sensor host
restarted) continues from the clock, as above. The group's clock is the newest placed time
of anyone's stream, so every reading a step uses is at or before the step's time.
"""

from __future__ import annotations

import math


class DataClock:
    """The newest data time seen (``now``, seconds; None before the first feature)."""

    def __init__(self) -> None:
        self.now: float | None = None
        self._last: dict[tuple[str | None, str], float] = {}
        self._offset: dict[tuple[str | None, str], float] = {}
        self._person_offset: dict[str | None, float] = {}

    def place(self, stream: str, time_s: float, person: str | None = None) -> float:
        """The session data time of a feature of ``person``'s ``stream`` at its own
        ``time_s``; the clock moves on to it if it is newer. A non-finite ``time_s`` reads
        as the clock."""
        if not math.isfinite(time_s):
            return self.now if self.now is not None else 0.0
        if person not in self._person_offset:  # a person's first feature
            joins_later = self.now is not None and bool(self._person_offset)
            self._person_offset[person] = (self.now or 0.0) - time_s if joins_later else 0.0
        key = (person, stream)
        last = self._last.get(key)
        shift = self._person_offset[person]
        if last is not None and time_s < last:  # a new estimator: continue from the clock
            self._offset[key] = (self.now or 0.0) - time_s - shift
        self._last[key] = time_s
        placed = time_s + shift + self._offset.get(key, 0.0)
        self.advance(placed)
        return placed

    def advance(self, time_s: float) -> None:
        """Move the clock to ``time_s`` if that is later (never back)."""
        if math.isfinite(time_s) and (self.now is None or time_s > self.now):
            self.now = time_s
