"""Shared fixtures: a real broker on loopback with its own ports for each test."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator

import pytest

# brainflow imports pkg_resources at import time; import it once here with its warning
# silenced so that "warnings are errors" does not trip on a third party's deprecation.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import brainflow.board_shim  # noqa: F401

from runtime.bus import Broker


def free_tcp_port() -> int:
    """A port that was free a moment ago (for daemons started as subprocesses)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A running broker on two fresh loopback ports, stopped after the test."""
    b = Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", status_interval_s=0.2)
    b.start()
    try:
        yield b
    finally:
        b.stop()
