"""Helpers for the emulator tests: free Galea addresses, recording a source's reads, a raw
BrainFlow session."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

from drivers import BrainFlowSource
from sim.emulators import GALEA_PORT, StreamingDevice

#: Peak-to-peak of the default 50 µV, 10 Hz test tone sampled at 250 Hz:
#: 100·max_n sin(2πn/25) = 99.80 µV (its true peaks fall between samples).
SAMPLED_PTP_UV = 100.0 * float(np.max(np.sin(2 * np.pi * np.arange(25) / 25)))


def free_galea_address() -> str:
    """A loopback address whose UDP port 2390 is free (BrainFlow's Galea port is fixed)."""
    rng = random.Random()
    for _ in range(100):
        ip = f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((ip, GALEA_PORT))
            except OSError:
                continue
        return ip
    raise RuntimeError("no free loopback address for a Galea emulator")


def configure_and_stream(
    board_id: BoardIds, params: BrainFlowInputParams, config: str, seconds: float
) -> tuple[str, np.ndarray]:
    """A raw BrainFlow session: prepare it, send ``config``, stream for ``seconds`` of wall
    time and release it; returns BrainFlow's reply to ``config`` and all the data."""
    board = BoardShim(int(board_id), params)
    board.prepare_session()
    try:
        reply = board.config_board(config)
        board.start_stream(45000)
        time.sleep(seconds)
        data = board.get_board_data()
        board.stop_stream()
    finally:
        board.release_session()
    return reply, data


@dataclass
class Read:
    """One ``BrainFlowSource.read()``: when (stream time of the emulator), and per preset the
    data, the driver's drop count, and the emulator's counters at that moment."""

    t_s: float
    data: dict[str, np.ndarray]
    dropped: dict[str, int]
    emulator: dict[str, int] = field(default_factory=dict)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    """Poll ``predicate`` every 10 ms until it holds or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def record(
    source: BrainFlowSource, emulator: StreamingDevice, seconds: float, poll_s: float = 0.05
) -> list[Read]:
    """Read ``source`` every ``poll_s`` for ``seconds`` of the emulator's stream time."""
    reads: list[Read] = []
    deadline = time.monotonic() + seconds + 5.0
    while time.monotonic() < deadline:
        chunks = source.read()
        t_s = emulator.stream_time_s()
        if t_s is not None:
            stats = emulator.stats.to_dict()
            stats.pop("faults")
            reads.append(Read(
                t_s,
                {c.preset: c.data for c in chunks},
                {c.preset: c.dropped for c in chunks},
                stats,
            ))
            if t_s >= seconds:
                break
        time.sleep(poll_s)
    return reads


def samples(reads: list[Read], preset: str = "default", start_s: float = 0.0,
            end_s: float = float("inf")) -> np.ndarray:
    """All rows of ``preset`` read with stream time in [start_s, end_s)."""
    blocks = [r.data[preset] for r in reads if preset in r.data and start_s <= r.t_s < end_s]
    return np.hstack(blocks) if blocks else np.zeros((0, 0))


def dropped(reads: list[Read], preset: str = "default", start_s: float = 0.0,
            end_s: float = float("inf")) -> int:
    """Packets the driver layer counted as dropped in reads within [start_s, end_s)."""
    return sum(r.dropped.get(preset, 0) for r in reads if start_s <= r.t_s < end_s)


def rate_hz(reads: list[Read], preset: str = "default", start_s: float = 0.0) -> float:
    """Samples per second of stream time between the first read at or after ``start_s``
    and the last read (samples of the first read came before it, so are not counted)."""
    window = [r for r in reads if r.t_s >= start_s]
    n = sum(r.data[preset].shape[1] for r in window[1:] if preset in r.data)
    return n / (window[-1].t_s - window[0].t_s)


def udp_receive_buffer_drops() -> int:
    """Datagrams this network namespace's kernel dropped because a socket's receive buffer
    was full (``RcvbufErrors`` in /proc/net/snmp); 0 where the counter cannot be read.

    A Galea datagram carries up to MAX_PACKETS_PER_DATAGRAM packets, so a receiver starved
    on a loaded machine loses that many counter values per drop: real loss the driver counts.
    """
    try:
        lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
                 if line.startswith("Udp:")]
        names, values = lines[0], lines[1]
        return int(values[names.index("RcvbufErrors")])
    except (OSError, IndexError, ValueError):
        return 0
