"""Checkpoint fracture tools: scan a PyTorch state_dict, repair it, draw it.

``kintsugi fracture-detect``, ``golden-repair`` and ``art-therapy`` are thin wrappers over
these names; see ``docs/checkpoint-tools.md``. The names are imported on first use, so
``import runtime.checkpoint`` (and the CLI's ``--help``) does not import torch or
matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtime.checkpoint._defaults import (
    DEFAULT_MAX_PER_TENSOR,
    DEFAULT_NORM_DECADES,
    DEFAULT_PASSES,
    DEFAULT_THRESHOLD,
)

if TYPE_CHECKING:
    from runtime.checkpoint._detect import (
        FRACTURE_KINDS,
        Fracture,
        ScanConfig,
        ScanResult,
        TensorFindings,
        scan_tensors,
    )
    from runtime.checkpoint._errors import CheckpointError, RepairLogError
    from runtime.checkpoint._golden import GoldenRepairReport, ModelCheck, golden_repair
    from runtime.checkpoint._load import Checkpoint, load_checkpoint, save_checkpoint
    from runtime.checkpoint._render import ArtResult, render_art
    from runtime.checkpoint._repair import KEEP, PHI, RepairResult, repair_tensors
    from runtime.checkpoint._repair_log import (
        RepairLogData,
        RepairRecord,
        read_json_lines,
        read_repair_log,
    )
    from runtime.checkpoint._report import format_repair, format_scan
    from runtime.checkpoint._verify import parse_input_shape, parse_model_kwargs

_LAZY = {
    "FRACTURE_KINDS": "_detect",
    "Fracture": "_detect",
    "ScanConfig": "_detect",
    "ScanResult": "_detect",
    "TensorFindings": "_detect",
    "scan_tensors": "_detect",
    "CheckpointError": "_errors",
    "RepairLogError": "_errors",
    "GoldenRepairReport": "_golden",
    "ModelCheck": "_golden",
    "golden_repair": "_golden",
    "Checkpoint": "_load",
    "load_checkpoint": "_load",
    "save_checkpoint": "_load",
    "ArtResult": "_render",
    "render_art": "_render",
    "KEEP": "_repair",
    "PHI": "_repair",
    "RepairResult": "_repair",
    "repair_tensors": "_repair",
    "RepairLogData": "_repair_log",
    "RepairRecord": "_repair_log",
    "read_repair_log": "_repair_log",
    "read_json_lines": "_repair_log",
    "format_repair": "_report",
    "format_scan": "_report",
    "parse_input_shape": "_verify",
    "parse_model_kwargs": "_verify",
}

__all__ = [
    "ArtResult",
    "Checkpoint",
    "CheckpointError",
    "DEFAULT_MAX_PER_TENSOR",
    "DEFAULT_NORM_DECADES",
    "DEFAULT_PASSES",
    "DEFAULT_THRESHOLD",
    "FRACTURE_KINDS",
    "Fracture",
    "GoldenRepairReport",
    "KEEP",
    "ModelCheck",
    "PHI",
    "RepairLogData",
    "RepairLogError",
    "RepairRecord",
    "RepairResult",
    "ScanConfig",
    "ScanResult",
    "TensorFindings",
    "format_repair",
    "format_scan",
    "golden_repair",
    "load_checkpoint",
    "parse_input_shape",
    "parse_model_kwargs",
    "read_json_lines",
    "read_repair_log",
    "render_art",
    "repair_tensors",
    "save_checkpoint",
    "scan_tensors",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime.checkpoint' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"runtime.checkpoint.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
