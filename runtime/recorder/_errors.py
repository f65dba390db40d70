"""Errors of reading a recorded session."""

from __future__ import annotations

from runtime.errors import KintsugiError


class SessionError(KintsugiError):
    """A session directory is missing, incomplete or unreadable; the message names the file."""
