"""The torch side: actuators that apply control to a model, and their bookkeeping.

* :class:`GoldenRepair` detects fractured activations (non-finite, |z| outliers) and blends
  them toward the running mean with golden-ratio weights, under identity and entropy guards.
* :class:`VWPR` is the value-weighted pathway reinforcement optimiser.
* :class:`RepairLog` keeps a bounded log of repair events (JSONL, summary, plot).
* :class:`Biofeedback` applies a client's control at step boundaries and publishes
  ``model.status``; :class:`DistributedControl` makes every rank apply the same control at
  the same step.
* ``Biofeedback(..., log=DIR)`` writes the step-aligned log ``DIR/training.jsonl``
  (:func:`read_training_log` reads it as :class:`TrainingStep` lines);
  :class:`LockstepControl` (``follow=``) reproduces a logged job beside a replay.
* ``BiofeedbackCallback`` (needs the optional ``lightning`` package) does the same in a
  PyTorch Lightning ``Trainer``.

This package (and ``runtime.checkpoint``) is where torch is imported; the daemon never
imports it.
"""

from __future__ import annotations

from typing import Any

from runtime.golden import BLEND_WEIGHT, KEEP_FRACTION, PHI
from runtime.training._biofeedback import Biofeedback
from runtime.training._distributed import (
    DistributedControl,
    decode_control,
    encode_control,
    gloo_process_group,
)
from runtime.training._lockstep import LockstepControl, LockstepTimeoutError
from runtime.training._repair import GoldenRepair
from runtime.training._repair_log import RepairEvent, RepairLog
from runtime.training._session_log import (
    TRAINING_LOG_FILE,
    TrainingLog,
    TrainingLogError,
    TrainingStep,
    first_difference,
    read_training_log,
)
from runtime.training._source import ControlSource
from runtime.training._vwpr import VWPR

__all__ = [
    "BLEND_WEIGHT",
    "KEEP_FRACTION",
    "PHI",
    "TRAINING_LOG_FILE",
    "VWPR",
    "Biofeedback",
    "BiofeedbackCallback",
    "ControlSource",
    "DistributedControl",
    "GoldenRepair",
    "LockstepControl",
    "LockstepTimeoutError",
    "RepairEvent",
    "RepairLog",
    "TrainingLog",
    "TrainingLogError",
    "TrainingStep",
    "decode_control",
    "encode_control",
    "first_difference",
    "gloo_process_group",
    "read_training_log",
]


def __getattr__(name: str) -> Any:
    # The Lightning callback imports lightning, an optional extra: load it on first use.
    if name == "BiofeedbackCallback":
        from runtime.training._lightning import BiofeedbackCallback

        return BiofeedbackCallback
    raise AttributeError(f"module 'runtime.training' has no attribute {name!r}")
