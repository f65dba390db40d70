"""When the driver reads the board next: on a fixed cadence, just after a sample is due.

BrainFlow has no "data arrived" event, so the driver polls. A poll at a random moment finds
the newest sample half a sample period old on average (2 ms at 250 Hz), and every sample
of the chunk waits that long on top of its place in the chunk. When the board stamps its
samples with the host's wall clock (BrainFlow's streaming boards do, at receipt), the next
sample is due at ``newest + k / fs``; reading ``margin_s`` after such a moment finds it
fresh. The cadence stays ``interval_s`` on average: each read moves by at most half a
sample period from its nominal time, and nominal times run on an absolute schedule (no
drift from the time the reading and publishing take).
"""

from __future__ import annotations

import math

__all__ = ["READ_MARGIN_S", "SAMPLE_CLOCK_HORIZON_S", "ReadSchedule"]

#: How long after a sample's due time the driver reads: time for the board's thread to
#: put it in BrainFlow's buffer, plus a timer's wake-up jitter.
READ_MARGIN_S = 0.0005
#: Board timestamps at most this old at a read count as the host's clock (a playback
#: file's timestamps are from when it was recorded, and are not followed).
SAMPLE_CLOCK_HORIZON_S = 1.0


class ReadSchedule:
    """Read times (wall clock, s, as BrainFlow's timestamps) every ``interval_s``.

    Call :meth:`observe` with the newest sample's timestamp of each chunk of the preset to
    follow, and :meth:`next_read` after each read for the time of the next one.
    """

    def __init__(self, interval_s: float, margin_s: float = READ_MARGIN_S) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0 s; got {interval_s!r}")
        self.interval_s = interval_s
        self.margin_s = margin_s
        self._nominal: float | None = None
        self._newest: float | None = None
        self._period_s = 0.0

    def observe(self, newest_sample_time: float, fs: float) -> None:
        """The board timestamp (s) of the newest sample read, at ``fs`` Hz."""
        self._newest = newest_sample_time
        self._period_s = 1.0 / fs if fs > 0 else 0.0

    def next_read(self, now: float) -> float:
        """The time of the next read, after a read at ``now`` (wall clock, s)."""
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
        due = math.ceil((nominal - period / 2 - self.margin_s - newest) / period)
        return newest + due * period + self.margin_s
