"""The one way the pipeline's stages are built, started and stopped.

The daemon and the bench's injected pipeline both run the same stages, each supervised in
its own thread: the controller, the feature stage, any extra stages (recorder, LSL bridge,
a replay's watcher), and a *source* that publishes ``raw.*`` (the driver stage, or a
stand-in in its place). The source runs under the name ``driver``, so it reports on
``status.driver`` as the driver does. Subscribers start first and are confirmed at the
broker before the source starts, so no sample is published before the feature stage can
receive it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import zmq

from runtime.config import Config
from runtime.errors import KintsugiError
from runtime.stages import (
    ControllerStage,
    FeatureStage,
    StageContext,
    StageFunction,
    SupervisedStage,
)

__all__ = [
    "SOURCE_STAGE",
    "StartupError",
    "build_stages",
    "start_subscribers",
    "stop_stages",
]

logger = logging.getLogger("runtime.daemon")

#: The name the source stage runs under (its status topic is ``status.driver``).
SOURCE_STAGE = "driver"

#: Seconds each non-source stage has to become ready (subscribed at the broker).
READY_TIMEOUT_S = 10.0


class StartupError(KintsugiError):
    """The daemon could not start: the bus could not bind, the board could not be opened,
    or a stage did not become ready."""


def build_stages(
    config: Config,
    source: StageFunction,
    *,
    publish_endpoint: str,
    subscribe_endpoint: str,
    stop: threading.Event,
    zmq_context: zmq.Context,
    curve: Any = None,
    extra_stages: Mapping[str, StageFunction] | None = None,
    on_failure: Callable[[str, BaseException, float], None] | None = None,
) -> list[SupervisedStage]:
    """The supervised stages of one pipeline, in start order (the source last, not started).

    ``source`` runs as :data:`SOURCE_STAGE`; ``extra_stages`` run beside the controller and
    the feature stage. Every stage shares ``stop`` and the broker's endpoints; a stage that
    raises is restarted with the backoff of ``[daemon]`` and reported to ``on_failure``.
    """
    interval_s = config.daemon.status_interval_s
    extra = dict(extra_stages or {})
    clash = sorted({"controller", "features", SOURCE_STAGE} & set(extra))
    if clash:
        raise ValueError(f"extra_stages {clash} take the name of a built-in stage; rename them")
    functions: dict[str, StageFunction] = {
        "controller": ControllerStage(config.controller, interval_s),
        "features": FeatureStage(
            config.features, config.source, interval_s, baseline=config.session.baseline
        ),
        **extra,
        SOURCE_STAGE: source,
    }
    stages = []
    for name, function in functions.items():
        context = StageContext(
            name=name,
            publish_endpoint=publish_endpoint,
            subscribe_endpoint=subscribe_endpoint,
            stop=stop,
            hwm=config.bus.hwm,
            curve=curve,
            zmq_context=zmq_context,
        )
        stages.append(
            SupervisedStage(
                context,
                function,
                backoff_s=config.daemon.restart_backoff_s,
                backoff_max_s=config.daemon.restart_backoff_max_s,
                on_failure=on_failure,
            )
        )
    return stages


def start_subscribers(
    stages: Sequence[SupervisedStage], timeout_s: float = READY_TIMEOUT_S
) -> SupervisedStage:
    """Start every stage but the source and wait until each is ready; returns the source
    (not started). Raises :class:`StartupError` naming a stage that was not ready in time."""
    source = next(stage for stage in stages if stage.name == SOURCE_STAGE)
    others = [stage for stage in stages if stage is not source]
    for stage in others:
        stage.start()
    end = time.monotonic() + timeout_s
    for stage in others:
        if not stage.context.ready.wait(max(0.0, end - time.monotonic())):
            raise StartupError(f"the {stage.name} stage did not become ready in {timeout_s:g} s")
    return source


def stop_stages(
    stages: Sequence[SupervisedStage], stop: threading.Event, deadline_s: float
) -> list[str]:
    """Set ``stop`` and wait up to ``deadline_s`` in all for the stages to end; returns the
    names of those still running (cut short), each logged."""
    stop.set()
    end = time.monotonic() + deadline_s
    cut_short = [
        stage.name for stage in stages if not stage.join(max(0.0, end - time.monotonic()))
    ]
    for name in cut_short:
        logger.warning("daemon: stage %s did not stop within %.1f s; cut short", name, deadline_s)
    return cut_short
