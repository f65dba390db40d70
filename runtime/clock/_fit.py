"""A robust straight line through offset samples: offset(t) = a + b·(t − t_ref).

Two crystals drift apart at a nearly constant rate over minutes (tens of ppm), so the
offset is a line in hub time. The fit is weighted least squares with weight 1/δ² (δ each
sample's round trip): a sample's offset is off by at most δ/2, so δ is its scale, and a
window whose best exchange was still queued counts for little. Then the points whose
residual is more than ``reject_k`` robust standard deviations (1.4826 × the median
absolute deviation) away are dropped and the line refit. Too few points, or too short a
span, give a constant (the weighted mean) instead of a slope that would be mostly noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ASSUMED_MAX_DRIFT", "OffsetLine", "fit_offset_line"]

#: Without a fitted slope, how fast the offset may be moving: quartz oscillators of PCs
#: and boards are specified within ±100 ppm.
ASSUMED_MAX_DRIFT = 100e-6


@dataclass(frozen=True)
class OffsetLine:
    """The fitted offset: ``offset_s`` at hub time ``t_ref`` (the weighted mean time of
    the points used), ``drift`` in s per s (×1e6 for ppm); ``var_offset_s2`` and
    ``var_drift`` their variances (``var_drift`` is 0 when no slope was fitted);
    ``residual_s`` the points' weighted rms residual; ``used`` the indices of the input
    points the line rests on."""

    offset_s: float
    drift: float
    t_ref: float
    var_offset_s2: float
    var_drift: float
    residual_s: float
    fitted_slope: bool
    used: tuple[int, ...] = ()

    @property
    def n(self) -> int:
        return len(self.used)

    def offset_at(self, hub_time: float) -> float:
        """The offset (sensor minus hub, s) at ``hub_time``."""
        return self.offset_s + self.drift * (hub_time - self.t_ref)

    def standard_error_s(self, hub_time: float) -> float:
        """The standard error of :meth:`offset_at` at ``hub_time``, s: the line's own
        error, growing away from ``t_ref`` (with no fitted slope, by the assumed drift)."""
        dt = hub_time - self.t_ref
        if self.fitted_slope:
            return math.sqrt(self.var_offset_s2 + dt * dt * self.var_drift)
        return math.sqrt(self.var_offset_s2) + abs(dt) * ASSUMED_MAX_DRIFT


def _weighted_line(
    t: np.ndarray, y: np.ndarray, w: np.ndarray, used: np.ndarray, min_span_s: float
) -> OffsetLine:
    t, y, w = t[used], y[used], w[used]
    n = len(t)
    w_sum = float(w.sum())
    t_ref = float(w @ t) / w_sum
    dt = t - t_ref
    indices = tuple(int(i) for i in np.flatnonzero(used))
    if n < 3 or float(t.max() - t.min()) < min_span_s:
        offset = float(w @ y) / w_sum
        residuals = y - offset
        scale = float(w @ residuals**2) / (n - 1) if n > 1 else 0.0
        rms = math.sqrt(float(w @ residuals**2) / w_sum)
        return OffsetLine(offset, 0.0, t_ref, scale / w_sum, 0.0, rms, False, indices)
    sxx = float(w @ (dt * dt))
    offset = float(w @ y) / w_sum
    drift = float(w @ (dt * (y - offset))) / sxx
    residuals = y - (offset + drift * dt)
    # Var(sample i) = scale / w_i; scale from the residuals, n - 2 degrees of freedom.
    scale = float(w @ residuals**2) / (n - 2)
    rms = math.sqrt(float(w @ residuals**2) / w_sum)
    return OffsetLine(offset, drift, t_ref, scale / w_sum, scale / sxx, rms, True, indices)


def fit_offset_line(
    hub_times: np.ndarray | list[float],
    offsets_s: np.ndarray | list[float],
    delays_s: np.ndarray | list[float] | None = None,
    *,
    min_span_s: float = 4.0,
    reject_k: float = 3.0,
    floor_s: float = 20e-6,
    iterations: int = 3,
) -> OffsetLine:
    """Fit offset(t) robustly through (``hub_times``, ``offsets_s``), all in s, each point
    weighted by 1/delay² when ``delays_s`` is given (equal weights otherwise).

    A point is dropped when its residual exceeds ``reject_k`` robust standard deviations,
    but never for less than ``floor_s`` (so clean data does not lose points to its own
    microsecond jitter); the line is refit up to ``iterations`` times.
    """
    t = np.asarray(hub_times, dtype=float)
    y = np.asarray(offsets_s, dtype=float)
    if t.shape != y.shape or t.ndim != 1 or len(t) == 0:
        raise ValueError(
            f"fit_offset_line: hub_times and offsets_s must be two 1-D sequences of the same "
            f"non-zero length; got shapes {t.shape} and {y.shape}"
        )
    if delays_s is None:
        w = np.ones_like(t)
    else:
        d = np.asarray(delays_s, dtype=float)
        if d.shape != t.shape:
            raise ValueError(
                f"fit_offset_line: delays_s has shape {d.shape}; expected {t.shape}, one per point"
            )
        # A zero delay (a coarse clock) must not get an infinite weight: 1 µs at least.
        w = 1.0 / np.maximum(d, 1e-6) ** 2
    used = np.ones(len(t), dtype=bool)
    line = _weighted_line(t, y, w, used, min_span_s)
    for _ in range(iterations):
        residuals = y - (line.offset_s + line.drift * (t - line.t_ref))
        inner = residuals[used]
        centre = float(np.median(inner))
        spread = 1.4826 * float(np.median(np.abs(inner - centre)))
        within = np.abs(residuals - centre) <= max(reject_k * spread, floor_s)
        if within.sum() < 2 or np.array_equal(within, used):
            break
        used = within
        line = _weighted_line(t, y, w, used, min_span_s)
    return line
