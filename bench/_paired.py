"""A paired A/B read as its median and spread, and whether the spread lets it say anything.

An overhead measured once on a shared 2-core machine passes or fails by luck: two quick
runs of the same code read 1.64 % and 0.66 % against a 1 % target. So A (the job alone)
and B (the same job with our code) run in interleaved blocks, each pair of neighbouring
blocks gives one overhead (B / A − 1), and the figure is the median over pairs with the
interquartile range beside it. When that range is wider than the target, the pairs do
not resolve the target: the result is *noise-bound*, not a pass or a fail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Verdicts of :func:`summarise_pairs`.
MEETS, MISSES, NOISE_BOUND = "meets", "misses", "noise-bound"


def pair_overheads_pct(a_s: Sequence[float], b_s: Sequence[float]) -> list[float]:
    """Per pair, B's time over A's in percent: ``(b / a − 1) · 100``.

    ``a_s`` and ``b_s`` are the two variants' times per unit of work (seconds per step)
    in the same rounds, in round order; a ValueError names a length mismatch or a time
    that is not a positive finite number.
    """
    if len(a_s) != len(b_s):
        raise ValueError(
            f"pair_overheads_pct: 'a_s' has {len(a_s)} blocks and 'b_s' {len(b_s)}; every "
            "round needs one block of each"
        )
    for name, times in (("a_s", a_s), ("b_s", b_s)):
        bad = [t for t in times if not (math.isfinite(t) and t > 0)]
        if bad:
            raise ValueError(
                f"pair_overheads_pct: '{name}' holds {bad[0]!r}; block times must be positive "
                "finite seconds"
            )
    return [(b / a - 1.0) * 100.0 for a, b in zip(a_s, b_s, strict=True)]


def summarise_pairs(pairs_pct: Sequence[float], target_pct: float) -> dict[str, Any]:
    """Median, quartiles, spread and verdict of per-pair overheads (percent).

    ``spread_pct`` is the interquartile range (75th − 25th percentile, numpy's linear
    interpolation) in percentage points. The verdict is ``noise-bound`` when the spread
    is wider than ``target_pct``; otherwise ``meets`` when the median is at or below the
    target and ``misses`` when it is above. Needs at least 2 pairs (a ValueError says so).
    """
    values = np.asarray(list(pairs_pct), dtype=float)
    if values.size < 2:
        raise ValueError(
            f"summarise_pairs: {values.size} pair(s) give no spread; run at least 2 (≥ 5 "
            "for a quartile that means something)"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("summarise_pairs: every pair's overhead must be a finite number")
    q25, median, q75 = (float(v) for v in np.percentile(values, [25, 50, 75]))
    spread = q75 - q25
    noise_bound = spread > target_pct
    verdict = NOISE_BOUND if noise_bound else MEETS if median <= target_pct else MISSES
    return {
        "median_pct": median,
        "q25_pct": q25,
        "q75_pct": q75,
        "spread_pct": spread,
        "min_pct": float(values.min()),
        "max_pct": float(values.max()),
        "n_pairs": int(values.size),
        "target_pct": float(target_pct),
        "noise_bound": bool(noise_bound),
        "verdict": verdict,
    }
