"""µV ↔ 24-bit counts, checked against the ADS1299 datasheet's full scale and Python's ints."""

from __future__ import annotations

import numpy as np
import pytest

from sim.emulators import uv_per_count, uv_to_counts
from sim.emulators._ads1299 import pack_int24_be


@pytest.mark.parametrize("gain", [1, 2, 4, 6, 8, 12, 24])
def test_full_scale_maps_to_the_largest_24_bit_count(gain: int) -> None:
    # Datasheet: the input range is ±VREF/gain; 4.5 V reference on OpenBCI boards.
    full_scale_uv = 4.5e6 / gain
    counts = uv_to_counts(np.array([full_scale_uv, -full_scale_uv, 2 * full_scale_uv]), gain)
    assert counts.tolist() == [2**23 - 1, -(2**23 - 1), 2**23 - 1]


def test_one_count_at_gain_24_is_the_scale_openbci_documents() -> None:
    # OpenBCI docs: Scale Factor (Volts/count) = 4.5 / 24 / (2^23 - 1) ≈ 0.02235 µV.
    assert uv_per_count(24) == pytest.approx(0.022351744, rel=1e-6)


def test_nan_reads_as_zero_counts() -> None:
    assert uv_to_counts(np.array([np.nan, 1.0]), 24)[0] == 0


def test_pack_int24_matches_python_big_endian_twos_complement() -> None:
    values = np.array([[0, 1, -1, 2**23 - 1, -(2**23), 123456, -654321]])
    packed = pack_int24_be(values)
    expected = b"".join(int(v).to_bytes(3, "big", signed=True) for v in values[0])
    assert packed.tobytes() == expected
