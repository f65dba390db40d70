"""The identity guard's closed form: how far a repair may go before it erases the sample."""

from __future__ import annotations

import torch

_TINY = 1e-12


def solve_identity_scale(
    a_sq: torch.Tensor, a_dot_d: torch.Tensor, d_sq: torch.Tensor, floor: float
) -> torch.Tensor:
    """Largest s in [0, 1] with cos(a, a + s·d) ≥ ``floor``, per sample.

    ``a_sq = a·a``, ``a_dot_d = a·d``, ``d_sq = d·d`` (float64: a spike that dominates its
    sample makes the answer depend on a tiny perpendicular part). The angle between ``a``
    and a point moving along the ray ``a + s·d`` grows monotonically with s, so the crossing
    is the smallest positive root of ``(1 + sα)² = c²(1 + 2sα + s²δ)`` with α = a·d/a·a,
    δ = d·d/a·a, written in the cancellation-free form ``s = q_c / (−q_b + √Δ)`` with
    ``Δ = (1 − c²)·c²·(δ − α²)``. Samples that never cross get 1.
    """
    c2 = floor * floor
    safe_a = a_sq.clamp_min(_TINY)
    alpha = a_dot_d / safe_a
    perp = ((a_sq * d_sq - a_dot_d * a_dot_d) / (safe_a * safe_a)).clamp_min(0.0)
    qb = alpha * (1.0 - c2)
    qc = 1.0 - c2
    denom = -qb + ((1.0 - c2) * c2 * perp).sqrt()
    root = qc / denom.clamp_min(_TINY)
    # Land just inside the floor despite rounding.
    return torch.where(denom > _TINY, root * (1.0 - 1e-7), torch.ones_like(root)).clamp(0.0, 1.0)
