"""GoldenRepair: detect fractures in activations and blend them toward the running mean.

A *fracture* is a non-finite activation, or one whose |z| against running per-feature
statistics exceeds a threshold. A finite fracture is blended toward the running mean with
golden-ratio weights: at intensity 1 the repaired value keeps ``1/φ ≈ 61.8 %`` of the
original and takes ``1/φ² ≈ 38.2 %`` from the mean; intensity scales the mean's share (up to
full replacement at intensity φ²). A non-finite value has no share to keep: it is replaced
by the running mean whatever the intensity. Gentle mode caps the intensity and raises the
threshold.

Two guards, per sample (the first dimension):

* *identity preservation*: the cosine similarity of the repaired vs the original activations
  (over the original's finite values) must stay ≥ ``identity_floor``; otherwise the blend is
  scaled back exactly onto the floor (closed form) and the violation is counted;
* *repair entropy*: the Shannon entropy (bits) of how the repair displacement spreads over
  the sample's elements. ``2**H`` is the effective number of elements rewritten; above
  ``max_repair_entropy_bits`` the repair is a diffuse rewrite (a shift of the whole
  distribution, not a local fracture), so outliers in that sample are left alone (non-finite
  values are still replaced) and the event is counted.

Hot path: on accelerators every forward runs a fixed, branch-free sequence of tensor ops
(no host–device sync; counters stay on the device and are read by :meth:`collect`). On the
CPU, where reading a scalar is not a device sync, a forward first checks ``aminmax`` of the
activations against the band every feature accepts and returns them untouched when that
proves them clean, which is the common case.

Checking costs one pass over the activations per repaired module, which a small model's step
feels (about 20 µs per 64×512 activation here, see docs/benchmarks.md). ``check_every=k``
checks one forward in k per module instead (every forward during warm-up, and every forward
for ``escalation_forwards`` after a fracture is found): fractures on unchecked forwards pass
through unrepaired, and :meth:`summary` says how many forwards went unchecked.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from runtime.golden import (  # noqa: F401 - BLEND_WEIGHT was defined here; still importable
    BLEND_WEIGHT,
    KEEP_FRACTION,
    PHI,
    compute_blend_weight,
)
from runtime.training._identity import solve_identity_scale
from runtime.training._repair_log import RepairEvent, RepairLog
from runtime.training._validate import check_float, check_positive_int, raise_config_error

logger = logging.getLogger("runtime.training")

_TINY = 1e-12
# Counter slots of a site (int64 tensor).
_NONFINITE, _OUTLIERS, _GUARD_SCALED, _ENTROPY_LIMITED, _REPAIRED_CALLS = range(5)
_COUNTER_NAMES = ("nonfinite", "outliers", "guard_scaled", "entropy_limited", "repaired_calls")
_CHANNEL_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)
# The CPU's clean checks: the batch's global range against the range every feature accepts
# (one pass over the activations), or the range of the batch's z-scores (two passes; exact).
_RANGE, _ZSCORES = "range", "zscores"


class _Site:
    """Per-module state: running statistics (float32) and counters (on the module's device)."""

    def __init__(self, name: str, module: nn.Module) -> None:
        self.name = name
        self.module = module
        self.wrapper: _CheckedForward | None = None
        self.previous_forward: Any = None  # an instance forward the wrapper replaced, if any
        self.feature_dim = 1 if isinstance(module, _CHANNEL_FIRST) else -1
        self.stats: torch.Tensor | None = None  # [2, F]: running mean, running var
        self.inv_std: torch.Tensor | None = None
        self.shift: torch.Tensor | None = None  # −mean·inv_std, so z = y·inv_std + shift
        self.counters: torch.Tensor | None = None  # int64 [5]
        self.extremes: torch.Tensor | None = None  # [min similarity, max entropy bits]
        self.extremes_reset: torch.Tensor | None = None  # [inf, 0]: extremes after a reset
        self.train_calls = 0  # checked training forwards
        self.forwards = 0  # every forward through the check
        self.unchecked = 0  # forwards passed through unchecked (check_every > 1)
        self.check_all_until = 0  # check every forward up to this forward (escalation)
        self.stats_at = 0  # the forward whose batch last updated the statistics
        self.entropy_limit_bits = math.inf
        self.z_buffer: torch.Tensor | None = None
        self.shape: list[int] | None = None  # broadcast shape of per-feature tensors
        self.reduce_dims: list[int] = []
        self.shift_b: torch.Tensor | None = None
        self.version = 0  # bumped whenever the statistics change
        self.band: tuple[float, float] = (0.0, 0.0)  # the range every feature accepts
        self.band_key: tuple[float, int] | None = None
        # Which clean check the CPU fast path takes (_RANGE or _ZSCORES), or None while it
        # does not apply (warm-up, accelerators, statistics or threshold just changed).
        self.fast_check: str | None = None
        self.dirty = False  # counters may be non-zero (always so on accelerators)
        self.inv_b: torch.Tensor | None = None
        self.branchless = False  # resolved per device at the first forward of a shape


class _CheckedForward:
    """Stands in for a module's ``forward``: the module's own forward, then the check.

    Set as the module's instance attribute ``forward``, which ``nn.Module.__call__`` looks up
    before the class's. Unlike a forward hook, this keeps the module's call on torch's fast
    path: on a small model's step the hook machinery alone cost about as much as the check.
    A deep copy or a pickle of the model gets the plain forward back, so a copy (an EMA or
    evaluation model, a saved checkpoint) is an ordinary module that shares no repair state.
    """

    __slots__ = ("original", "check", "active")

    def __init__(self, original: Any, check: Any) -> None:
        self.original = original  # the module's bound class forward
        self.check = check  # check(output) -> the output, repaired or untouched
        self.active = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.active:
            return self.check(self.original(*args, **kwargs))
        return self.original(*args, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy.deepcopy(self.original, memo)  # rebinds to the copied module

    def __reduce__(self) -> tuple[Any, ...]:
        return getattr, (self.original.__self__, "forward")


class GoldenRepair:
    """Repair fractured activations of chosen modules of any ``nn.Module``.

    ``modules``: names from ``model.named_modules()``; ``None`` picks every ``nn.Linear`` and
    convolution. ``threshold_z``: |z| above which a finite activation is an outlier.
    ``momentum``: weight of each training batch in the running statistics (the first batches
    use a cumulative mean). ``warmup_steps``: training forwards before outlier detection
    starts (non-finite values are repaired from the first forward); during warm-up every
    batch updates the statistics, afterwards one batch every ``stats_every`` forwards (they
    drift slowly, and an update costs as much as ten clean forwards' checks in a training
    loop on the CPU: about 0.2 ms for a 64×512 activation here). ``identity_floor``:
    minimum cosine similarity of repaired vs original per sample. ``max_repair_entropy_bits``:
    ``None`` means ``log2(n/4)`` for a sample of n elements. ``gentle_max_intensity`` and
    ``gentle_threshold_scale``: gentle mode's intensity cap and threshold factor.
    ``max_intensity``: cap outside gentle mode (φ² means full replacement). ``branchless``:
    ``None`` picks branch-free on accelerators and the skip-when-clean check on the CPU.
    ``check_every``: check one forward in this many per module after warm-up (1, the
    default, checks every forward; larger trades coverage for speed, see the module
    docstring). ``escalation_forwards``: after a fracture, forwards checked one by one
    before sampling resumes (on accelerators counted from the :meth:`collect` that sees it).

    The check is attached at construction, as a wrapper of each module's ``forward`` (an
    instance attribute; see :class:`_CheckedForward`); :meth:`remove` (or leaving a ``with``
    block) restores the modules' own ``forward``. Control is applied with
    :meth:`apply_control` between steps.
    """

    def __init__(
        self,
        model: nn.Module,
        modules: Iterable[str] | None = None,
        *,
        threshold_z: float = 10.0,
        momentum: float = 0.1,
        warmup_steps: int = 20,
        stats_every: int = 128,
        identity_floor: float = 0.2,
        max_repair_entropy_bits: float | None = None,
        gentle_max_intensity: float = KEEP_FRACTION,
        gentle_threshold_scale: float = 1.5,
        max_intensity: float = PHI * PHI,
        branchless: bool | None = None,
        check_every: int = 1,
        escalation_forwards: int = 200,
        log: RepairLog | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise_config_error(
                f"The argument 'model' must be a torch.nn.Module. {type(model).__name__} is "
                "invalid."
            )
        self.threshold_z = check_float("threshold_z", threshold_z, low=0.0, low_inclusive=False)
        self.momentum = check_float("momentum", momentum, low=0.0, high=1.0, low_inclusive=False)
        self.warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        self.stats_every = check_positive_int("stats_every", stats_every)
        self.identity_floor = check_float("identity_floor", identity_floor, low=0.0, high=0.999)
        self.max_repair_entropy_bits = (
            None
            if max_repair_entropy_bits is None
            else check_float("max_repair_entropy_bits", max_repair_entropy_bits, low=0.0)
        )
        self.gentle_max_intensity = check_float(
            "gentle_max_intensity", gentle_max_intensity, low=0.0
        )
        self.gentle_threshold_scale = check_float(
            "gentle_threshold_scale", gentle_threshold_scale, low=1.0
        )
        self.max_intensity = check_float("max_intensity", max_intensity, low=0.0)
        self.branchless = branchless
        self.check_every = check_positive_int("check_every", check_every)
        self.escalation_forwards = check_positive_int("escalation_forwards", escalation_forwards)
        self.log = log
        self._sites = self._make_sites(model, modules)
        self.intensity = 1.0
        self.gentle = True
        self.blend_weight = 0.0
        self.threshold = 0.0
        self.apply_control(1.0, gentle=True)
        self.attach()
        logger.info("GoldenRepair: attached to %s", ", ".join(s.name for s in self._sites))

    # ----------------------------------------------------------------- set-up and control
    @staticmethod
    def _make_sites(model: nn.Module, modules: Iterable[str] | None) -> list[_Site]:
        named = dict(model.named_modules())
        if modules is None:
            chosen = [
                n
                for n, m in named.items()
                if n and isinstance(m, nn.Linear | nn.modules.conv._ConvNd)
            ]
            if not chosen:
                raise_config_error(
                    "The argument 'modules' is None but the model has no nn.Linear or "
                    "convolution; pass the names of the modules to repair."
                )
        else:
            chosen = [modules] if isinstance(modules, str) else list(modules)
            unknown = [n for n in chosen if n not in named or not n]
            if unknown or not chosen:
                available = ", ".join(n for n in named if n)[:300]
                raise_config_error(
                    f"The argument 'modules' names {unknown or chosen!r}, which the model does not "
                    f"have; pick names from model.named_modules(): {available}"
                )
        return [_Site(name, named[name]) for name in dict.fromkeys(chosen)]

    def apply_control(self, intensity: float, gentle: bool) -> None:
        """Set repair strength for the next forwards (call at a step boundary).

        The target's blend weight becomes ``min(1, (1 − 1/φ)·min(intensity, cap))`` with the
        cap ``gentle_max_intensity`` in gentle mode and ``max_intensity`` otherwise; gentle
        mode also multiplies the outlier threshold by ``gentle_threshold_scale``.
        """
        intensity = check_float("intensity", intensity, low=0.0)
        cap = self.gentle_max_intensity if gentle else self.max_intensity
        self.intensity = intensity
        self.gentle = bool(gentle)
        self.blend_weight = compute_blend_weight(min(intensity, cap))
        threshold = self.threshold_z * (self.gentle_threshold_scale if gentle else 1.0)
        if threshold != self.threshold:
            for site in self._sites:
                site.fast_check = None  # the bounds follow the threshold
        self.threshold = threshold

    @property
    def module_names(self) -> list[str]:
        """Names of the modules this repair is attached to."""
        return [site.name for site in self._sites]

    @property
    def attached(self) -> bool:
        """True while the modules' forwards go through the check."""
        return any(site.wrapper is not None for site in self._sites)

    def attach(self) -> None:
        """(Re-)attach the checks after :meth:`remove`; statistics and counters are kept."""
        for site in self._sites:
            if site.wrapper is None:
                module = site.module
                site.previous_forward = module.__dict__.get("forward")
                site.wrapper = _CheckedForward(module.forward, self._make_check(site))
                module.forward = site.wrapper

    def remove(self) -> None:
        """Restore each module's own ``forward`` (safe to call twice).

        When other code has wrapped a module's ``forward`` after this repair did, that
        wrapper is left in place and this repair's check inside it turns into a plain call.
        """
        for site in self._sites:
            wrapper = site.wrapper
            if wrapper is None:
                continue
            wrapper.active = False
            if site.module.__dict__.get("forward") is wrapper:
                if site.previous_forward is None:
                    del site.module.forward
                else:
                    site.module.forward = site.previous_forward
            else:
                logger.warning(
                    "GoldenRepair: the forward of module '%s' was wrapped again after the "
                    "repair attached; the repair now passes through inside that wrapper",
                    site.name,
                )
            site.wrapper = site.previous_forward = None

    def __enter__(self) -> GoldenRepair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # ------------------------------------------------------------------------ the check
    def _make_check(self, site: _Site):  # noqa: ANN202 - a closure on the hot path
        tensor_type = torch.Tensor
        aminmax = torch.aminmax
        range_check = _RANGE
        zscores_clean = self._zscores_clean
        module = site.module

        def check(output: Any) -> Any:
            forwards = site.forwards = site.forwards + 1
            every = self.check_every
            if (
                every > 1
                and forwards % every
                and forwards > site.check_all_until
                and site.train_calls >= self.warmup_steps
            ):
                site.unchecked += 1  # sampled out: the cheapest path, kept in this closure
                return output
            fast = site.fast_check
            if fast is not None and type(output) is tensor_type:
                # The usual forward on the CPU, kept to one reduction and as few Python
                # lines as possible: the training thread runs them with cold caches.
                if fast is range_check:
                    low, high = aminmax(output.detach())
                    band = site.band
                    clean = band[0] <= low.item() and high.item() <= band[1]
                else:
                    clean = zscores_clean(site, output.detach())
                if clean:
                    if module.training:
                        site.train_calls += 1
                        if forwards - site.stats_at >= self.stats_every:
                            site.stats_at = forwards
                            self._update_stats(site, output.detach())
                    return output
            repaired = self._forward(site, module, output)
            return output if repaired is None else repaired

        return check

    def _forward(self, site: _Site, module: nn.Module, output: Any) -> torch.Tensor | None:
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            raise_config_error(
                f"GoldenRepair: module '{site.name}' returned {type(output).__name__}, not a "
                "floating-point tensor; attach to modules that return one (argument 'modules')."
            )
        y = output if output.dim() >= 2 else output.unsqueeze(0)
        if site.stats is None:
            self._init_site(site, y)
        if site.z_buffer is None or site.z_buffer.shape != y.shape:
            self._resize(site, y)
        training = module.training
        detect = site.train_calls >= self.warmup_steps
        branchless = site.branchless
        may_be_nonfinite = True
        if not branchless and self._clean_by_range(site, y, detect):
            if training and self._count_training_call(site):
                self._update_stats(site, y.detach())
            return None
        with torch.no_grad():
            if branchless:
                z = torch.addcmul(site.shift_b, y.detach(), site.inv_b, out=site.z_buffer)
            else:
                low, high = self._zscore_range(site, y.detach())
                z = site.z_buffer
                may_be_nonfinite = not (math.isfinite(low) and math.isfinite(high))
                has_outliers = detect and not (high <= self.threshold and low >= -self.threshold)
                if not (may_be_nonfinite or has_outliers):
                    if detect:
                        site.fast_check = _ZSCORES  # the next forwards try this check first
                    if training and self._count_training_call(site):
                        self._update_stats(site, y.detach())
                    return None
                site.check_all_until = site.forwards + self.escalation_forwards
        repaired = self._repair(site, y, z, site.shape, detect, may_be_nonfinite)
        if training and self._count_training_call(site):
            self._update_stats(site, repaired.detach())
        return repaired if output.dim() >= 2 else repaired.squeeze(0)

    def _clean_by_range(self, site: _Site, y: torch.Tensor, detect: bool) -> bool:
        """CPU: True when the batch's global range proves every value clean (one pass).

        If ``min(y)`` and ``max(y)`` are finite and lie inside the band every feature
        accepts (``max_f(mean_f − t·std_f)`` to ``min_f(mean_f + t·std_f)``), no element
        can be a fracture, and the next forwards try this check first. When the features'
        ranges are too far apart for that, the caller's z-score range decides (exact, two
        passes), and when that fails, the element-by-element check.
        """
        if not detect:  # warm-up: only non-finite values are fractures
            low, high = torch.aminmax(y.detach())
            return math.isfinite(low.item()) and math.isfinite(high.item())
        band_low, band_high = self._band(site)
        if band_low <= band_high:
            low, high = torch.aminmax(y.detach())
            if band_low <= low.item() and high.item() <= band_high:  # False for NaN
                site.fast_check = _RANGE
                return True
        return False

    @staticmethod
    def _zscore_range(site: _Site, y: torch.Tensor) -> tuple[float, float]:
        """Lowest and highest z-score of the batch (NaN when any is); the z-scores are left
        in the site's z buffer, which must be shaped like ``y``."""
        z = torch.addcmul(site.shift_b, y, site.inv_b, out=site.z_buffer)
        low, high = torch.aminmax(z)
        return low.item(), high.item()

    def _zscores_clean(self, site: _Site, y: torch.Tensor) -> bool:
        """Fast path: True when every z-score of the batch is within the threshold (False
        for NaN, and for a batch shaped unlike the site's z buffer)."""
        if y.shape != site.z_buffer.shape:
            return False
        low, high = self._zscore_range(site, y)
        return -self.threshold <= low and high <= self.threshold

    def _band(self, site: _Site) -> tuple[float, float]:
        """The value range every feature accepts under the current statistics and threshold
        (empty when low > high); recomputed only when either changed."""
        if site.band_key != (self.threshold, site.version):
            with torch.no_grad():
                reach = self.threshold * site.inv_std.reciprocal()
                low_band = (site.stats[0] - reach).max().item()
                high_band = (site.stats[0] + reach).min().item()
            site.band = (low_band, high_band)
            site.band_key = (self.threshold, site.version)
        return site.band

    def _resize(self, site: _Site, y: torch.Tensor) -> None:
        """Shapes and buffers for activations shaped like ``y`` (kept until the shape changes)."""
        dim = site.feature_dim % y.dim()
        shape = [1] * y.dim()
        shape[dim] = y.shape[dim]
        site.shape = shape
        site.reduce_dims = [d for d in range(y.dim()) if d != dim]
        # z-scores go into a buffer reused across forwards: a fresh allocation of an
        # activation-sized tensor costs as much as the arithmetic on the CPU.
        site.z_buffer = torch.empty(y.shape, dtype=y.dtype, device=y.device)
        site.branchless = self.branchless if self.branchless is not None else y.device.type != "cpu"
        self._refresh_scale(site)

    def _init_site(self, site: _Site, y: torch.Tensor) -> None:
        """Start the running statistics from the first batch's finite values."""
        dim = site.feature_dim % y.dim()
        with torch.no_grad():
            flat = y.detach().movedim(dim, -1).reshape(-1, y.shape[dim]).float()
            finite = torch.isfinite(flat)
            count = finite.sum(0).clamp_min(1)
            mean = torch.where(finite, flat, 0.0).sum(0) / count
            var = (torch.where(finite, flat - mean, 0.0) ** 2).sum(0) / count
            site.stats = torch.stack([mean, var]).to(y.dtype)
            site.counters = torch.zeros(5, dtype=torch.int64, device=y.device)
            site.extremes = torch.tensor([math.inf, 0.0], dtype=torch.float32, device=y.device)
            site.extremes_reset = site.extremes.clone()
            self._refresh_scale(site)
        per_sample = y[0].numel()
        limit = self.max_repair_entropy_bits
        site.entropy_limit_bits = math.log2(max(per_sample / 4, 1.0)) if limit is None else limit

    @staticmethod
    def _refresh_scale(site: _Site) -> None:
        mean, var = site.stats[0], site.stats[1]
        # A dead feature (variance 0) must not turn every later activation into an outlier.
        floor = var.mean() * 1e-4 + 1e-8
        site.inv_std = torch.rsqrt(torch.maximum(var, floor))
        site.shift = -mean * site.inv_std
        site.version += 1
        site.fast_check = None  # the bounds follow the statistics
        if site.shape is not None:
            site.shift_b = site.shift.view(site.shape)
            site.inv_b = site.inv_std.view(site.shape)

    def _count_training_call(self, site: _Site) -> bool:
        """Count a checked training forward; True when its batch is due to update the
        statistics: during warm-up, then once ``stats_every`` forwards have passed since the
        last update (counted over every forward, so sampling does not let them go stale)."""
        site.train_calls += 1
        if site.train_calls <= self.warmup_steps or site.forwards - site.stats_at >= (
            self.stats_every
        ):
            site.stats_at = site.forwards
            return True
        return False

    def _update_stats(self, site: _Site, y: torch.Tensor) -> None:
        """Fold one training batch of (finite) activations into the running statistics.

        The batch moments are taken of z-scores under the current statistics, which keeps
        the variance exact when the mean is large against the spread. (``torch.var_mean``
        over the batch dimension would be one call, but costs 200 µs on a 64×512 batch.)
        """
        if y.dim() < 2:
            y = y.unsqueeze(0)  # one unbatched sample, as in _forward
        if site.z_buffer is None or site.z_buffer.shape != y.shape:
            self._resize(site, y)
        with torch.no_grad():
            z = torch.addcmul(site.shift_b, y, site.inv_b, out=site.z_buffer)
            dims = site.reduce_dims
            mean_z = z.mean(dims)
            sq_z = z.square_().mean(dims)
            std = site.inv_std.reciprocal()
            # One value per feature (an unbatched sample) has no spread of its own: around
            # its own mean its variance is 0, which would drain the running variance and
            # turn ordinary values into fractures. Its squared distance from the running
            # mean is the estimate then.
            spread = sq_z - mean_z * mean_z if y.numel() > site.stats.shape[1] else sq_z
            batch = torch.stack([site.stats[0] + mean_z * std, spread * std * std])
            weight = max(self.momentum, 1.0 / (site.train_calls + 1))
            site.stats.lerp_(batch, weight)
            self._refresh_scale(site)
        if not site.branchless and site.train_calls >= self.warmup_steps and site.shape:
            # Re-arm the fast path here rather than in a slow forward.
            band = self._band(site)
            site.fast_check = _RANGE if band[0] <= band[1] else _ZSCORES

    def _repair(
        self,
        site: _Site,
        y: torch.Tensor,
        z: torch.Tensor,
        shape: list[int],
        detect: bool,
        may_be_nonfinite: bool,
    ) -> torch.Tensor:
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
                outlier = z.abs() > self.threshold
                if finite is not None:
                    outlier &= finite
            else:
                outlier = torch.zeros(raw.shape, dtype=torch.bool, device=raw.device)
            weight = outlier * self.blend_weight
            step = (mean_b - safe) * weight  # displacement of finite values at scale 1
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
            p = mass / mass.sum(1, keepdim=True).clamp_min(_TINY)
            entropy_bits = -(p * torch.log2(torch.where(p > 0, p, 1.0))).sum(1)
            limited = entropy_bits > site.entropy_limit_bits
            violates = (similarity < self.identity_floor) & has_identity & ~limited
            scale = torch.where(
                violates,
                solve_identity_scale(a_sq, a_dot_d, d_sq, self.identity_floor),
                torch.ones_like(similarity),
            )
            scale = torch.where(limited, torch.zeros_like(scale), scale).to(weight.dtype)
            weight = (weight * scale.view([rows] + [1] * (raw.dim() - 1))).to(y.dtype)
            fractured = outlier if finite is None else outlier | ~finite
            site.dirty = True
            site.counters.add_(
                torch.stack(
                    [
                        nonfinite,
                        outlier.sum(),
                        violates.sum(),
                        limited.sum(),
                        fractured.any().long(),
                    ]
                )
            )
            site.extremes[0] = torch.minimum(site.extremes[0], similarity.min().float())
            site.extremes[1] = torch.maximum(site.extremes[1], entropy_bits.max().float())
        # Gradients flow through the kept share of finite values (d out / d y = 1 − weight).
        kept = y if finite is None else torch.where(finite, y, mean_b)
        return torch.lerp(kept, mean_b.expand_as(y), weight)

    # ---------------------------------------------------------------------- reading out
    def counts(self) -> dict[str, int]:
        """Repaired elements (non-finite + outliers) per module since the last :meth:`collect`."""
        out = {}
        for site in self._sites:
            if site.counters is None:
                out[site.name] = 0
            else:
                values = site.counters.tolist()
                out[site.name] = int(values[_NONFINITE] + values[_OUTLIERS])
        return out

    def _read(self, site: _Site) -> dict[str, Any]:
        if site.counters is None or not (site.dirty or site.branchless):
            # Nothing repaired on the CPU since the last reset: the counters are zero, and
            # reading them would cost the training thread four tensor reads per report.
            values = [0] * 5
            min_sim, max_bits = math.inf, 0.0
        else:
            values = site.counters.tolist()
            min_sim, max_bits = site.extremes.tolist()
        row: dict[str, Any] = dict(zip(_COUNTER_NAMES, (int(v) for v in values), strict=True))
        row["min_similarity"] = min_sim if math.isfinite(min_sim) else None
        row["max_entropy_bits"] = max_bits
        # The limit is set from the first activation's size: None until then.
        limit = site.entropy_limit_bits
        row["entropy_limit_bits"] = limit if math.isfinite(limit) else None
        row["unchecked_forwards"] = site.unchecked
        return row

    def summary(self) -> dict[str, Any]:
        """Counters and guard margins per module since the last :meth:`collect` (syncs).

        ``unchecked_forwards`` counts forwards that sampling (``check_every``) let through
        without a check.
        """
        return self._summarise({site.name: self._read(site) for site in self._sites})

    def _summarise(self, modules: dict[str, dict[str, Any]]) -> dict[str, Any]:
        sims = [m["min_similarity"] for m in modules.values() if m["min_similarity"] is not None]
        margins = [
            m["entropy_limit_bits"] - m["max_entropy_bits"]
            for m in modules.values()
            if m["entropy_limit_bits"] is not None
        ]
        return {
            "intensity": self.intensity,
            "gentle": self.gentle,
            "blend_weight": self.blend_weight,
            "threshold_z": self.threshold,
            "identity_floor": self.identity_floor,
            "repairs": sum(m["nonfinite"] + m["outliers"] for m in modules.values()),
            "min_similarity": min(sims) if sims else None,
            "identity_margin": (min(sims) - self.identity_floor) if sims else None,
            "entropy_margin_bits": min(margins) if margins else None,
            "check_every": self.check_every,
            "unchecked_forwards": sum(m["unchecked_forwards"] for m in modules.values()),
            "modules": modules,
        }

    def collect(self, step: int) -> list[RepairEvent]:
        """Read and reset the counters; one :class:`RepairEvent` per module that repaired.

        The events cover the forwards since the previous call and are appended to ``log``
        when one was given. This is the only place that reads device counters.
        """
        return self.collect_summary(step)[1]

    def collect_summary(self, step: int) -> tuple[dict[str, Any], list[RepairEvent]]:
        """:meth:`summary` and :meth:`collect` from one read of the counters (a status
        report needs both; reading twice doubled its cost on the training thread)."""
        events = []
        now = time.time()
        modules = {}
        for site in self._sites:
            row = modules[site.name] = self._read(site)
            if row["nonfinite"] or row["outliers"]:
                # On accelerators this is where a fracture becomes known on the host.
                site.check_all_until = max(
                    site.check_all_until, site.forwards + self.escalation_forwards
                )
                events.append(
                    RepairEvent(
                        step=step,
                        module=site.name,
                        nonfinite=row["nonfinite"],
                        outliers=row["outliers"],
                        guard_scaled=row["guard_scaled"],
                        entropy_limited=row["entropy_limited"],
                        repaired_calls=row["repaired_calls"],
                        min_similarity=row["min_similarity"],
                        max_entropy_bits=row["max_entropy_bits"],
                        intensity=self.intensity,
                        gentle=self.gentle,
                        time=now,
                    )
                )
            site.unchecked = 0
            touched = any(row[name] for name in _COUNTER_NAMES) or (
                row["min_similarity"] is not None or row["max_entropy_bits"] != 0.0
            )
            if site.counters is not None and touched:  # a clean CPU site has nothing to reset
                site.counters.zero_()
                site.extremes.copy_(site.extremes_reset)
            site.dirty = False
        if self.log is not None:
            self.log.extend(events)
        return self._summarise(modules), events

    def running_stats(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Copies of a module's running (mean, variance) per feature."""
        for site in self._sites:
            if site.name == name and site.stats is not None:
                return site.stats[0].clone(), site.stats[1].clone()
        raise_config_error(
            f"The argument 'name' must be a repaired module with statistics; {name!r} is not "
            f"(modules: {self.module_names}; statistics start at the first forward)."
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.module_names)
