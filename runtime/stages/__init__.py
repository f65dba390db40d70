"""Daemon stages: each a function of a StageContext, run and restarted by a supervisor.

The driver stage's names load on first use: it brings brainflow, which the other stages,
and the recorder, LSL bridge and lab tools that import this package, do not need.
"""

from typing import Any

from runtime.stages._controller import ControllerStage
from runtime.stages._features import FeatureStage
from runtime.supervisor import (
    RAISE_ERRORS_ENV,
    StageContext,
    StageFunction,
    SupervisedStage,
    confirm_publishing,
    confirm_subscribed,
)

__all__ = [
    "RAISE_ERRORS_ENV",
    "ControllerStage",
    "DriverStage",
    "FeatureStage",
    "StageContext",
    "StageFunction",
    "SupervisedStage",
    "confirm_publishing",
    "confirm_subscribed",
    "source_settings",
]

_DRIVER_NAMES = ("DriverStage", "source_settings")


def __getattr__(name: str) -> Any:
    if name in _DRIVER_NAMES:
        from runtime.stages import _driver

        return getattr(_driver, name)
    raise AttributeError(f"module 'runtime.stages' has no attribute {name!r}")
