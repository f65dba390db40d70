"""How every stage runs: its context (bus endpoints, stop event, readiness), the supervisor
that restarts it after a failure, and the handshakes a stage does with the broker at start.

A layer below every stage: the daemon's stages (``runtime.stages``), the recorder, the LSL
bridge, the clock stages and the replay watcher all build on it, and it imports none of
them, so none of them has to import another's package to run.
"""

from runtime.supervisor._stage import (
    RAISE_ERRORS_ENV,
    StageContext,
    StageFunction,
    SupervisedStage,
    bus_counters,
    confirm_publishing,
    confirm_subscribed,
)

__all__ = [
    "RAISE_ERRORS_ENV",
    "StageContext",
    "StageFunction",
    "SupervisedStage",
    "bus_counters",
    "confirm_publishing",
    "confirm_subscribed",
]
