"""Daemon stages: each a function of a StageContext, run and restarted by a supervisor."""

from runtime.stages._base import (
    RAISE_ERRORS_ENV,
    StageContext,
    StageFunction,
    SupervisedStage,
    confirm_publishing,
    confirm_subscribed,
)
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
    "StageFunction",
    "SupervisedStage",
    "confirm_publishing",
    "confirm_subscribed",
    "plan_raw_streams",
    "source_settings",
]
