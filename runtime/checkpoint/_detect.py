"""Find fractures in a state_dict: non-finite weights, outliers, wild norms, dead units.

Kinds (``FRACTURE_KINDS``), each judged robustly so one broken value cannot hide another:

- ``nonfinite``: a NaN or ±inf element (spelled ``non_finite`` before; the repair-log
  reader still reads that spelling).
- ``outlier``: an element whose robust z, ``|w - median| / scale``, exceeds the threshold.
  ``scale`` is the tensor's ``1.4826 * MAD``, floored at the model's typical scale (the
  median of that quantity over tensors of at least ``min_numel`` elements). The floor is
  what keeps tensors that start constant (LayerNorm weight = 1, zero biases) quiet: their
  own MAD is 0 when fresh and tiny after a little training, so their own z is meaningless.
  A 1-element tensor cannot be an outlier of itself.
- ``exploding_norm`` / ``vanishing_norm``: the RMS of a tensor's inlier elements (after
  setting aside its non-finite and outlier elements, which are reported on their own) is
  more than ``10**norm_decades`` times above / below the typical RMS of tensors with the
  same role (the last name component: ``weight``, ``bias``, ``running_var``...; the whole
  model when fewer than 3 share it). All-zero tensors are not judged (zero-initialised
  biases, LoRA B matrices and zero-convs start that way).
- ``dead_unit``: a row (dim 0: an output unit or channel) of a tensor with 2+ dimensions
  whose largest magnitude is below ``dead_ratio`` times the median row's, while the median
  row is not zero. A lone, exactly zero row that looks like ``nn.Embedding(padding_idx=...)``
  (any row of a tensor named with ``emb``, ``wte`` or ``wpe``; row 0, 1 or the last of any
  other 2-D tensor) is not reported: PyTorch zeroes that row on purpose.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from runtime.checkpoint._defaults import (
    DEFAULT_MAX_PER_TENSOR,
    DEFAULT_NORM_DECADES,
    DEFAULT_THRESHOLD,
)
from runtime.checkpoint._stats import RobustStats, compute_rms, compute_robust_stats, to_flat_numpy
from runtime.errors import ConfigError

logger = logging.getLogger("runtime.checkpoint")

FRACTURE_KINDS: tuple[str, ...] = (
    "nonfinite",
    "outlier",
    "exploding_norm",
    "vanishing_norm",
    "dead_unit",
)

_EMBEDDING_NAME = re.compile(r"emb|wte|wpe", re.IGNORECASE)
_ROLE_MIN_MEMBERS = 3


@dataclass(frozen=True)
class ScanConfig:
    """Settings of a fracture scan (see the module docstring for what each one judges)."""

    threshold: float = DEFAULT_THRESHOLD
    norm_decades: float = DEFAULT_NORM_DECADES
    max_per_tensor: int = DEFAULT_MAX_PER_TENSOR
    dead_ratio: float = 1e-3
    min_numel: int = 16
    stats_sample: int = 1 << 20

    def __post_init__(self) -> None:
        _check_positive_finite("threshold", self.threshold, "--threshold 50")
        _check_positive_finite("norm_decades", self.norm_decades, "--norm-decades 3")
        if not 0 < self.dead_ratio < 1:
            raise ConfigError(
                f"The argument 'dead_ratio' must be in (0, 1); {self.dead_ratio!r} is invalid."
            )
        for name in ("max_per_tensor", "min_numel", "stats_sample"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"The argument '{name}' must be a positive integer; {value!r} is invalid."
                )


@dataclass(frozen=True)
class Fracture:
    """One reported fracture.

    ``index`` is the element's index (one int per dimension) for ``nonfinite`` and
    ``outlier``, ``(row,)`` for ``dead_unit`` and ``None`` for the norm kinds. ``value`` is
    the element's value, the row's largest magnitude, or the tensor's inlier RMS. ``score``
    is the robust z (``outlier``), the signed distance in decades from the role's typical
    RMS (norm kinds), the row's magnitude relative to the median row (``dead_unit``), and
    ``None`` for ``nonfinite``.
    """

    id: int
    tensor: str
    kind: str
    index: tuple[int, ...] | None
    value: float
    score: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; non-finite floats become the strings "nan", "inf", "-inf"."""
        return {
            "id": self.id,
            "tensor": self.tensor,
            "kind": self.kind,
            "index": None if self.index is None else list(self.index),
            "value": json_float(self.value),
            "score": None if self.score is None else json_float(self.score),
        }


@dataclass
class TensorFindings:
    """Everything found in one tensor, uncapped (repair works from these, not the list)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    centre: float
    scale: float
    rms: float
    nonfinite: np.ndarray
    outliers: np.ndarray
    outlier_z: np.ndarray
    dead_rows: np.ndarray
    dead_row_max: np.ndarray
    dead_typical: float = 0.0
    norm_kind: str | None = None
    norm_decades: float = 0.0

    @property
    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    def counts(self) -> dict[str, int]:
        """Fractures of each kind in this tensor."""
        counts = {
            "nonfinite": int(self.nonfinite.size),
            "outlier": int(self.outliers.size),
            "exploding_norm": int(self.norm_kind == "exploding_norm"),
            "vanishing_norm": int(self.norm_kind == "vanishing_norm"),
            "dead_unit": int(self.dead_rows.size),
        }
        return counts

    @property
    def total(self) -> int:
        """Fractures of all kinds in this tensor."""
        return sum(self.counts().values())


@dataclass
class ScanResult:
    """The outcome of a scan: the capped, numbered list and the full per-tensor findings."""

    config: ScanConfig
    tensors: list[TensorFindings]
    fractures: list[Fracture]
    omitted: list[dict[str, Any]]
    model_scale: float
    skipped_non_float: list[str] = field(default_factory=list)
    skipped_non_tensor: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """All fractures found, including those beyond ``max_per_tensor`` not listed."""
        return sum(t.total for t in self.tensors)

    @property
    def clean(self) -> bool:
        """True when no fracture of any kind was found."""
        return self.count == 0

    def by_id(self, fracture_id: int) -> Fracture:
        """The listed fracture with that id; ConfigError naming the valid range otherwise."""
        for fracture in self.fractures:
            if fracture.id == fracture_id:
                return fracture
        if not self.fractures:
            raise ConfigError(
                f"--fracture-id {fracture_id} does not exist: the scan found no fractures."
            )
        raise ConfigError(
            f"--fracture-id {fracture_id} does not exist: the scan lists ids 1.."
            f"{len(self.fractures)}; run `kintsugi fracture-detect` to see them."
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``fracture-detect --json`` prints."""
        return {
            "count": self.count,
            "reported": len(self.fractures),
            "fractures": [f.to_dict() for f in self.fractures],
            "omitted": self.omitted,
            "threshold": self.config.threshold,
            "norm_decades": self.config.norm_decades,
            "max_per_tensor": self.config.max_per_tensor,
            "tensors_scanned": len(self.tensors),
            "elements_scanned": sum(t.numel for t in self.tensors),
            "model_scale": self.model_scale,
            "skipped": {
                "non_tensor": len(self.skipped_non_tensor),
                "non_float": len(self.skipped_non_float),
            },
            "tensors": [
                {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "fractures": t.total}
                for t in self.tensors
            ],
        }


def scan_tensors(
    tensors: Mapping[str, torch.Tensor],
    config: ScanConfig | None = None,
    skipped_non_tensor: list[str] | None = None,
) -> ScanResult:
    """Scan every floating-point tensor of a state_dict for fractures.

    Integer, boolean and complex tensors (``num_batches_tracked``, masks stored as bool)
    are skipped and listed in ``skipped_non_float``.
    """
    config = config or ScanConfig()
    arrays: dict[str, np.ndarray] = {}
    stats: dict[str, RobustStats] = {}
    shapes: dict[str, tuple[tuple[int, ...], str]] = {}
    skipped_non_float: list[str] = []
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            skipped_non_float.append(name)
            continue
        flat = to_flat_numpy(tensor)
        arrays[name] = flat
        shapes[name] = (tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."))
        finite_mask = np.isfinite(flat)
        finite = flat if finite_mask.all() else flat[finite_mask]
        stats[name] = compute_robust_stats(finite, config.min_numel, config.stats_sample)
    model_scale = _model_scale(stats.values(), config.min_numel)
    findings = [
        _scan_one(name, arrays[name], *shapes[name], stats[name], model_scale, config)
        for name in arrays
    ]
    _judge_norms(findings, config.norm_decades)
    fractures, omitted = _number(findings, arrays, config.max_per_tensor)
    logger.info(
        "fracture scan: %d tensors, %d fractures",
        len(findings),
        sum(f.total for f in findings),
    )
    return ScanResult(
        config=config,
        tensors=findings,
        fractures=fractures,
        omitted=omitted,
        model_scale=model_scale,
        skipped_non_float=skipped_non_float,
        skipped_non_tensor=list(skipped_non_tensor or []),
    )


def json_float(value: float) -> float | str:
    """``value`` for JSON: finite floats as numbers, NaN and infinities as strings."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _model_scale(all_stats: Any, min_numel: int) -> float:
    """Median spread of the tensors big enough to have one; 1.0 when none has."""
    spreads = [s.spread for s in all_stats if s.n_finite >= min_numel and s.spread > 0]
    return float(np.median(spreads)) if spreads else 1.0


def _scan_one(
    name: str,
    flat: np.ndarray,
    shape: tuple[int, ...],
    dtype: str,
    stats: RobustStats,
    model_scale: float,
    config: ScanConfig,
) -> TensorFindings:
    finite = np.isfinite(flat)
    nonfinite = np.flatnonzero(~finite)
    scale = max(stats.spread, model_scale)
    with np.errstate(over="ignore", invalid="ignore"):
        far = np.abs(flat - flat.dtype.type(stats.centre)) > config.threshold * scale
    outlier_mask = far & finite
    outliers = np.flatnonzero(outlier_mask)
    outlier_z = np.abs(flat[outliers].astype(np.float64) - stats.centre) / scale
    inliers = flat[finite & ~outlier_mask] if (nonfinite.size or outliers.size) else flat
    dead_rows, dead_row_max, dead_typical = _find_dead_rows(name, flat, shape, config.dead_ratio)
    return TensorFindings(
        name=name,
        shape=shape,
        dtype=dtype,
        centre=stats.centre,
        scale=scale,
        rms=compute_rms(inliers),
        nonfinite=nonfinite,
        outliers=outliers,
        outlier_z=outlier_z,
        dead_rows=dead_rows,
        dead_row_max=dead_row_max,
        dead_typical=dead_typical,
    )


def _find_dead_rows(
    name: str, flat: np.ndarray, shape: tuple[int, ...], dead_ratio: float
) -> tuple[np.ndarray, np.ndarray, float]:
    empty = np.zeros(0, dtype=np.int64)
    if len(shape) < 2 or shape[0] < 2 or flat.size == 0:
        return empty, np.zeros(0), 0.0
    rows = flat.reshape(shape[0], -1)
    with np.errstate(invalid="ignore"):
        row_max = np.max(np.abs(rows), axis=1).astype(np.float64)  # NaN rows stay NaN
    finite_rows = row_max[np.isfinite(row_max)]
    typical = float(np.median(finite_rows)) if finite_rows.size else 0.0
    if not typical > 0:
        return empty, np.zeros(0), 0.0
    with np.errstate(invalid="ignore"):
        dead = np.flatnonzero(row_max <= dead_ratio * typical)
    if dead.size == 1 and row_max[dead[0]] == 0 and _is_padding_row(name, shape, int(dead[0])):
        return empty, np.zeros(0), typical
    return dead, row_max[dead], typical


def _is_padding_row(name: str, shape: tuple[int, ...], row: int) -> bool:
    """Whether a lone all-zero row looks like ``nn.Embedding(padding_idx=...)``'s.

    Any row of a tensor named like an embedding; otherwise row 0, 1 or the last of a 2-D
    tensor (the usual padding indices), since ``nn.Sequential(nn.Embedding(...))`` names
    its table ``0.weight``.
    """
    if _EMBEDDING_NAME.search(name):
        return True
    return len(shape) == 2 and row in (0, 1, shape[0] - 1)


def _judge_norms(findings: list[TensorFindings], norm_decades: float) -> None:
    """Mark tensors whose inlier RMS is ``norm_decades`` from their role's typical RMS."""
    log_rms = {f.name: math.log10(f.rms) for f in findings if f.rms > 0 and math.isfinite(f.rms)}
    if not log_rms:
        return
    by_role: dict[str, list[float]] = {}
    for name, value in log_rms.items():
        by_role.setdefault(_role(name), []).append(value)
    model_typical = float(np.median(list(log_rms.values())))
    for finding in findings:
        if finding.name not in log_rms:
            continue
        peers = by_role[_role(finding.name)]
        typical = float(np.median(peers)) if len(peers) >= _ROLE_MIN_MEMBERS else model_typical
        decades = log_rms[finding.name] - typical
        finding.norm_decades = decades
        if decades > norm_decades:
            finding.norm_kind = "exploding_norm"
        elif decades < -norm_decades:
            finding.norm_kind = "vanishing_norm"


def _role(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _number(
    findings: list[TensorFindings], arrays: dict[str, np.ndarray], cap: int
) -> tuple[list[Fracture], list[dict[str, Any]]]:
    """The capped fracture list with ids 1..n, and what each cap left out."""
    fractures: list[Fracture] = []
    omitted: list[dict[str, Any]] = []

    def add(tensor: TensorFindings, kind: str, index: Any, value: float, score: Any) -> None:
        fractures.append(Fracture(len(fractures) + 1, tensor.name, kind, index, value, score))

    for tensor in findings:
        flat = arrays[tensor.name]
        shape = tensor.shape
        for kind, indices, scores in (
            ("nonfinite", tensor.nonfinite, None),
            ("outlier", tensor.outliers, tensor.outlier_z),
        ):
            for position, flat_index in enumerate(indices[:cap]):
                score = None if scores is None else float(scores[position])
                add(tensor, kind, _unravel(int(flat_index), shape), float(flat[flat_index]), score)
            if indices.size > cap:
                omitted.append(_omission(tensor.name, kind, int(indices.size), cap))
        if tensor.norm_kind is not None:
            add(tensor, tensor.norm_kind, None, tensor.rms, tensor.norm_decades)
        for position, row in enumerate(tensor.dead_rows[:cap]):
            value = float(tensor.dead_row_max[position])
            add(tensor, "dead_unit", (int(row),), value, value / tensor.dead_typical)
        if tensor.dead_rows.size > cap:
            omitted.append(_omission(tensor.name, "dead_unit", int(tensor.dead_rows.size), cap))
    return fractures, omitted


def _omission(tensor: str, kind: str, count: int, cap: int) -> dict[str, Any]:
    return {"tensor": tensor, "kind": kind, "count": count, "reported": cap}


def _unravel(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    if not shape:
        return ()
    return tuple(int(i) for i in np.unravel_index(flat_index, shape))


def _check_positive_finite(name: str, value: float, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"The argument '{name}' must be a number, e.g. {example}; got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"The argument '{name}' must be a positive finite number, e.g. {example}; "
            f"{value!r} is invalid."
        )
