"""Shared fixtures: a real broker on loopback with its own ports for each test."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

# brainflow imports pkg_resources at import time; import it once here with its warning
# silenced so that "warnings are errors" does not trip on a third party's deprecation.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import brainflow.board_shim  # noqa: F401

from bench._common import free_tcp_port  # noqa: F401  (re-exported for the tests)
from runtime.bus import Broker


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A running broker on two fresh loopback ports, stopped after the test."""
    b = Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", status_interval_s=0.2)
    b.start()
    try:
        yield b
    finally:
        b.stop()
