"""The golden ratio and the golden blend, defined once for every repair.

A golden blend moves a fractured value toward its repair target and keeps ``1/φ ≈ 61.8 %``
of its distance from it; the target's share is ``1 − 1/φ = 1/φ² ≈ 38.2 %``. Intensity
scales the target's share, up to full replacement (a share of 1, reached at intensity φ²).
Gentle mode caps the intensity at :data:`GENTLE_MAX_INTENSITY` (1/φ): the target's share is
then at most ``1/φ³ ≈ 23.6 %``.

``runtime.training`` (activations, torch) and ``runtime.checkpoint`` (weights, numpy) both
use these numbers. This module is math only, on floats: tensor and array code calls it with
scalars. The ceiling of intensity outside gentle mode is not here: it is the controller's
``max_intensity`` (``runtime/controller/_settings.py``).
"""

from __future__ import annotations

import math

__all__ = [
    "BLEND_WEIGHT",
    "GENTLE_MAX_INTENSITY",
    "KEEP_FRACTION",
    "PHI",
    "apply_gentle_cap",
    "compute_blend_weight",
    "golden_blend",
]

#: The golden ratio φ = (1 + √5) / 2 ≈ 1.618.
PHI = (1.0 + math.sqrt(5.0)) / 2.0
#: Share of a fracture's distance from its target that one blend keeps at intensity 1:
#: 1/φ ≈ 0.618.
KEEP_FRACTION = 1.0 / PHI
#: Share of the target in one blend at intensity 1: 1 − 1/φ = 1/φ² ≈ 0.382.
BLEND_WEIGHT = 1.0 - KEEP_FRACTION
#: Gentle mode's intensity cap, its only cap: 1/φ ≈ 0.618.
GENTLE_MAX_INTENSITY = KEEP_FRACTION


def golden_blend(value: float, target: float) -> float:
    """One golden blend at intensity 1: ``value / φ + target · (1 − 1/φ)``.

    The same arithmetic applies elementwise when ``value`` is a numpy array or a tensor.
    """
    return value * KEEP_FRACTION + target * BLEND_WEIGHT


def compute_blend_weight(intensity: float) -> float:
    """The target's share of a blend at ``intensity`` (≥ 0): ``min(1, (1 − 1/φ)·intensity)``.

    1 is full replacement (intensity φ² and above); 0 leaves the value as it is.
    """
    return min(1.0, BLEND_WEIGHT * intensity)


def apply_gentle_cap(intensity: float, gentle: bool) -> float:
    """``intensity`` as gentle mode lets it act: at most :data:`GENTLE_MAX_INTENSITY`."""
    return min(intensity, GENTLE_MAX_INTENSITY) if gentle else intensity
