"""The checkpoint tools' own error: a file that is not a usable PyTorch checkpoint."""

from __future__ import annotations

from runtime.errors import ConfigError, KintsugiError


class CheckpointError(KintsugiError, ValueError):
    """A checkpoint or repair log cannot be read, written or verified.

    The message names the file (or argument), what was found and how to fix it; the
    underlying exception, when there is one, is kept as ``__cause__``.
    """


class RepairLogError(CheckpointError, ConfigError):
    """A repair log (JSONL) cannot be read: not readable as UTF-8, or corrupt before its
    last line.

    Both a :class:`CheckpointError` (what the checkpoint tools raise) and a
    :class:`~runtime.errors.ConfigError` (what ``RepairLog.load`` raised before the two
    readers became one), so existing handlers of either still catch it.
    """
