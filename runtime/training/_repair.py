"""GoldenRepair: detect fractures in activations and blend them toward the running mean.

A *fracture* is a non-finite activation, or one whose |z| against running per-feature
statistics exceeds a threshold. A finite fracture is blended toward the running mean with
golden-ratio weights (``runtime.golden``): at intensity 1 the repaired value keeps
``1/φ ≈ 61.8 %`` of the original and takes ``1/φ² ≈ 38.2 %`` from the mean; intensity scales
the mean's share (up to full replacement at intensity φ²). A non-finite value has no share
to keep: it is replaced by the running mean whatever the intensity. A repair never leaves a
fracture behind: an outlier whose blend would still lie beyond the threshold (a *spike*,
e.g. a 1e6 activation) is set to the edge of the threshold band instead. Gentle mode caps
the intensity and raises the threshold. Two per-sample guards (identity preservation, repair
entropy) hold a blend back; see ``_repair_blend``.

The class composes four modules, one job each: ``_repair_site`` (per-module state and the
forward wrapper), ``_repair_detect`` (running statistics and the clean checks),
``_repair_blend`` (the blend and its guards) and ``_repair_counters`` (counters, summaries,
events). This module holds the class: settings, control, attaching, and the check that runs
in each forward.

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

import logging
import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from runtime.golden import (  # noqa: F401 - the constants were defined here; still importable
    BLEND_WEIGHT,
    GENTLE_MAX_INTENSITY,
    KEEP_FRACTION,
    PHI,
    compute_blend_weight,
)
from runtime.training._repair_blend import accept_intensity, blend_fractures, check_deprecated_cap
from runtime.training._repair_counters import collect_sites, count_repairs, read_site, summarise
from runtime.training._repair_detect import (
    check_clean_by_range,
    check_zscores_clean,
    compute_stats_interval,
    compute_zscore_range,
    count_training_call,
    init_site,
    resize_site,
    update_stats,
)
from runtime.training._repair_log import RepairEvent, RepairLog
from runtime.training._repair_site import RANGE, ZSCORES, CheckedForward, Site, make_sites
from runtime.training._validate import check_float, check_positive_int, raise_config_error

logger = logging.getLogger("runtime.training")


class GoldenRepair:
    """Repair fractured activations of chosen modules of any ``nn.Module``.

    ``modules``: names from ``model.named_modules()``; ``None`` picks every ``nn.Linear`` and
    convolution. ``threshold_z``: |z| above which a finite activation is an outlier; an
    outlier whose blend would still be one is set to ``mean ± threshold·std`` (a spike,
    counted in ``spikes``; see ``_repair_blend``).
    ``momentum``: weight of each training batch in the running statistics (the first batches
    use a cumulative mean). ``warmup_steps``: training forwards before outlier detection
    starts (non-finite values are repaired from the first forward); during warm-up every
    batch updates the statistics, afterwards one batch every ``max(1, n // 16)`` forwards after n
    training forwards, up to ``stats_every`` (a young network's activations move fast,
    a settled one's slowly; an update costs as much as ten clean forwards' checks in a
    training loop on the CPU: about 0.2 ms for a 64×512 activation here). ``identity_floor``:
    minimum cosine similarity of repaired vs original per sample. ``max_repair_entropy_bits``:
    ``None`` means ``log2(n/4)`` for a sample of n elements. ``gentle_threshold_scale``:
    gentle mode's threshold factor (its intensity cap is ``runtime.golden``'s 1/φ).
    ``max_intensity`` and ``gentle_max_intensity`` are deprecated (a DeprecationWarning;
    still applied when given): outside gentle mode the intensity is applied as the control
    sends it, bounded by the controller's ``max_intensity``. ``branchless``:
    ``None`` picks branch-free on accelerators and the skip-when-clean check on the CPU.
    ``check_every``: check one forward in this many per module after warm-up (1, the
    default, checks every forward; larger trades coverage for speed, see the module
    docstring). ``escalation_forwards``: after a fracture, forwards checked one by one
    before sampling resumes (on accelerators counted from the :meth:`collect` that sees it).

    The check is attached at construction, as a wrapper of each module's ``forward`` (an
    instance attribute; see ``_repair_site.CheckedForward``); :meth:`remove` (or leaving a
    ``with`` block) restores the modules' own ``forward``. Control is applied with
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
        gentle_max_intensity: float | None = None,
        gentle_threshold_scale: float = 1.5,
        max_intensity: float | None = None,
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
        #: Gentle mode's intensity cap: runtime.golden's, unless the deprecated argument set one.
        self.gentle_max_intensity = check_deprecated_cap(
            "gentle_max_intensity", gentle_max_intensity, GENTLE_MAX_INTENSITY
        )
        self.gentle_threshold_scale = check_float(
            "gentle_threshold_scale", gentle_threshold_scale, low=1.0
        )
        #: A ceiling outside gentle mode: None (the controller's max_intensity bounds the
        #: control), unless the deprecated argument set one.
        self.max_intensity = check_deprecated_cap("max_intensity", max_intensity, None)
        self.branchless = branchless
        self.check_every = check_positive_int("check_every", check_every)
        self.escalation_forwards = check_positive_int("escalation_forwards", escalation_forwards)
        self.log = log
        self._sites = make_sites(model, modules)
        self.intensity = 1.0
        self.gentle = True
        self.blend_weight = 0.0
        self.threshold = 0.0
        self.apply_control(1.0, gentle=True)
        self.attach()
        logger.info("GoldenRepair: attached to %s", ", ".join(s.name for s in self._sites))

    # ----------------------------------------------------------------- set-up and control
    def apply_control(self, intensity: float, gentle: bool) -> None:
        """Set repair strength for the next forwards (call at a step boundary).

        ``intensity`` is applied as the control sends it (the controller's settings bound
        it); only a value that is not a finite number ≥ 0 is refused: a negative one is read
        as 0 and a NaN or infinite one as the baseline 1.0 (with a warning). The target's
        blend weight becomes ``min(1, (1 − 1/φ)·intensity)``, full replacement from φ² up;
        gentle mode caps the intensity at 1/φ (``runtime.golden.GENTLE_MAX_INTENSITY``) and
        multiplies the outlier threshold by ``gentle_threshold_scale``.
        """
        intensity = accept_intensity(intensity, "GoldenRepair")
        self.intensity = intensity
        self.gentle = bool(gentle)
        if gentle:
            acting = min(intensity, self.gentle_max_intensity)
        elif self.max_intensity is not None:
            acting = min(intensity, self.max_intensity)
        else:
            acting = intensity
        self.blend_weight = compute_blend_weight(acting)
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
                site.wrapper = CheckedForward(module.forward, self._make_check(site))
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
    def _make_check(self, site: Site):  # noqa: ANN202 - a closure on the hot path
        tensor_type = torch.Tensor
        aminmax = torch.aminmax
        range_check = RANGE
        zscores_clean = check_zscores_clean
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
                    clean = zscores_clean(site, output.detach(), self.threshold)
                if clean:
                    if module.training:
                        site.train_calls += 1
                        if forwards - site.stats_at >= site.stats_interval:
                            site.stats_at = forwards
                            self._update_stats(site, output.detach())
                    return output
            repaired = self._forward(site, module, output)
            return output if repaired is None else repaired

        return check

    def _forward(self, site: Site, module: nn.Module, output: Any) -> torch.Tensor | None:
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            raise_config_error(
                f"GoldenRepair: module '{site.name}' returned {type(output).__name__}, not a "
                "floating-point tensor; attach to modules that return one (argument 'modules')."
            )
        y = output if output.dim() >= 2 else output.unsqueeze(0)
        if site.stats is None:
            init_site(site, y, self.max_repair_entropy_bits)
        if site.z_buffer is None or site.z_buffer.shape != y.shape:
            resize_site(site, y, self.branchless)
        training = module.training
        detect = site.train_calls >= self.warmup_steps
        branchless = site.branchless
        may_be_nonfinite = True
        if not branchless and check_clean_by_range(site, y, detect, self.threshold):
            if training and self._count_training_call(site):
                self._update_stats(site, y.detach())
            return None
        with torch.no_grad():
            if branchless:
                z = torch.addcmul(site.shift_b, y.detach(), site.inv_b, out=site.z_buffer)
            else:
                low, high = compute_zscore_range(site, y.detach())
                z = site.z_buffer
                may_be_nonfinite = not (math.isfinite(low) and math.isfinite(high))
                has_outliers = detect and not (high <= self.threshold and low >= -self.threshold)
                if not (may_be_nonfinite or has_outliers):
                    if detect:
                        site.fast_check = ZSCORES  # the next forwards try this check first
                    if training and self._count_training_call(site):
                        self._update_stats(site, y.detach())
                    return None
                site.check_all_until = site.forwards + self.escalation_forwards
        repaired = blend_fractures(
            site,
            y,
            z,
            detect=detect,
            may_be_nonfinite=may_be_nonfinite,
            threshold=self.threshold,
            blend_weight=self.blend_weight,
            identity_floor=self.identity_floor,
        )
        if training and self._count_training_call(site):
            self._update_stats(site, repaired.detach())
        return repaired if output.dim() >= 2 else repaired.squeeze(0)

    def _count_training_call(self, site: Site) -> bool:
        return count_training_call(site, self.warmup_steps, self.stats_every)

    def _update_stats(self, site: Site, y: torch.Tensor) -> None:
        site.stats_interval = compute_stats_interval(site.train_calls, self.stats_every)
        update_stats(
            site,
            y,
            momentum=self.momentum,
            warmup_steps=self.warmup_steps,
            threshold=self.threshold,
            branchless=self.branchless,
        )

    # ---------------------------------------------------------------------- reading out
    def counts(self) -> dict[str, int]:
        """Repaired elements (non-finite + outliers) per module since the last :meth:`collect`."""
        return count_repairs(self._sites)

    def summary(self) -> dict[str, Any]:
        """Counters and guard margins per module since the last :meth:`collect` (syncs).

        ``unchecked_forwards`` counts forwards that sampling (``check_every``) let through
        without a check; ``spikes`` the outliers set to the threshold band's edge instead
        of blended (they are among ``repairs`` too).
        """
        return self._summarise({site.name: read_site(site) for site in self._sites})

    def _summarise(self, modules: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return summarise(
            modules,
            intensity=self.intensity,
            gentle=self.gentle,
            blend_weight=self.blend_weight,
            threshold_z=self.threshold,
            identity_floor=self.identity_floor,
            check_every=self.check_every,
        )

    def collect(self, step: int) -> list[RepairEvent]:
        """Read and reset the counters; one :class:`RepairEvent` per module that repaired.

        The events cover the forwards since the previous call and are appended to ``log``
        when one was given. This is the only place that reads device counters.
        """
        return self.collect_summary(step)[1]

    def collect_summary(self, step: int) -> tuple[dict[str, Any], list[RepairEvent]]:
        """:meth:`summary` and :meth:`collect` from one read of the counters (a status
        report needs both; reading twice doubled its cost on the training thread)."""
        modules, events = collect_sites(
            self._sites,
            step,
            intensity=self.intensity,
            gentle=self.gentle,
            escalation_forwards=self.escalation_forwards,
        )
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
