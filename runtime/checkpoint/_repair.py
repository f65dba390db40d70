"""Golden repair of a state_dict: blend fractures toward their tensor's robust centre.

Each pass scans, then for every selected fracture:

- ``nonfinite`` → the tensor's centre (median of its finite values; 0 if it has none);
- ``outlier`` → ``w / φ + centre · (1 - 1/φ)``: keeps 1/φ ≈ 61.8 % of the weight's distance
  from the centre, so a gross outlier needs several passes (each pass re-scans);
- ``exploding_norm`` / ``vanishing_norm`` → the whole tensor is scaled so that its inlier
  RMS keeps 61.8 % of its distance, in decades, from its role's typical RMS (the blend in
  log scale); the direction of the tensor is kept;
- ``dead_unit`` → not repaired: an all-zero row carries nothing to blend toward, so it is
  reported as ``not_repaired``. Re-initialise or retrain that unit.

Passes run until nothing selected is left to repair, or until ``passes`` (a cap) have
run; ``RepairResult.limit_reached`` says the cap stopped it with repairable fractures left,
and the first hint says how many and which ``--passes`` would finish the job.

Tensors without a selected fracture are passed through untouched (the same objects).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from runtime.checkpoint._detect import (
    Fracture,
    ScanConfig,
    ScanResult,
    TensorFindings,
    json_float,
    scan_tensors,
)
from runtime.errors import ConfigError
from runtime.golden import BLEND_WEIGHT, KEEP_FRACTION, PHI, golden_blend

logger = logging.getLogger("runtime.checkpoint")

#: Share of a fracture's distance from the centre that one blend keeps: 1/φ ≈ 0.618
#: (``runtime.golden.KEEP_FRACTION``, under the name this package has always exported).
KEEP = KEEP_FRACTION

_REPAIRABLE = ("nonfinite", "outlier", "exploding_norm", "vanishing_norm")

#: Pass cap of ``kintsugi golden-repair`` when ``--passes`` is not given: enough for an
#: outlier at any finite float32 value (up to 3.4e38) to come under the default threshold
#: of 50 when the model's typical scale is at least 1e-4 (about 195 passes); a clean or
#: converged checkpoint stops long before. Kept equal to ``runtime.cli._checkpoint``'s
#: copy, which must not import torch (tests/checkpoint/test_repair.py checks).
DEFAULT_MAX_PASSES = 200


@dataclass(frozen=True)
class RepairAction:
    """One change: ``before`` → ``after`` (element value, or tensor RMS for norm kinds)."""

    pass_number: int
    tensor: str
    kind: str
    index: tuple[int, ...] | None
    before: float
    after: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (non-finite floats as strings)."""
        return {
            "pass": self.pass_number,
            "tensor": self.tensor,
            "kind": self.kind,
            "index": None if self.index is None else list(self.index),
            "before": json_float(self.before),
            "after": json_float(self.after),
        }


@dataclass
class RepairResult:
    """What a repair did and what is left.

    ``tensors`` is the full repaired state_dict; ``repaired`` counts blends per kind (an
    outlier blended in two passes counts twice); ``actions`` lists the first
    ``max_per_tensor`` changes per tensor, kind and pass; ``remaining`` is the scan of the
    repaired tensors; ``target`` is the fracture chosen by id, if any, and ``target_fixed``
    whether it is gone. ``passes_limit`` is the cap that was given; ``limit_reached`` is
    True when the cap, not convergence, ended the repair (repairable fractures are left).
    """

    tensors: dict[str, torch.Tensor]
    initial: ScanResult
    remaining: ScanResult
    passes_run: int
    repaired: dict[str, int]
    actions: list[RepairAction]
    not_repaired: list[Fracture]
    target: Fracture | None = None
    target_fixed: bool = True
    passes_limit: int = 1
    limit_reached: bool = False
    hints: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True when what was asked for is fixed: the target, or every fracture."""
        return self.target_fixed if self.target is not None else self.remaining.clean


def repair_tensors(
    tensors: Mapping[str, torch.Tensor],
    config: ScanConfig | None = None,
    *,
    fracture_id: int | None = None,
    passes: int = 1,
) -> RepairResult:
    """Repair every fracture (or the one numbered ``fracture_id`` by a scan) in at most
    ``passes`` scan-and-blend passes.

    Passes stop as soon as nothing selected and repairable is left (a clean input runs none);
    ``passes`` is a cap, and ``RepairResult.limit_reached`` says it was hit with fractures
    left. The input mapping and its tensors are never modified.
    """
    config = config or ScanConfig()
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise ConfigError(f"--passes must be a positive integer; {passes!r} is invalid.")
    work = dict(tensors)
    initial = scan_tensors(work, config)
    target = None if fracture_id is None else initial.by_id(fracture_id)
    if target is not None and target.kind not in _REPAIRABLE:
        raise ConfigError(
            f"--fracture-id {fracture_id} is a {target.kind} in {target.tensor!r} (row "
            f"{target.index[0] if target.index else '?'}): a dead unit's weights are all "
            "near zero, so there is nothing to blend toward. Re-initialise or retrain that "
            "unit, or pick another id."
        )
    repaired = dict.fromkeys(_REPAIRABLE, 0)
    actions: list[RepairAction] = []
    scan = initial
    passes_run = 0
    for pass_number in range(1, passes + 1):
        changed = _apply_pass(work, scan, target, pass_number, repaired, actions, config)
        if not changed:
            break
        passes_run = pass_number
        scan = scan_tensors(work, config)
        if _target_gone(scan, target):
            break
    result = RepairResult(
        tensors=work,
        initial=initial,
        remaining=scan,
        passes_run=passes_run,
        repaired=repaired,
        actions=actions,
        not_repaired=(
            [f for f in scan.fractures if f.kind not in _REPAIRABLE] if target is None else []
        ),
        target=target,
        target_fixed=_target_gone(scan, target) if target is not None else scan.clean,
        passes_limit=passes,
        limit_reached=passes_run == passes and _repairable_left(scan, target),
    )
    result.hints = _hints(result, config)
    logger.info(
        "golden repair: %d passes (cap %d), %d blends, %d fractures remain",
        passes_run,
        passes,
        sum(repaired.values()),
        scan.count,
    )
    return result


def _apply_pass(
    work: dict[str, torch.Tensor],
    scan: ScanResult,
    target: Fracture | None,
    pass_number: int,
    repaired: dict[str, int],
    actions: list[RepairAction],
    config: ScanConfig,
) -> bool:
    changed = False
    done_aliases: dict[tuple[Any, ...], torch.Tensor] = {}
    for finding in scan.tensors:
        nonfinite, outliers, norm = _select(finding, target)
        if nonfinite.size == 0 and outliers.size == 0 and not norm:
            continue
        original = work[finding.name]
        alias = _alias_key(original)
        if alias in done_aliases:  # tied weights: repair once, keep them tied
            work[finding.name] = done_aliases[alias]
            continue
        values = original.detach().reshape(-1).to(torch.float64).cpu().numpy().copy()
        before = values.copy()
        centre = finding.centre if math.isfinite(finding.centre) else 0.0
        values[nonfinite] = centre
        values[outliers] = golden_blend(values[outliers], centre)
        if norm:  # the blend in log scale: the distance in decades keeps 1/φ
            values *= 10.0 ** (-BLEND_WEIGHT * finding.norm_decades)
        new = torch.from_numpy(values.reshape(finding.shape)).to(original.dtype)
        after = new.reshape(-1).to(torch.float64).numpy()
        work[finding.name] = new
        done_aliases[alias] = new
        changed = True
        _record(finding, pass_number, "nonfinite", nonfinite, before, after, actions, config)
        _record(finding, pass_number, "outlier", outliers, before, after, actions, config)
        repaired["nonfinite"] += int(nonfinite.size)
        repaired["outlier"] += int(outliers.size)
        if norm:
            kind = finding.norm_kind or "exploding_norm"
            repaired[kind] += 1
            rms_after = finding.rms * 10.0 ** (-BLEND_WEIGHT * finding.norm_decades)
            actions.append(
                RepairAction(pass_number, finding.name, kind, None, finding.rms, rms_after)
            )
    return changed


def _select(
    finding: TensorFindings, target: Fracture | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The element indices and the norm flag this pass repairs in ``finding``."""
    none = np.zeros(0, dtype=np.int64)
    if target is None:
        return finding.nonfinite, finding.outliers, finding.norm_kind is not None
    if target.tensor != finding.name:
        return none, none, False
    if target.kind in ("exploding_norm", "vanishing_norm"):
        return none, none, finding.norm_kind == target.kind
    flat = _flat_index(target.index or (), finding.shape)
    pool = finding.nonfinite if target.kind == "nonfinite" else finding.outliers
    hit = pool[pool == flat]
    return (hit, none, False) if target.kind == "nonfinite" else (none, hit, False)


def _repairable_left(scan: ScanResult, target: Fracture | None) -> bool:
    """Whether another pass would blend something (the target, or any repairable kind)."""
    if target is not None:
        return not _target_gone(scan, target)
    return any(t.nonfinite.size or t.outliers.size or t.norm_kind for t in scan.tensors)


def _target_gone(scan: ScanResult, target: Fracture | None) -> bool:
    if target is None:
        return False
    finding = next(t for t in scan.tensors if t.name == target.tensor)
    nonfinite, outliers, norm = _select(finding, target)
    return nonfinite.size == 0 and outliers.size == 0 and not norm


def _record(
    finding: TensorFindings,
    pass_number: int,
    kind: str,
    indices: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    actions: list[RepairAction],
    config: ScanConfig,
) -> None:
    for flat in indices[: config.max_per_tensor]:
        index = tuple(int(i) for i in np.unravel_index(int(flat), finding.shape))
        actions.append(
            RepairAction(
                pass_number, finding.name, kind, index, float(before[flat]), float(after[flat])
            )
        )


def _hints(result: RepairResult, config: ScanConfig) -> list[str]:
    """Plain-language notes on what is left: the cap that stopped the repair (how many
    fractures remain and the ``--passes`` that would finish), and unrepairable dead units."""
    hints: list[str] = []
    if result.limit_reached:
        hints.append(_limit_hint(result, config))
    if result.not_repaired:
        hints.append(
            f"{len(result.not_repaired)} dead unit(s) are not repaired: an all-zero row has "
            "nothing to blend toward; re-initialise or retrain those units."
        )
    return hints


def _limit_hint(result: RepairResult, config: ScanConfig) -> str:
    """Say that ``--passes`` ran out, what is left, and which ``--passes`` would finish."""
    z_left: list[float] = []
    decades_left: list[float] = []
    nonfinite_left = 0
    for finding in result.remaining.tensors:
        nonfinite, outliers, norm = _select(finding, result.target)
        nonfinite_left += int(nonfinite.size)
        if outliers.size:
            z_left += finding.outlier_z[np.isin(finding.outliers, outliers)].tolist()
        if norm:
            decades_left.append(abs(finding.norm_decades))
    more = 1
    parts = []
    if z_left:
        z_max = max(z_left)
        more = max(more, math.ceil(math.log(z_max / config.threshold) / math.log(PHI)))
        parts.append(f"{len(z_left):,} outlier(s), the farthest at robust z {z_max:.3g}")
    if decades_left:
        d_max = max(decades_left)
        more = max(more, math.ceil(math.log(d_max / config.norm_decades) / math.log(PHI)))
        parts.append(f"{len(decades_left)} tensor norm(s) up to {d_max:.2f} decades from typical")
    if nonfinite_left:
        parts.append(f"{nonfinite_left:,} non-finite value(s)")
    left = len(z_left) + len(decades_left) + nonfinite_left
    what = "the chosen fracture" if result.target is not None else f"{left:,} fracture(s)"
    kept = "an outlier's distance from its tensor's centre" if z_left else ""
    if decades_left:
        kept = " and ".join(filter(None, (kept, "a norm's distance from typical, in decades")))
    why = f"each pass keeps 61.8 % of {kept}, so " if kept else ""
    return (
        f"stopped at the --passes limit of {result.passes_limit} with {what} still to "
        f"repair ({'; '.join(parts)}); {why}about {more} more pass(es) are needed. Raise "
        f"the limit: rerun with --passes {result.passes_run + more}."
    )


def _flat_index(index: tuple[int, ...], shape: tuple[int, ...]) -> int:
    if not shape:
        return 0
    return int(np.ravel_multi_index(index, shape))


def _alias_key(tensor: torch.Tensor) -> tuple[Any, ...]:
    return (
        tensor.untyped_storage().data_ptr(),
        tensor.storage_offset(),
        tuple(tensor.shape),
        tuple(tensor.stride()),
        tensor.dtype,
    )
