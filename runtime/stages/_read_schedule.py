"""When the driver reads the board next: on a fixed cadence, just after a sample is due.

BrainFlow has no "data arrived" event, so the driver polls. A poll at a random moment finds
the newest sample half a sample period old on average (2 ms at 250 Hz), and every sample
of the chunk waits that long on top of its place in the chunk. When the board stamps its
samples with the host's wall clock (BrainFlow's streaming boards do, at receipt), the next
sample is due at ``newest + k / fs``; reading ``margin_s`` after such a moment finds it
fresh. The cadence stays ``interval_s`` on average: each read moves by at most half a
sample period from its nominal time, and nominal times run on an absolute schedule (no
drift from the time the reading and publishing take).

The margin adapts to how late the board's samples really come: a read that misses the
sample it aimed at (the newest one is the sample before) widens it by
:data:`MARGIN_STEP_UP_S`, a read that finds it narrows it by :data:`MARGIN_STEP_DOWN_S`,
within [:data:`MIN_READ_MARGIN_S`, :data:`MAX_READ_MARGIN_S`]; so about one read in 20
misses, on a board with little jitter and on one with much.
"""

from __future__ import annotations

import math

__all__ = [
    "MARGIN_STEP_DOWN_S",
    "MARGIN_STEP_UP_S",
    "MAX_READ_MARGIN_S",
    "MIN_READ_MARGIN_S",
    "READ_MARGIN_S",
    "SAMPLE_CLOCK_HORIZON_S",
    "ReadSchedule",
]

#: How long after a sample's due time the driver first reads: time for the board's thread
#: to put it in BrainFlow's buffer, plus a timer's wake-up jitter.
READ_MARGIN_S = 0.0005
#: Bounds of the margin as it adapts.
MIN_READ_MARGIN_S = 0.0001
MAX_READ_MARGIN_S = 0.002
#: Margin change after a read that missed its sample, and after one that found it: in
#: balance when misses are MARGIN_STEP_DOWN_S / (MARGIN_STEP_UP_S + MARGIN_STEP_DOWN_S),
#: about 5 % of reads.
MARGIN_STEP_UP_S = 0.0001
MARGIN_STEP_DOWN_S = 0.000005
#: Board timestamps at most this old at a read count as the host's clock (a playback
#: file's timestamps are from when it was recorded, and are not followed).
SAMPLE_CLOCK_HORIZON_S = 1.0


class ReadSchedule:
    """Read times (wall clock, s, as BrainFlow's timestamps) every ``interval_s``.

    Call :meth:`observe` with the newest sample's timestamp of each chunk of the preset to
    follow, and :meth:`next_read` after each read for the time of the next one. ``misses``
    counts reads that came before the sample they aimed at.
    """

    def __init__(self, interval_s: float, margin_s: float = READ_MARGIN_S) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0 s; got {interval_s!r}")
        self.interval_s = interval_s
        self.margin_s = margin_s
        self._nominal: float | None = None
        self._newest: float | None = None
        self._period_s = 0.0
        self._aimed_due: float | None = None
        self.misses = 0

    def observe(self, newest_sample_time: float, fs: float) -> None:
        """The board timestamp (s) of the newest sample read, at ``fs`` Hz."""
        self._newest = newest_sample_time
        self._period_s = 1.0 / fs if fs > 0 else 0.0

    def next_read(self, now: float) -> float:
        """The time of the next read, after a read at ``now`` (wall clock, s)."""
        self._adapt_margin()
        nominal = now if self._nominal is None else self._nominal
        nominal += self.interval_s
        if nominal < now:  # behind (a slow read, a busy machine): read at once, no burst
            nominal = now
        elif nominal > now + 2 * self.interval_s:  # the wall clock was set back: start over
            nominal = now + self.interval_s
        self._nominal = nominal
        return self._aligned(nominal, now)

    def _aligned(self, nominal: float, now: float) -> float:
        """``nominal`` moved to ``margin_s`` after the nearest time a sample is due, when the
        board's clock is the host's and its samples come at least once per interval."""
        newest, period = self._newest, self._period_s
        if newest is None or not 0 < period <= self.interval_s:
            return nominal
        if not 0 <= now - newest < SAMPLE_CLOCK_HORIZON_S:
            return nominal
        due = newest + math.ceil((nominal - period / 2 - self.margin_s - newest) / period) * period
        self._aimed_due = due
        return due + self.margin_s

    def _adapt_margin(self) -> None:
        """Widen the margin if the last aligned read missed the sample it aimed at (the
        newest sample is still an earlier one), narrow it if it found it."""
        aimed, self._aimed_due = self._aimed_due, None
        if aimed is None:
            return
        newest = self._newest
        if newest is not None and newest >= aimed - self._period_s / 2:
            self.margin_s = max(MIN_READ_MARGIN_S, self.margin_s - MARGIN_STEP_DOWN_S)
        else:
            self.misses += 1
            self.margin_s = min(MAX_READ_MARGIN_S, self.margin_s + MARGIN_STEP_UP_S)
