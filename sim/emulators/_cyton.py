"""An OpenBCI Cyton (or Cyton+Daisy) on a pseudo-terminal, for BrainFlow's real Cyton driver.

BrainFlow opens the pty's slave path as it would the dongle's ``/dev/ttyUSB0``: it sends
``v`` and waits for ``$$$``, sends ``d`` and reads the answer, then ``b`` to stream and ``s``
to stop. The emulator answers as the firmware does and streams 33-byte packets at 250 Hz
(see :mod:`sim.emulators._cyton_protocol`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pty
import select
import time
import tty
from pathlib import Path
from typing import Any

import numpy as np

from sim.emulators._cyton_protocol import (
    END_BYTE_STANDARD,
    PACKET_SIZE,
    START_BYTE,
    CytonBoardState,
    accel_for,
    encode_cyton_packets,
)
from sim.emulators._device import StreamingDevice
from sim.emulators._errors import EmulatorError
from sim.emulators._faults import Fault
from sim.emulators._feed import DeviceFeed, lookup_device, sine_feed
from sim.emulators._write_log import PacketWriteLog

logger = logging.getLogger("sim.emulators")

#: How long a write may wait for the host to make room before bytes are lost.
_WRITE_TIMEOUT_S = 0.1


class CytonEmulator(StreamingDevice):
    """A Cyton on a pty: ``serial_port`` is the path to give BrainFlow (``--serial-port``).

    ``feed`` defaults to a 50 µV, 10 Hz sine on every channel. ``daisy=True`` emulates a
    Cyton+Daisy (16 channels at 125 Hz; the feed must be rendered for "cyton-daisy").
    ``link``: a path kept as a symlink to the current pty, so a driver can reopen the same
    name after an unplug/replug fault (each replug gets a new pty). ``speed`` runs the
    board's clock that many times faster than real time (the driver times samples by
    counter and nominal rate, so a scenario plays faster). Use as a context manager, or
    ``start()``/``stop()``. A Cyton+Daisy acknowledges ``c`` (detach the Daisy) but keeps
    sending 16 channels: BrainFlow's Cyton+Daisy driver never sends it.

    ``write_log``: keep the write times of the newest N packets in :attr:`write_log` (a
    :class:`~sim.emulators.PacketWriteLog`; 0, the default, keeps none and costs nothing),
    for latency measured from the moment a sample's bytes reach the pty. On a Cyton a
    packet is a sample; with a Daisy two packets make one.
    """

    def __init__(
        self,
        feed: DeviceFeed | None = None,
        *,
        daisy: bool = False,
        speed: float = 1.0,
        faults: tuple[Fault, ...] | list[Fault] = (),
        link: str | Path | None = None,
        seed: int = 0,
        electrode_impedance_ohm: float = 5000.0,
        write_log: int = 0,
    ) -> None:
        spec = lookup_device("cyton-daisy" if daisy else "cyton")
        super().__init__(
            spec, feed if feed is not None else sine_feed(spec), speed=speed, faults=faults,
            seed=seed, electrode_impedance_ohm=electrode_impedance_ohm,
        )
        self.packets_per_sample = 2 if daisy else 1
        self.board = CytonBoardState(daisy=daisy)
        self.link = None if link is None else Path(link)
        self._master: int | None = None
        self._slave: int | None = None
        self._port = ""
        self._n_corrupted = 0
        self.write_log = PacketWriteLog(write_log) if write_log else None

    # -- transport ----------------------------------------------------------------------------
    @property
    def serial_port(self) -> str:
        """The path BrainFlow should open: ``link`` if given, else the pty's slave path."""
        return str(self.link) if self.link is not None else self._port

    def connect_info(self) -> dict[str, Any]:
        return {"serial_port": self.serial_port, "pty": self._port}

    def _open(self) -> None:
        try:
            master, slave = pty.openpty()
        except OSError as exc:
            raise EmulatorError(
                f"{self.spec.name} emulator: cannot open a pseudo-terminal ({exc}); check "
                "that /dev/ptmx is available (in a container, mount devpts)."
            ) from exc
        tty.setraw(slave)  # no echo, no CR/LF or XON/XOFF translation, before BrainFlow's own
        os.set_blocking(master, False)
        self._master, self._slave, self._port = master, slave, os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self._port)
            tmp.replace(self.link)

    def _close(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        if self.link is not None and self.link.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()  # a pulled dongle's device node disappears

    def _fileno(self) -> int | None:
        return self._master

    def _power_cycle(self) -> None:
        self.board.reset()

    def _transmit(self, data: bytes, counters: np.ndarray | None = None) -> None:
        """Write to the host, waiting up to 0.1 s for room (a dongle's buffer); what still
        does not fit is lost, as on a real link whose host stopped reading.

        ``counters``: the wire counters of the whole packets ``data`` holds, given when the
        write log is on; each packet is logged with the wall clock (BrainFlow's clock) just
        before and just after the write that completed its bytes (a packet cut short by a
        lost write is not logged)."""
        if self._master is None:
            return
        log = self.write_log if counters is not None else None
        view = memoryview(data)
        deadline = time.monotonic() + _WRITE_TIMEOUT_S
        sent = logged = 0
        while view:
            started_at = time.time() if log is not None else 0.0
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                logger.debug("cyton emulator: write failed: %s", exc)
                break
            if n:
                view = view[n:]
                if log is not None and counters is not None:
                    written_at = time.time()
                    sent += n
                    done = sent // PACKET_SIZE
                    if done > logged:
                        log.record(counters[logged:done], started_at, written_at)
                        logged = done
            remaining = deadline - time.monotonic()
            if not view or remaining <= 0:
                break
            select.select([], [self._master], [], remaining)
        if view:
            self.stats.write_overflows += 1

    def _on_readable(self, now: float, frozen: bool) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: no process has the slave open (we keep ours, so rare)
            return
        if frozen or not data:
            return  # a frozen board neither answers nor acts
        self._receive_command(now, data)

    def _board_reply(self, command: bytes) -> bytes:
        return self.board.receive(command)

    def _streaming(self) -> bool:
        return self.board.streaming

    def _stream_started(self) -> None:
        if self.write_log is not None:
            self.write_log.start_stream()

    # -- packets ------------------------------------------------------------------------------
    def _emit(self, positions: np.ndarray, due: np.ndarray, corrupt: np.ndarray) -> None:
        channels = self.board.channels
        numbers, _, front = self._packet_samples(positions, channels)
        pps = self.packets_per_sample
        sample_numbers = numbers // pps
        gains = np.array([c.gain for c in channels], dtype=float)[:, None]
        if pps == 1:
            uv, packet_gains = front[:8], gains[:8]
        else:
            # Even counters carry the Daisy's channels 9-16, odd ones the Cyton's 1-8.
            daisy = numbers % 2 == 0
            uv = np.where(daisy, front[8:16], front[:8])
            packet_gains = np.where(daisy, gains[8:16], gains[:8])
        packets = encode_cyton_packets(
            numbers, uv, packet_gains, accel_for(sample_numbers, self.board.mode),
            self.board.end_byte,
        )
        self._corrupt(packets, corrupt)
        self._transmit(packets.tobytes(), packets[:, 1] if self.write_log is not None else None)
        self.stats.packets_sent += positions.size

    def _corrupt(self, packets: np.ndarray, corrupt: np.ndarray) -> None:
        """Alternate a bad start byte and a bad end byte on the packets flagged ``corrupt``."""
        for i in np.flatnonzero(corrupt):
            self._n_corrupted += 1
            if self._n_corrupted % 2:
                packets[i, 0] = START_BYTE ^ 0xFF  # 0x5F: not a start byte
            else:
                packets[i, PACKET_SIZE - 1] = END_BYTE_STANDARD ^ 0xFF  # 0x3F: not an end byte

    def _send_garbage(self, n_bytes: int) -> None:
        self._transmit(self._rng.integers(0, 256, n_bytes, dtype=np.uint8).tobytes())

