"""Robust per-tensor statistics: centre (median), spread (scaled MAD) and inlier RMS.

The median and the median absolute deviation ignore a few wild values, which is what a
fracture scan needs: one weight at 1e30 must not move the yardstick it is measured with.
``1.4826 * MAD`` estimates the standard deviation of a normal sample (Rousseeuw & Croux,
1993), so a robust z of 50 means "50 standard deviations" for a Gaussian tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: MAD → standard deviation of a normal distribution: 1 / Φ⁻¹(3/4).
MAD_TO_SD = 1.4826

_SAMPLE_SEED = 0


@dataclass(frozen=True)
class RobustStats:
    """Median and spread of a tensor's finite values.

    ``spread`` is ``1.4826 * MAD``. When more than half the values equal the median
    (MAD = 0: a constant tensor, a pruned or a 0/1 mask tensor), the spread is taken from the
    values that differ from the median if there are enough of them to be a population
    (``min_count`` and 1 % of the values), and is 0 otherwise (a constant tensor with a few
    departures, which the caller measures against the model's typical spread instead).
    """

    centre: float
    spread: float
    n_finite: int


def to_flat_numpy(tensor: torch.Tensor) -> np.ndarray:
    """The tensor's values as a flat float32 (float64 for float64 tensors) numpy array.

    bfloat16 and float16 are widened to float32, which is exact.
    """
    flat = tensor.detach().reshape(-1)
    if flat.dtype != torch.float64:
        flat = flat.to(torch.float32)
    return flat.cpu().numpy()


def compute_robust_stats(finite: np.ndarray, min_count: int, sample_size: int) -> RobustStats:
    """Median and scaled MAD of ``finite`` (which must hold finite values only).

    Tensors larger than ``sample_size`` are summarised from a fixed-seed random sample of
    that many values: the median of 10⁶ draws is within about 0.1 % of a standard deviation
    of the exact one, and the scan stays linear in the checkpoint size.
    """
    n = int(finite.size)
    if n == 0:
        return RobustStats(0.0, 0.0, 0)
    sample = finite
    if n > sample_size:
        rng = np.random.default_rng(_SAMPLE_SEED)
        sample = finite[rng.integers(0, n, size=sample_size)]
    sample = sample.astype(np.float64, copy=False)
    centre = float(np.median(sample))
    deviation = np.abs(sample - centre)
    mad = float(np.median(deviation))
    if mad > 0:
        return RobustStats(centre, MAD_TO_SD * mad, n)
    departures = deviation[deviation > 0]
    if departures.size >= max(min_count, 0.01 * sample.size):
        return RobustStats(centre, MAD_TO_SD * float(np.median(departures)), n)
    return RobustStats(centre, 0.0, n)


def compute_rms(values: np.ndarray) -> float:
    """Root mean square in float64 (no overflow for float32 values near 3e38); 0 if empty."""
    if values.size == 0:
        return 0.0
    as64 = values.astype(np.float64, copy=False)
    return float(np.sqrt(np.mean(as64 * as64)))
