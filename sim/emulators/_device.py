"""The part every emulator shares: a thread that answers commands, paces packets, injects faults.

Subclasses supply the transport (a pty, a UDP socket) and the packet format; this module
owns the lifecycle (``start``/``stop``, safe twice, context manager), the board's sample
clock, and the fault schedule. One thread does everything, so the board's state has a
single writer.
"""

from __future__ import annotations

import logging
import math
import select
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim._check import check_positive
from sim._errors import SimError
from sim.emulators._channels import ChannelSetting, front_end_uv
from sim.emulators._errors import EmulatorError
from sim.emulators._faults import Fault, FaultSchedule
from sim.emulators._feed import DeviceFeed, DeviceSpec

logger = logging.getLogger("sim.emulators")

#: Longest the thread sleeps between checks while idle, in seconds.
_IDLE_WAIT_S = 0.05
#: Shortest sleep while streaming: packets due within it go out together.
_MIN_WAIT_S = 0.002
#: A board that fell this far behind its clock (a stalled host) skips ahead instead.
_MAX_LAG_S = 1.0


@dataclass
class EmulatorStats:
    """Counts kept by the emulator thread (read them from any thread; ints are atomic)."""

    packets_sent: int = 0
    packets_frozen: int = 0
    packets_dropped: int = 0
    packets_corrupted: int = 0
    packets_skipped_late: int = 0
    garbage_bytes: int = 0
    write_overflows: int = 0
    unplugs: int = 0
    replugs: int = 0
    fault_log: list[tuple[float, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {k: v for k, v in self.__dict__.items() if k != "fault_log"} | {
            "faults": [f"{t:.3f}s {what}" for t, what in self.fault_log]
        }


class StreamingDevice:
    """Base of the emulators: lifecycle, pacing, and faults. Not used directly."""

    #: Packets per full sample (2 for Cyton+Daisy: half the channels in each packet).
    packets_per_sample = 1

    def __init__(
        self,
        spec: DeviceSpec,
        feed: DeviceFeed,
        *,
        speed: float = 1.0,
        faults: tuple[Fault, ...] | list[Fault] = (),
        seed: int = 0,
        electrode_impedance_ohm: float = 5000.0,
    ) -> None:
        if feed.n_channels != spec.n_exg:
            raise SimError(
                f"{spec.name}: the feed has {feed.n_channels} ExG channels, the board has "
                f"{spec.n_exg}; build it with scenario_feed(..., {spec.name!r}) or "
                f"sine_feed({spec.name!r})."
            )
        if not math.isclose(feed.fs, spec.fs):
            raise SimError(
                f"{spec.name}: the feed is sampled at {feed.fs:g} Hz, the board at "
                f"{spec.fs:g} Hz; render the feed for this board."
            )
        self.spec = spec
        self.feed = feed
        self.speed = check_positive("speed", speed)
        self.faults = FaultSchedule(faults)
        self.electrode_impedance_ohm = check_positive(
            "electrode_impedance_ohm", electrode_impedance_ohm
        )
        self.stats = EmulatorStats()
        self._rng = np.random.default_rng(seed)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._boot = time.monotonic()
        self._stream_t0: float | None = None  # first start command: faults count from here
        self._next_due = 0.0
        self._position = 0  # next packet in the feed's packet sequence (loops)
        self._garbage_t: float | None = None
        self._unplugged = False
        self._active_faults: set[int] = set()
        self._lock = threading.Lock()

    # -- transport and format hooks (subclasses) ------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _fileno(self) -> int | None:
        raise NotImplementedError

    def _on_readable(self, now: float, frozen: bool) -> None:
        """Read what the host sent; pass each command to :meth:`_receive_command`."""
        raise NotImplementedError

    def _board_reply(self, command: bytes) -> bytes | None:
        """The board's answer to ``command`` (b"" or None: no answer); updates its state."""
        raise NotImplementedError

    def _transmit(self, data: bytes) -> None:
        """Send ``data`` to the host (a pty write, one UDP datagram); lost when it cannot."""
        raise NotImplementedError

    def _streaming(self) -> bool:
        raise NotImplementedError

    def _emit(self, positions: np.ndarray, due: np.ndarray, corrupt: np.ndarray) -> None:
        """Encode the packets at ``positions`` (due at monotonic times ``due``; ``corrupt``
        flags the ones to damage) and transmit them."""
        raise NotImplementedError

    def _send_garbage(self, n_bytes: int) -> None:
        raise NotImplementedError

    def _power_cycle(self) -> None:
        raise NotImplementedError

    def _stream_started(self) -> None:
        """A start command began a stream (the packet clock restarts); nothing by default."""

    def connect_info(self) -> dict[str, Any]:
        """Where a driver connects, e.g. ``{"serial_port": "/dev/pts/3"}``."""
        raise NotImplementedError

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout_s: float = 5.0) -> None:
        """Open the transport and start the board thread; raises EmulatorError on failure."""
        if self._thread is not None:
            return
        self._open()
        self._thread = threading.Thread(
            target=self._run, name=f"{self.spec.name}-emulator", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise EmulatorError(f"{self.spec.name} emulator thread did not start in {timeout_s} s")
        logger.info("%s emulator: serving at %s", self.spec.name, self.connect_info())

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread and close the transport; safe twice. Re-raises a thread failure."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                logger.error("%s emulator: thread did not stop within %s s", self.spec.name,
                             timeout_s)
        with self._lock:
            self._close()
        error, self._error = self._error, None
        if error is not None:
            raise EmulatorError(f"{self.spec.name} emulator thread failed: {error}") from error

    def __enter__(self) -> StreamingDevice:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_speed(self, speed: float) -> None:
        """Change how many times faster than real time the board's clock runs, from now on."""
        self.speed = check_positive("speed", speed)

    @property
    def running(self) -> bool:
        """Whether the board thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def unplugged(self) -> bool:
        """Whether an unplug fault has the port or socket closed right now."""
        return self._unplugged

    def stream_time_s(self) -> float | None:
        """Seconds since the first start command (the fault clock), or None before it."""
        return None if self._stream_t0 is None else time.monotonic() - self._stream_t0

    # -- the board thread ---------------------------------------------------------------------
    def _run(self) -> None:
        self._ready.set()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                wait = self._wait_s(now)
                fd = None if self._unplugged else self._fileno()
                if fd is None:
                    self._stop.wait(wait)
                else:
                    readable, _, _ = select.select([fd], [], [], wait)
                    if readable:
                        now = time.monotonic()
                        self._on_readable(now, self._frozen(now))
                self._tick(time.monotonic())
        except BaseException as exc:  # reported to the owner by stop()
            logger.exception("%s emulator: thread failed", self.spec.name)
            self._error = exc

    def _frozen(self, now: float) -> bool:
        t = self._fault_time(now)
        return t is not None and self.faults.active("freeze", t) is not None

    def _fault_time(self, now: float) -> float | None:
        return None if self._stream_t0 is None else now - self._stream_t0

    def _wait_s(self, now: float) -> float:
        if self._unplugged or not self._streaming():
            return _IDLE_WAIT_S
        return min(_IDLE_WAIT_S, max(_MIN_WAIT_S, self._next_due - now))

    def _note(self, t: float, what: str) -> None:
        self.stats.fault_log.append((t, what))
        logger.info("%s emulator: %.3f s: %s", self.spec.name, t, what)

    def _receive_command(self, now: float, command: bytes) -> None:
        """Pass a command from the host to the board and send its answer; the first start
        command starts the fault clock, every start command the packet clock."""
        was_streaming = self._streaming()
        reply = self._board_reply(command)
        if reply:
            self._transmit(reply)
        if self._streaming() and not was_streaming:
            if self._stream_t0 is None:
                self._stream_t0 = now
            self._next_due = now
            self._stream_started()

    def _log_fault_changes(self, t: float) -> None:
        active = {i for i, f in enumerate(self.faults.faults) if f.active(t)}
        for i in sorted(active - self._active_faults):
            self._note(t, f"{self.faults.faults[i].describe()} started")
        for i in sorted(self._active_faults - active):
            self._note(t, f"{self.faults.faults[i].describe()} ended")
        self._active_faults = active

    def _tick(self, now: float) -> None:
        t = self._fault_time(now)
        if t is None:
            return
        self._log_fault_changes(t)
        unplug = self.faults.active("unplug", t)
        if unplug is not None and not self._unplugged:
            with self._lock:
                self._close()
                self._power_cycle()
            self._unplugged = True
            self.stats.unplugs += 1
            return
        if unplug is None and self._unplugged:
            with self._lock:
                self._open()
            self._unplugged = False
            self.stats.replugs += 1
            self._note(t, f"plugged in again at {self.connect_info()}")
            return
        if self._unplugged or not self._streaming():
            return
        self._pump(now)
        garbage = self.faults.active("garbage", t)
        if garbage is None:
            self._garbage_t = None
            return
        if self._garbage_t is None:
            self._garbage_t = now
        n_bytes = int(garbage.magnitude * (now - self._garbage_t))
        if n_bytes > 0:
            self._garbage_t += n_bytes / garbage.magnitude
            self._send_garbage(n_bytes)
            self.stats.garbage_bytes += n_bytes

    def _packet_numbers(self, positions: np.ndarray) -> np.ndarray:
        """Wire sample numbers (before mod 256) of packet positions in the looping feed."""
        pps = self.packets_per_sample
        sample = positions // pps
        loops, idx = np.divmod(sample, self.feed.n_samples)
        absolute = loops * self.feed.period_samples + self.feed.sample_index[idx]
        return absolute * pps + positions % pps

    def _pump(self, now: float) -> None:
        """Emit every packet whose time has come, applying freeze/drop/corrupt/rate faults."""
        assert self._stream_t0 is not None
        if now - self._next_due > _MAX_LAG_S:
            late = int(
                (now - self._next_due) * self.spec.fs * self.packets_per_sample * self.speed
            )
            self.stats.packets_skipped_late += late
            self._position += late
            self._next_due = now
            logger.warning("%s emulator: %d packets late; skipped ahead", self.spec.name, late)
        kept: list[int] = []
        dues: list[float] = []
        corrupt: list[bool] = []
        rate = self.spec.fs * self.packets_per_sample * self.speed
        while self._next_due <= now:
            t = self._next_due - self._stream_t0
            position = self._position
            if self.faults.active("freeze", t) is not None:
                self.stats.packets_frozen += 1
            else:
                drop = self.faults.active("drop", t)
                bad = self.faults.active("corrupt", t)
                if drop is not None and self._rng.random() < drop.magnitude:
                    self.stats.packets_dropped += 1
                else:
                    kept.append(position)
                    dues.append(self._next_due)
                    corrupt.append(bad is not None and self._rng.random() < bad.magnitude)
            pair = self._packet_numbers(np.array([position, position + 1]))
            self._position += 1
            self._next_due += float(pair[1] - pair[0]) / (rate * self.faults.rate_factor(t))
        if kept:
            flags = np.array(corrupt, dtype=bool)
            self.stats.packets_corrupted += int(flags.sum())
            self._emit(np.array(kept, dtype=np.int64), np.array(dues), flags)

    def _packet_samples(
        self, positions: np.ndarray, channels: list[ChannelSetting]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the packets at ``positions`` carry: their wire sample numbers (before mod
        256), the feed's sample index of each, and the feed's µV as the ADC inputs see them
        through ``channels`` (power-down, lead-off current)."""
        numbers = self._packet_numbers(positions)
        pps = self.packets_per_sample
        idx = (positions // pps) % self.feed.n_samples
        t_s = (numbers // pps) / self.spec.fs
        front = front_end_uv(self.feed.exg_uv[:, idx], channels, t_s, self.electrode_impedance_ohm)
        return numbers, idx, front

    def _device_us(self, due: np.ndarray) -> np.ndarray:
        """The board's clock (µs since it was switched on) at the given monotonic times."""
        return np.maximum(0, np.rint((np.asarray(due) - self._boot) * 1e6)).astype(np.uint64)
