"""Windowing by sample index: one window per hop, identical whatever the chunk sizes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class HopWindows:
    """A ring buffer (one writer) that yields a copy of the last ``window_n`` samples each
    time the stream's sample count reaches ``window_n + k·hop_n``."""

    def __init__(self, n_channels: int, window_n: int, hop_n: int) -> None:
        if window_n < 1 or hop_n < 1:
            raise ValueError(f"window ({window_n}) and hop ({hop_n}) must be ≥ 1 sample")
        self.window_n = window_n
        self.hop_n = hop_n
        self._buffer = np.zeros((n_channels, window_n))
        self._write = 0
        self.n_seen = 0
        self._next_end = window_n

    def push(self, chunk: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Add (n_channels, n) samples; yields (end_index, window copy) per completed hop."""
        start = 0
        n = chunk.shape[1]
        while start < n:
            take = min(n - start, self._next_end - self.n_seen)
            self._append(chunk[:, start : start + take])
            start += take
            if self.n_seen == self._next_end:
                self._next_end += self.hop_n
                yield self.n_seen, self._window()

    def _append(self, part: np.ndarray) -> None:
        n = part.shape[1]
        if n >= self.window_n:
            self._buffer[:] = part[:, -self.window_n :]
            self._write = 0
        else:
            first = min(n, self.window_n - self._write)
            self._buffer[:, self._write : self._write + first] = part[:, :first]
            self._buffer[:, : n - first] = part[:, first:]
            self._write = (self._write + n) % self.window_n
        self.n_seen += n

    def _window(self) -> np.ndarray:
        return np.concatenate(
            (self._buffer[:, self._write :], self._buffer[:, : self._write]), axis=1
        )


def window_fields(estimate: Any) -> dict[str, Any]:
    """The fields every estimate's message body shares (timing, validity, quality), as
    plain Python values: what :class:`runtime.messages.Feature` holds besides the level."""
    return {
        "sample_index": int(estimate.sample_index),
        "time_s": float(estimate.time_s),
        "window_s": float(estimate.window_s),
        "hop_s": float(estimate.hop_s),
        "valid": bool(estimate.valid),
        "calibrated": bool(estimate.calibrated),
        "reason": estimate.reason,
        "quality": float(estimate.quality),
    }
