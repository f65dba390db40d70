"""GoldenRepair's blend: fractures toward the running mean, under two per-sample guards.

A finite fracture moves toward the running mean by the blend weight that the control's
intensity gives (``runtime.golden``: 1/φ² at intensity 1); a non-finite value has no share
to keep and is replaced by the mean.

*Spikes.* A repair must not leave a fracture behind: a finite outlier whose blend would
still lie beyond the threshold (``|z|·(1 − weight) > threshold``: from |z| > 10·φ ≈ 16.2 at
intensity 1) is a *spike*, and is replaced by the edge of the threshold band on its side,
``mean ± threshold·std``, instead of being blended. A 1e6 activation on a layer of spread 1
kept 61.8 % of itself under the blend and still dominated the layer; now it lands at 10 σ.
The repaired value as a function of |z| stays continuous (the blend reaches the edge just
where the rule takes over) and moves toward the mean as the intensity grows; at intensity 0
(no blend) every outlier is a spike, so the repair clips to the band and nothing more. At
full replacement (weight 1, intensity φ² and up) there are no spikes: every outlier goes to
the mean. Replaced spikes are counted in the ``spikes`` counter, and among the outliers.

Per sample (the first dimension):

* *identity preservation*: the cosine similarity of the repaired vs the original
  activations (over the original's values that are neither non-finite nor spikes: a spike,
  like a NaN, is the corruption, not the sample's identity; keeping it out also keeps a
  1e20 value out of the float64 sums) must stay ≥ ``identity_floor``; otherwise the blend is
  scaled back exactly onto the floor (``_identity``) and the sample counted. A spike's
  replacement is not scaled back;
* *repair entropy*: the Shannon entropy (bits) of how the repair displacement (a spike's
  move to the edge included) spreads over the sample's elements; above the site's limit the
  repair is a diffuse rewrite, so that sample's outliers, spikes too, are left alone
  (non-finite values are still replaced) and it is counted.

How the model side accepts a control's intensity (:func:`accept_intensity`, shared with
``VWPR``) lives here too: as sent, with no ceiling of its own (the controller's
``max_intensity`` is the ceiling), a negative value read as 0 and a non-finite one as 1.0.
"""

from __future__ import annotations

import logging
import math
import warnings

import torch

from runtime.messages import BASELINE_INTENSITY
from runtime.training._identity import solve_identity_scale
from runtime.training._repair_site import Site
from runtime.training._validate import check_float, raise_config_error

logger = logging.getLogger("runtime.training")

_TINY = 1e-12


def accept_intensity(intensity: float, component: str) -> float:
    """The intensity the model side applies: the control's value as sent, or, when that is
    not a finite number ≥ 0, the nearest safe reading (logged once per call).

    A negative value is read as 0 (no repair) and a NaN or infinite one as the baseline 1.0.
    There is no upper ceiling here: the controller's ``max_intensity`` bounds what it sends.
    A value that is not a number at all raises ConfigError naming the argument.
    """
    if isinstance(intensity, bool) or not isinstance(intensity, int | float):
        raise_config_error(
            f"The argument 'intensity' must be a number. {intensity!r} is invalid; pass the "
            "control's intensity (a float, 1.0 is the baseline)."
        )
    value = float(intensity)
    if math.isfinite(value) and value >= 0.0:
        return value
    accepted = BASELINE_INTENSITY if not math.isfinite(value) else 0.0
    logger.warning(
        "%s: intensity %r is not a finite number >= 0; applying %s instead",
        component,
        intensity,
        accepted,
    )
    return accepted


def check_deprecated_cap(name: str, value: float | None, default: float | None) -> float | None:
    """``default`` when ``value`` is None; else ``value`` checked, with a DeprecationWarning
    (GoldenRepair's ``max_intensity`` and ``gentle_max_intensity``)."""
    if value is None:
        return default
    warnings.warn(
        f"GoldenRepair's argument '{name}' is deprecated and will be removed: the intensity "
        "ceiling is the controller's max_intensity ([controller] in the config), and gentle "
        "mode's cap is runtime.golden.GENTLE_MAX_INTENSITY (1/φ). Drop the argument.",
        DeprecationWarning,
        stacklevel=3,
    )
    return check_float(name, value, low=0.0)


def blend_fractures(
    site: Site,
    y: torch.Tensor,
    z: torch.Tensor,
    *,
    detect: bool,
    may_be_nonfinite: bool,
    threshold: float,
    blend_weight: float,
    identity_floor: float,
) -> torch.Tensor:
    """``y`` with its fractures blended toward the site's running mean; counts them.

    ``z`` holds the z-scores of ``y``; ``detect`` False (warm-up) repairs non-finite values
    only; ``may_be_nonfinite`` False skips the finite mask (the caller proved ``y`` finite).
    An outlier the blend would leave beyond ``threshold`` (a spike) is replaced by the band's
    edge ``mean ± threshold·std`` instead. The site's counters and extremes are updated on
    the device (no sync).
    """
    shape = site.shape
    mean_b = site.stats[0].view(shape)
    with torch.no_grad():
        raw = y.detach()
        if may_be_nonfinite:
            finite = torch.isfinite(raw)
            original = torch.where(finite, raw, 0.0)
            safe = torch.where(finite, raw, mean_b)
            nonfinite = finite.numel() - finite.sum()
        else:
            finite = None
            original = safe = raw
            nonfinite = torch.zeros((), dtype=torch.int64, device=raw.device)
        if detect:
            z_abs = z.abs()
            outlier = z_abs > threshold
            if finite is not None:
                outlier &= finite
            # A spike: an outlier its blend would leave beyond the threshold. It goes to the
            # band's edge on its side instead and, like a non-finite value, keeps no share:
            # the identity guard measures the sample over its other values.
            spike = outlier & (z_abs * (1.0 - blend_weight) > threshold)
            edge = torch.addcdiv(mean_b, z.sign() * threshold, site.inv_b)  # mean ± t·std
            blended = outlier & ~spike
            keep = ~spike if finite is None else finite & ~spike
            original = torch.where(keep, raw, 0.0)
            safe = torch.where(keep, raw, mean_b)
        else:
            outlier = spike = blended = torch.zeros(raw.shape, dtype=torch.bool, device=raw.device)
            edge = None
        weight = blended * blend_weight
        step = (mean_b - safe) * weight  # displacement of blended values at scale 1
        rows = raw.shape[0]
        a_flat, d_flat = original.reshape(rows, -1), step.reshape(rows, -1)
        a64, d64 = a_flat.double(), d_flat.double()
        a_sq = (a64 * a64).sum(1)
        a_dot_d = (a64 * d64).sum(1)
        d_sq = (d64 * d64).sum(1)
        has_identity = a_sq > _TINY
        cross = (a_sq * (a_sq + 2 * a_dot_d + d_sq)).clamp_min(_TINY)
        similarity = torch.where(
            has_identity, (a_sq + a_dot_d) / cross.sqrt(), torch.ones_like(a_sq)
        )
        mass = d_flat.abs()
        if edge is not None:  # a spike's move to the edge is part of the repair's spread
            mass = mass + torch.where(spike, edge - raw, 0.0).abs().reshape(rows, -1)
        p = mass / mass.sum(1, keepdim=True).clamp_min(_TINY)
        entropy_bits = -(p * torch.log2(torch.where(p > 0, p, 1.0))).sum(1)
        limited = entropy_bits > site.entropy_limit_bits
        violates = (similarity < identity_floor) & has_identity & ~limited
        scale = torch.where(
            violates,
            solve_identity_scale(a_sq, a_dot_d, d_sq, identity_floor),
            torch.ones_like(similarity),
        )
        scale = torch.where(limited, torch.zeros_like(scale), scale).to(weight.dtype)
        per_row = [rows] + [1] * (raw.dim() - 1)
        weight = (weight * scale.view(per_row)).to(y.dtype)
        replaced = spike & ~limited.view(per_row)  # the entropy limit leaves spikes alone too
        fractured = outlier if finite is None else outlier | ~finite
        site.dirty = True
        # The order of the counter slots (runtime.training._repair_site).
        site.counters.add_(
            torch.stack(
                [
                    nonfinite,
                    outlier.sum(),
                    violates.sum(),
                    limited.sum(),
                    fractured.any().long(),
                    replaced.sum(),
                ]
            )
        )
        site.extremes[0] = torch.minimum(site.extremes[0], similarity.min().float())
        site.extremes[1] = torch.maximum(site.extremes[1], entropy_bits.max().float())
    # Gradients flow through the kept share of finite values (d out / d y = 1 − weight); a
    # replaced spike or non-finite value keeps no share and passes none.
    kept = y if finite is None else torch.where(finite, y, mean_b)
    repaired = torch.lerp(kept, mean_b.expand_as(y), weight)
    return repaired if edge is None else torch.where(replaced, edge, repaired)
