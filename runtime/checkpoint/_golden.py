"""golden-repair end to end: load, repair, check on the model class, write, re-read.

The input file is only ever read. The repaired checkpoint is checked before it is written
(strict ``load_state_dict`` into ``--model-class`` and a forward pass, when given) and
after (the written file is loaded again with ``weights_only=True`` and compared tensor by
tensor with what was meant to be written).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from runtime.checkpoint._detect import ScanConfig
from runtime.checkpoint._errors import CheckpointError
from runtime.checkpoint._load import load_checkpoint, save_checkpoint
from runtime.checkpoint._repair import RepairResult, repair_tensors
from runtime.checkpoint._verify import ForwardCheck, build_model, check_forward, load_into
from runtime.errors import ConfigError


@dataclass(frozen=True)
class ModelCheck:
    """How to check the repaired weights on the user's model (all optional)."""

    model_class: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, ...] | None = None
    input_dtype: str = "float32"
    input_high: int = 2


@dataclass
class GoldenRepairReport:
    """The repair, the checks and where the result went."""

    input: Path
    output: Path
    repair: RepairResult
    passes_requested: int
    reloaded: bool
    model_class: str | None = None
    forward_before: ForwardCheck | None = None
    forward_after: ForwardCheck | None = None

    @property
    def ok(self) -> bool:
        """The asked-for fractures are gone and the forward pass (if run) is finite."""
        forward_ok = self.forward_after is None or self.forward_after.finite
        return self.repair.done and forward_ok and self.reloaded

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``golden-repair --json`` prints."""
        repair = self.repair
        return {
            "input": str(self.input),
            "output": str(self.output),
            "fracture_id": None if repair.target is None else repair.target.id,
            "target": None if repair.target is None else repair.target.to_dict(),
            "target_fixed": repair.target_fixed if repair.target is not None else None,
            "passes_requested": self.passes_requested,
            "passes_run": repair.passes_run,
            "found": repair.initial.count,
            "repaired": {
                "count": sum(repair.repaired.values()),
                "by_kind": repair.repaired,
                "actions": [a.to_dict() for a in repair.actions],
            },
            "not_repaired": [f.to_dict() for f in repair.not_repaired],
            "remaining": {
                "count": repair.remaining.count,
                "fractures": [f.to_dict() for f in repair.remaining.fractures],
                "omitted": repair.remaining.omitted,
            },
            "checks": {
                "reloaded": self.reloaded,
                "model_class": self.model_class,
                "strict_load": None if self.model_class is None else True,
                "forward_before": _describe(self.forward_before),
                "forward_after": _describe(self.forward_after),
            },
            "hints": repair.hints,
            "ok": self.ok,
        }


def golden_repair(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ScanConfig | None = None,
    *,
    fracture_id: int | None = None,
    passes: int = 1,
    check: ModelCheck | None = None,
) -> GoldenRepairReport:
    """Repair ``source`` into ``output`` (never the same file) and check the result."""
    source_path, output_path = Path(source), Path(output)
    _refuse_same_file(source_path, output_path)
    check = check or ModelCheck()
    if check.input_shape is not None and check.model_class is None:
        raise ConfigError(
            "--input-shape needs --model-class: the forward pass runs on an instance of your "
            "model, e.g. --model-class mypackage.models:Net --input-shape 1,16."
        )
    checkpoint = load_checkpoint(source_path)
    result = repair_tensors(checkpoint.tensors, config, fracture_id=fracture_id, passes=passes)
    before = after = None
    if check.model_class is not None:
        model = build_model(check.model_class, check.model_kwargs)
        if check.input_shape is not None:
            load_into(model, checkpoint.tensors, check.model_class)
            before = check_forward(model, check.input_shape, check.input_dtype, check.input_high)
        load_into(model, result.tensors, check.model_class)
        if check.input_shape is not None:
            after = check_forward(model, check.input_shape, check.input_dtype, check.input_high)
    changed = {
        name: tensor
        for name, tensor in result.tensors.items()
        if tensor is not checkpoint.tensors[name]
    }
    save_checkpoint(checkpoint, changed, output_path)
    reloaded = _reload_matches(output_path, result.tensors)
    return GoldenRepairReport(
        input=source_path,
        output=output_path,
        repair=result,
        passes_requested=passes,
        reloaded=reloaded,
        model_class=check.model_class,
        forward_before=before,
        forward_after=after,
    )


def _refuse_same_file(source: Path, output: Path) -> None:
    same = output.resolve() == source.resolve()
    if not same and output.exists() and source.exists():
        same = os.path.samefile(output, source)
    if same:
        raise ConfigError(
            f"--output {str(output)!r} is the same file as --input {str(source)!r}; the input "
            f"is never modified. Give a new path, e.g. --output {source.stem}.repaired.pt."
        )


def _reload_matches(path: Path, expected: dict[str, torch.Tensor]) -> bool:
    reloaded = load_checkpoint(path).tensors
    if set(reloaded) != set(expected):
        raise CheckpointError(
            f"{str(path)!r} was written but reads back with different tensor names; the disk "
            "may be full or the file replaced while writing."
        )
    return all(_same(reloaded[name], tensor) for name, tensor in expected.items())


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    if not a.is_floating_point():
        return False
    return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())


def _describe(check: ForwardCheck | None) -> str | None:
    return None if check is None else check.describe()
