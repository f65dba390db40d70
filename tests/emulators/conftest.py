"""Fixtures for the emulator tests: quiet BrainFlow, a free loopback address per Galea."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers import set_brainflow_logging
from tests.emulators._helpers import free_galea_address


@pytest.fixture(autouse=True)
def quiet_brainflow() -> Iterator[None]:
    """BrainFlow's C++ logger prints garbage datagrams verbatim: keep it off in tests."""
    set_brainflow_logging(False)
    yield


@pytest.fixture
def galea_ip() -> str:
    """A loopback address with UDP port 2390 free, so Galea emulators never collide."""
    return free_galea_address()
