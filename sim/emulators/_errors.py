"""Emulator errors: bad arguments are :class:`sim.SimError`; transport failures are not."""

from __future__ import annotations

from sim._errors import SimError


class FaultSpecError(SimError):
    """A fault description (``KIND@SECONDS[+DURATION][:VALUE]``) is invalid."""


class EmulatorError(RuntimeError):
    """An emulator could not open its port or socket, or its thread failed.

    The message names the device and the address, and says what to do; ``__cause__`` keeps
    the underlying OSError.
    """
