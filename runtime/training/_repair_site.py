"""GoldenRepair's per-module state (a *site*) and the wrapper that puts the check in forward.

A :class:`Site` holds what one repaired module needs between forwards: its running
statistics, the buffers and bounds of the clean checks, the counters and the forward
clock. :class:`CheckedForward` stands in for the module's ``forward``. Both are plain state;
detection (``_repair_detect``), the blend (``_repair_blend``) and the bookkeeping
(``_repair_counters``) work on them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from runtime.training._validate import raise_config_error

# Counter slots of a site (an int64 tensor) and their names in a summary row. SPIKES
# counts the outliers that were replaced by the band's edge instead of blended (a subset of
# OUTLIERS, see _repair_blend).
NONFINITE, OUTLIERS, GUARD_SCALED, ENTROPY_LIMITED, REPAIRED_CALLS, SPIKES = range(6)
COUNTER_NAMES = (
    "nonfinite",
    "outliers",
    "guard_scaled",
    "entropy_limited",
    "repaired_calls",
    "spikes",
)
# Modules whose features are along dim 1 (channels) rather than the last dim.
CHANNEL_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)
# The CPU's clean checks: the batch's global range against the range every feature accepts
# (one pass over the activations), or the range of the batch's z-scores (two passes; exact).
RANGE, ZSCORES = "range", "zscores"


class Site:
    """Per-module state: running statistics (float32) and counters (on the module's device)."""

    def __init__(self, name: str, module: nn.Module) -> None:
        self.name = name
        self.module = module
        self.wrapper: CheckedForward | None = None
        self.previous_forward: Any = None  # an instance forward the wrapper replaced, if any
        self.feature_dim = 1 if isinstance(module, CHANNEL_FIRST) else -1
        self.stats: torch.Tensor | None = None  # [2, F]: running mean, running var
        self.inv_std: torch.Tensor | None = None
        self.shift: torch.Tensor | None = None  # −mean·inv_std, so z = y·inv_std + shift
        self.counters: torch.Tensor | None = None  # int64 [len(COUNTER_NAMES)]
        self.extremes: torch.Tensor | None = None  # [min similarity, max entropy bits]
        self.extremes_reset: torch.Tensor | None = None  # [inf, 0]: extremes after a reset
        self.train_calls = 0  # checked training forwards
        self.forwards = 0  # every forward through the check
        self.unchecked = 0  # forwards passed through unchecked (check_every > 1)
        self.check_all_until = 0  # check every forward up to this forward (escalation)
        self.stats_at = 0  # the forward whose batch last updated the statistics
        self.stats_interval = 1  # forwards between statistics updates (grows to stats_every)
        self.entropy_limit_bits = math.inf
        self.z_buffer: torch.Tensor | None = None
        self.shape: list[int] | None = None  # broadcast shape of per-feature tensors
        self.reduce_dims: list[int] = []
        self.shift_b: torch.Tensor | None = None
        self.version = 0  # bumped whenever the statistics change
        self.band: tuple[float, float] = (0.0, 0.0)  # the range every feature accepts
        self.band_key: tuple[float, int] | None = None
        # Which clean check the CPU fast path takes (RANGE or ZSCORES), or None while it
        # does not apply (warm-up, accelerators, statistics or threshold just changed).
        self.fast_check: str | None = None
        self.dirty = False  # counters may be non-zero (always so on accelerators)
        self.inv_b: torch.Tensor | None = None
        self.branchless = False  # resolved per device at the first forward of a shape


class CheckedForward:
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


def make_sites(model: nn.Module, modules: Iterable[str] | None) -> list[Site]:
    """One site per chosen module: the names given, or every ``nn.Linear`` and convolution."""
    named = dict(model.named_modules())
    if modules is None:
        chosen = [
            n for n, m in named.items() if n and isinstance(m, nn.Linear | nn.modules.conv._ConvNd)
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
    return [Site(name, named[name]) for name in dict.fromkeys(chosen)]
