"""Feature estimates of several streams, released in data-time order.

The feature stage reads EEG and heart chunks one after the other. How the samples are cut
into chunks depends on the board and on the replay speed (a flat-out replay delivers
seconds of data per chunk), so the order in which attention and stress estimates come out
of the estimators does too. The controller must see them in an order that depends on the
data alone, so the stage holds each estimate until every stream has consumed the samples up
to its time, then releases what is due ordered by (``time_s``, stream). The hold is as long
as it takes the other stream's chunk of the same read to arrive: microseconds.

A stream that has sent nothing is waited for ``wait_s`` of wall time after the first chunk
of any stream (the driver publishes a read's streams back to back), then not until it
sends again; a stream silent for ``wait_s`` while another streams is not waited for either,
so a dead heart sensor never holds attention back for longer than that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True)
class _Pending:
    time_s: float
    rank: int
    serial: int
    item: Any = field(compare=False)


class DataTimeOrder:
    """Holds estimates per stream (raw topic) until all streams have consumed their time.

    ``streams`` are the raw topics in tie order (at one ``time_s``, the first stream's
    estimates come first). :meth:`add` takes a chunk's estimates with the number of samples
    the chunk fed the estimator and returns the items now due; :meth:`release_idle` returns
    those freed by the wall-clock rule alone.
    """

    def __init__(self, streams: tuple[str, ...], wait_s: float = 1.0) -> None:
        self.streams = streams
        self.wait_s = wait_s
        self._samples: dict[str, int] = {}
        self._consumed_s: dict[str, float] = {}
        self._last_chunk: dict[str, float] = {}
        self._first_chunk: float | None = None
        self._pending: list[_Pending] = []
        self._serial = 0

    def add(
        self,
        stream: str,
        samples: int,
        fs: float,
        items: list[tuple[float, Any]],
        now: float | None = None,
    ) -> list[Any]:
        """``stream`` consumed ``samples`` more samples at ``fs`` Hz and made ``items``
        (``(time_s, item)``, ``time_s`` = sample index / fs); returns the items due, in
        order."""
        now = time.monotonic() if now is None else now
        self._first_chunk = now if self._first_chunk is None else self._first_chunk
        self._last_chunk[stream] = now
        self._samples[stream] = self._samples.get(stream, 0) + samples
        self._consumed_s[stream] = self._samples[stream] / fs
        rank = self.streams.index(stream) if stream in self.streams else len(self.streams)
        for time_s, item in items:
            self._pending.append(_Pending(time_s, rank, self._serial, item))
            self._serial += 1
        return self.release_idle(now)

    def release_idle(self, now: float | None = None) -> list[Any]:
        """The items due: those no awaited stream can still precede."""
        if not self._pending:
            return []
        now = time.monotonic() if now is None else now
        horizon = min(
            (self._consumed_s.get(s, 0.0) for s in self.streams if self._awaited(s, now)),
            default=float("inf"),
        )
        self._pending.sort()
        due = [p for p in self._pending if p.time_s <= horizon]
        self._pending = self._pending[len(due) :]
        return [p.item for p in due]

    def _awaited(self, stream: str, now: float) -> bool:
        """A stream is waited for unless it has been silent for ``wait_s`` (never sent
        anything: counted from the first chunk of any stream)."""
        last = self._last_chunk.get(stream, self._first_chunk)
        return last is not None and now - last < self.wait_s
