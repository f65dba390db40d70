"""The ADS1299 front end of OpenBCI boards: µV at the electrode ↔ signed 24-bit counts.

One count is ``VREF / gain / (2**23 - 1)`` volts (4.5 V reference), the scale BrainFlow uses
to turn counts back into µV. Samples go on the wire as 24-bit big-endian two's complement.
"""

from __future__ import annotations

import numpy as np

#: Reference voltage of the ADS1299 on OpenBCI boards, in µV.
VREF_UV = 4.5e6
#: Largest positive count of a 24-bit sample.
COUNTS_MAX = 2**23 - 1
#: PGA gain by the digit of a channel-setting command (``x1 0 6 ... X``: '6' is gain 24).
GAIN_BY_CODE: tuple[int, ...] = (1, 2, 4, 6, 8, 12, 24)


def uv_per_count(gain: float | np.ndarray) -> float | np.ndarray:
    """µV represented by one count at PGA ``gain`` (gain 24: 0.02235 µV)."""
    return VREF_UV / np.asarray(gain, dtype=float) / COUNTS_MAX


def uv_to_counts(uv: np.ndarray, gain: float | np.ndarray) -> np.ndarray:
    """Counts an ADS1299 at ``gain`` reports for ``uv`` (µV); clips at full scale.

    ``gain`` broadcasts against ``uv`` (e.g. one gain per channel, shape (n_channels, 1)).
    NaN reads as 0: an amplifier always sends a number.
    """
    counts = np.rint(np.nan_to_num(np.asarray(uv, dtype=float), nan=0.0) / uv_per_count(gain))
    return np.clip(counts, -(2**23), COUNTS_MAX).astype(np.int32)


def pack_int24_be(counts: np.ndarray) -> np.ndarray:
    """Signed counts of shape (..., k) as uint8 (..., 3k): 24-bit big-endian per value."""
    c = np.asarray(counts, dtype=np.int64) & 0xFFFFFF
    out = np.stack([(c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF], axis=-1).astype(np.uint8)
    return out.reshape(*c.shape[:-1], c.shape[-1] * 3)
