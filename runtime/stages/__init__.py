"""Daemon stages: each a function of a StageContext, run and restarted by a supervisor."""

from runtime.stages._base import RAISE_ERRORS_ENV, StageContext, SupervisedStage
from runtime.stages._controller import ControllerStage
from runtime.stages._driver import DriverStage, RawStream, plan_raw_streams, source_settings
from runtime.stages._features import FeatureStage

__all__ = [
    "RAISE_ERRORS_ENV",
    "ControllerStage",
    "DriverStage",
    "FeatureStage",
    "RawStream",
    "StageContext",
    "SupervisedStage",
    "plan_raw_streams",
    "source_settings",
]
