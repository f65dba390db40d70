"""Ground truth of settled windows, shared by the level tests (estimators, playback, loop).

An estimate is compared with the truth only where the truth is settled: constant (within
``tolerance``) over everything the estimate rests on, its analysis window plus the time its
smoothing takes to forget a change. Attention: 4 s window + 3·τ of its 5 s EMA; stress: the
60 s window (no smoothing).
"""

from __future__ import annotations

import numpy as np

ATTENTION_SPAN_S = 4.0 + 15.0
STRESS_SPAN_S = 60.0
#: The level tests' bound on the mean absolute error over settled windows (issue 17).
MAX_MAE = 0.12


def settled_truth(
    truth: np.ndarray, end_index: int, span_n: int, tolerance: float = 0.02
) -> float | None:
    """The truth's mean over the ``span_n`` samples before ``end_index``, or None when it
    moves by more than ``tolerance`` there (or the span reaches before the start)."""
    if end_index - span_n < 0:
        return None
    segment = truth[end_index - span_n : end_index]
    if segment.size == 0 or float(segment.max() - segment.min()) > tolerance:
        return None
    return float(segment.mean())


def settled_errors(
    estimates: list[tuple[int, float]], truth: np.ndarray, span_n: int
) -> np.ndarray:
    """Absolute errors of (sample_index, value) estimates whose truth is settled."""
    errors = []
    for end, value in estimates:
        expected = settled_truth(truth, end, span_n)
        if expected is not None:
            errors.append(abs(value - expected))
    return np.asarray(errors)
