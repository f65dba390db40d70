"""Unplug with a duration plugs the board back in: what a reconnecting driver will meet.

Checked at the wire, without BrainFlow: a Cyton comes back on a new pty (the ``link``
symlink follows it, and is absent while unplugged, like a pulled dongle's device node);
a Galea comes back on the same address. Either way the board restarts in its power-on
state, not streaming.
"""

from __future__ import annotations

import os
import select
import socket
import tty
from pathlib import Path

from sim.emulators import CytonEmulator, GaleaEmulator, parse_fault
from tests.emulators._helpers import wait_until


def _ask(fd: int, command: bytes, timeout_s: float = 2.0) -> bytes:
    os.write(fd, command)
    reply = b""
    while not reply.endswith(b"$$$"):
        ready, _, _ = select.select([fd], [], [], timeout_s)
        if not ready:
            break
        reply += os.read(fd, 4096)
    return reply


def test_cyton_comes_back_on_a_new_pty_behind_the_same_link(tmp_path: Path) -> None:
    link = tmp_path / "ttyCYTON"
    with CytonEmulator(link=link, faults=[parse_fault("unplug@0.2+0.4")]) as emulator:
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            assert _ask(fd, b"v").endswith(b"$$$")
            os.write(fd, b"b")  # streaming starts the fault clock
            assert wait_until(lambda: emulator.unplugged, 2.0)
            assert not link.exists()
        finally:
            os.close(fd)
        # A new pty (the kernel may reuse the freed number) behind the same link.
        assert wait_until(lambda: link.exists() and not emulator.unplugged, 2.0)
        assert not emulator.board.streaming  # power-on state
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            assert b"OpenBCI" in _ask(fd, b"v")
        finally:
            os.close(fd)
        assert emulator.stats.unplugs == emulator.stats.replugs == 1
    assert not link.exists()  # stop() removes the link


def test_galea_comes_back_on_the_same_address(galea_ip: str) -> None:
    emulator = GaleaEmulator(ip_address=galea_ip, faults=[parse_fault("unplug@0.2+0.4")])
    with emulator, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.connect((galea_ip, 2390))
        sock.send(b"d")
        assert sock.recv(64) == b"A"
        sock.send(b"b")
        assert wait_until(lambda: emulator.unplugged, 2.0)
        assert wait_until(lambda: not emulator.unplugged, 2.0)
        assert not emulator.board.streaming
        sock.setblocking(False)
        try:  # drop what was streamed before the unplug
            while sock.recv(65536):
                pass
        except BlockingIOError:
            pass
        sock.settimeout(2.0)
        sock.send(b"d")
        assert sock.recv(4096) == b"A"
