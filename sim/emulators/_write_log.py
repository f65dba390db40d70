"""When each packet's bytes left the emulator: a bounded log for latency from the device.

A physical sensor-to-actuation figure starts when the board puts a sample on the wire. The
emulator knows that moment to a few microseconds: :class:`PacketWriteLog` keeps, for the
newest ``max_packets`` packets, the wall clock (``time.time()``, the clock BrainFlow's
timestamps use) just before the ``os.write`` that completed each packet was called and
right after it returned. The bytes reached the pty between the two. The first is the one
to time from: it is taken while the thread runs, whereas the second waits for the thread
to be scheduled again (and, in Python, for the GIL), so a reader on another core can
timestamp the packet before it. Packets are keyed by
their position in the stream (0 = the first packet written after a start command), which
is the driver's sample index on a Cyton as long as every written packet reaches the
driver (nothing lost or corrupted on the way; a benchmark checks that). Each entry also
keeps the packet's wire counter (0–255), so a reader can check the key against the
counter BrainFlow decoded.

Opt-in (``CytonEmulator(write_log=N)``): with no log the emulator does no extra work.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from sim._check import check_int


@dataclass(frozen=True)
class PacketWrite:
    """One packet on the wire: ``stream`` (0 = the first start command), ``index`` (its
    position in that stream), ``counter`` (the wire sample counter, 0–255), and the wall
    clock (s) just before the write that completed its bytes was called
    (``write_started_at``) and just after it returned (``written_at``)."""

    stream: int
    index: int
    counter: int
    write_started_at: float
    written_at: float


class PacketWriteLog:
    """The write times of the newest ``max_packets`` packets, written by the emulator's
    thread and read from any other (a lock guards both)."""

    def __init__(self, max_packets: int) -> None:
        self.max_packets = check_int("max_packets", max_packets, minimum=1)
        self._entries: OrderedDict[tuple[int, int], PacketWrite] = OrderedDict()
        self._lock = threading.Lock()
        self._stream = -1
        self._next_index = 0

    @property
    def streams(self) -> int:
        """Start commands seen so far (the current stream is ``streams - 1``)."""
        return self._stream + 1

    def start_stream(self) -> None:
        """A start command: packets written from now on count from index 0 again."""
        with self._lock:
            self._stream += 1
            self._next_index = 0

    def record(
        self, counters: Iterable[int], write_started_at: float, written_at: float
    ) -> None:
        """Log consecutive packets (their wire counters, in order) completed by one write
        that was called at ``write_started_at`` and returned at ``written_at``."""
        with self._lock:
            stream = max(self._stream, 0)
            for counter in counters:
                index = self._next_index
                self._entries[(stream, index)] = PacketWrite(
                    stream, index, int(counter), write_started_at, written_at
                )
                self._next_index += 1
            while len(self._entries) > self.max_packets:
                self._entries.popitem(last=False)

    def lookup(self, index: int, stream: int | None = None) -> PacketWrite | None:
        """The packet at ``index`` of ``stream`` (default: the current one); None when it
        was never written or has left the log."""
        with self._lock:
            key = (self._stream if stream is None else stream, index)
            return self._entries.get(key)

    def entries(self) -> list[PacketWrite]:
        """A copy of the log, oldest first."""
        with self._lock:
            return list(self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
