"""The checkpoint tools' own error: a file that is not a usable PyTorch checkpoint."""

from __future__ import annotations

from runtime.errors import KintsugiError


class CheckpointError(KintsugiError, ValueError):
    """A checkpoint or repair log cannot be read, written or verified.

    The message names the file (or argument), what was found and how to fix it; the
    underlying exception, when there is one, is kept as ``__cause__``.
    """
