"""An OpenBCI Galea on loopback UDP, for BrainFlow's real Galea driver.

BrainFlow's Galea driver always talks to port 2390 of ``ip_address``, so two emulators on
one host need two addresses: every 127.x.y.z address is loopback on Linux, and tests give
each emulator its own. See :mod:`sim.emulators._galea_protocol` for the packet format.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import time
from typing import Any

import numpy as np

from sim.emulators._device import StreamingDevice
from sim.emulators._errors import EmulatorError
from sim.emulators._faults import Fault
from sim.emulators._feed import DeviceFeed, lookup_device, sine_feed
from sim.emulators._galea_protocol import (
    GALEA_PORT,
    MAX_PACKETS_PER_DATAGRAM,
    PACKET_SIZE,
    GaleaBoardState,
    encode_galea_packets,
)

logger = logging.getLogger("sim.emulators")


class GaleaEmulator(StreamingDevice):
    """A Galea answering on ``ip_address``:2390 (UDP); give BrainFlow ``ip_address``.

    ``feed`` defaults to a 50 µV, 10 Hz sine on every ExG channel with a 1.2 Hz PPG wave.
    ``speed`` runs the board's clock that many times faster than real time. Use as a
    context manager, or ``start()``/``stop()``.
    """

    def __init__(
        self,
        feed: DeviceFeed | None = None,
        *,
        ip_address: str = "127.0.0.1",
        speed: float = 1.0,
        faults: tuple[Fault, ...] | list[Fault] = (),
        seed: int = 0,
        electrode_impedance_ohm: float = 5000.0,
    ) -> None:
        spec = lookup_device("galea")
        super().__init__(
            spec, feed if feed is not None else sine_feed(spec), speed=speed, faults=faults,
            seed=seed, electrode_impedance_ohm=electrode_impedance_ohm,
        )
        self.board = GaleaBoardState()
        self.ip_address = ip_address
        self.ip_port = GALEA_PORT
        self._socket: socket.socket | None = None
        self._peer: tuple[str, int] | None = None
        self._n_garbage = 0

    def connect_info(self) -> dict[str, Any]:
        return {"ip_address": self.ip_address, "ip_port": self.ip_port}

    # -- transport ----------------------------------------------------------------------------
    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.ip_address, self.ip_port))
        except OSError as exc:
            sock.close()
            hint = (
                "another Galea emulator (or program) already uses it; pick another loopback "
                "address, e.g. --ip-address 127.0.0.2"
                if exc.errno == errno.EADDRINUSE
                else "use a local address such as 127.0.0.1 (any 127.x.y.z works on Linux)"
            )
            raise EmulatorError(
                f"galea emulator: cannot listen on {self.ip_address}:{self.ip_port} "
                f"(UDP): {exc.strerror or exc}; {hint}."
            ) from exc
        sock.setblocking(False)
        self._socket = sock

    def _close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._socket = None
        self._peer = None

    def _fileno(self) -> int | None:
        return None if self._socket is None else self._socket.fileno()

    def _power_cycle(self) -> None:
        self.board.reset()

    def _transmit(self, data: bytes) -> None:
        if self._socket is None or self._peer is None:
            return
        try:
            self._socket.sendto(data, self._peer)
        except OSError as exc:  # the host went away (ICMP port unreachable) or buffer full
            logger.debug("galea emulator: send failed: %s", exc)
            self.stats.write_overflows += 1

    def _on_readable(self, now: float, frozen: bool) -> None:
        assert self._socket is not None
        while True:
            try:
                datagram, peer = self._socket.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ECONNREFUSED from an earlier send
                logger.debug("galea emulator: recv failed: %s", exc)
                return
            if frozen:
                continue  # a frozen board neither answers nor acts
            self._peer = peer
            self._receive_command(now, datagram)

    def _board_reply(self, command: bytes) -> bytes | None:
        return self.board.receive(command, (time.monotonic() - self._boot) * 1000.0)

    def _streaming(self) -> bool:
        return self.board.streaming

    # -- packets ------------------------------------------------------------------------------
    def _emit(self, positions: np.ndarray, due: np.ndarray, corrupt: np.ndarray) -> None:
        numbers, idx, front = self._packet_samples(positions, self.board.channels)
        ppg = None if self.feed.ppg is None else self.feed.ppg[:, idx]
        eda = None if self.feed.eda_us is None else self.feed.eda_us[idx]
        packets = encode_galea_packets(
            numbers, front, self.board.gains, ppg, eda, self._device_us(due)
        )
        for start in range(0, positions.size, MAX_PACKETS_PER_DATAGRAM):
            block = packets[start : start + MAX_PACKETS_PER_DATAGRAM]
            data = block.tobytes()
            if corrupt[start : start + MAX_PACKETS_PER_DATAGRAM].any():
                data = data[:-1]  # no header/footer to break: a short datagram is the damage
            self._transmit(data)
        self.stats.packets_sent += positions.size

    def _send_garbage(self, n_bytes: int) -> None:
        """Garbage datagrams, alternately of one packet's length and of an odd length."""
        while n_bytes > 0:
            self._n_garbage += 1
            size = PACKET_SIZE if self._n_garbage % 2 else PACKET_SIZE // 2 + 1
            self._transmit(self._rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            n_bytes -= size
