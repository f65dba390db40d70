"""The error raised when a signal cannot give the feature asked of it.

:class:`SignalError` is a :class:`~runtime.errors.KintsugiError` (so ``kintsugi`` prints it
and exits 2) and a :class:`ValueError` (so numeric callers can catch it the usual way).
"""

from __future__ import annotations

from runtime.errors import KintsugiError

__all__ = ["SignalError"]


class SignalError(KintsugiError, ValueError):
    """A signal is unusable for the feature asked (too short, wrong shape, bad rate)."""
