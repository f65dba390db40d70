"""The exception tree of the runtime.

Every error the runtime raises on purpose is a :class:`KintsugiError`, so a caller can
catch the project's errors without catching programming mistakes. Device errors live in
:mod:`drivers` (``DeviceError``, ``DeviceNotFoundError``, ``DeviceLostError``), which must
not import the runtime; this module must not import drivers either, because the training
client imports it and must stay free of brainflow.
"""

from __future__ import annotations

__all__ = ["BusError", "ConfigError", "KintsugiError", "MessageError"]


class KintsugiError(Exception):
    """Base class of the runtime's own errors."""


class ConfigError(KintsugiError, ValueError):
    """A configuration file or option is invalid; the message names the key and the fix."""


class BusError(KintsugiError):
    """The message bus could not be set up (bind failure, bad endpoint, missing keys)."""


class MessageError(KintsugiError, ValueError):
    """A bus message could not be decoded; the receiver drops it and keeps running."""
