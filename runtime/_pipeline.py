"""The one way the pipeline's stages are built, started and stopped.

The daemon and the bench's injected pipeline both run the same stages, each supervised in
its own thread: the controller, the feature stage, any extra stages (recorder, LSL bridge,
a replay's watcher), and a *source* that publishes ``raw.*`` (the driver stage, or a
stand-in in its place). The source runs under the name ``driver``, so it reports on
``status.driver`` as the driver does; a config with several ``[[sources]]`` runs one source
stage per person, ``driver-P01``, ``driver-P02`` … (each on ``status.driver-<person>``).
Subscribers start first and are confirmed at the broker before the sources start, so no
sample is published before the feature stage can receive it. ``[daemon] stages`` says which
of the built-in stages run (a hub has no source; a sensor host only the source, which
publishes to the hub through an :class:`~runtime.bus.UplinkPublisher` and waits for the hub
before it starts).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from runtime.bus import BusPublisher, PersonPublisher, UplinkPublisher
from runtime.clock import ClockRequesterStage, ClockResponderStage
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
    "AwaitHub",
    "SourceStageContext",
    "StartupError",
    "build_stages",
    "is_source_stage",
    "sensor_clock_id",
    "source_stage_names",
    "start_before_sources",
    "stop_stages",
]

logger = logging.getLogger("runtime.daemon")

#: The name the source stage runs under (its status topic is ``status.driver``); one of
#: several sources runs as ``driver-<person>``.
SOURCE_STAGE = "driver"

#: Seconds each non-source stage has to become ready (subscribed at the broker).
READY_TIMEOUT_S = 10.0


class StartupError(KintsugiError):
    """The daemon could not start: the bus could not bind, the board could not be opened,
    or a stage did not become ready."""


@dataclass
class SourceStageContext(StageContext):
    """The source stage's context: its publisher stamps ``person`` on raw chunks and, on a
    sensor host (``uplink``), keeps up to ``buffer_messages`` while the hub is away."""

    person: str | None = None
    uplink: bool = False
    buffer_messages: int = 20_000

    def publisher(self) -> BusPublisher:
        """The source's publisher (call inside the stage's thread)."""
        if self.uplink:
            return UplinkPublisher(
                self.publish_endpoint,
                self.name,
                context=self.zmq_context,
                hwm=self.hwm,
                curve=self.curve,
                person=self.person,
                buffer_messages=self.buffer_messages,
            )
        if self.person is not None:
            return PersonPublisher(
                self.publish_endpoint,
                self.name,
                person=self.person,
                context=self.zmq_context,
                hwm=self.hwm,
                curve=self.curve,
            )
        return super().publisher()


class AwaitHub:
    """A sensor host's source stage: waits until the hub's broker answers, then runs
    ``source``.

    A hub that is unreachable at start (or while the driver restarts) makes the sensor wait
    and log every ``log_every_s``, not fail: the driver's own start-up check of the bus
    would give up after 10 s. The broker's answer is its cached ``status.broker``, which it
    replays to every subscriber it admitted, so an unknown key waits for ever (logged).
    """

    def __init__(
        self, source: StageFunction, *, log_every_s: float = 5.0, ready_at_once: bool = False
    ) -> None:
        self.source = source
        self.log_every_s = log_every_s
        self.ready_at_once = ready_at_once

    def __call__(self, context: StageContext) -> None:
        if self.ready_at_once:
            # A stage the daemon's start-up need not wait for (the sensor's clock responder):
            # ready now, so a sensor started before its hub starts its source too.
            context.ready.set()
        probe = context.subscriber(("status.broker",))
        started = time.monotonic()
        next_log = started + self.log_every_s
        try:
            while not context.stop.is_set():
                if probe.recv(timeout_s=0.2) is not None:
                    break
                if time.monotonic() >= next_log:
                    next_log += self.log_every_s
                    logger.warning(
                        "sensor: no answer from the hub at %s for %.0f s (is it running, and "
                        "is this host's key in its authorized/?); still trying",
                        context.subscribe_endpoint,
                        time.monotonic() - started,
                    )
            else:
                return
        finally:
            probe.close()
        logger.info("sensor: the hub at %s answered", context.subscribe_endpoint)
        self.source(context)

    def close(self) -> None:
        """Release what the source opened (start-up failed before it ran)."""
        close = getattr(self.source, "close", None)
        if callable(close):
            close()


def sensor_clock_id(config: Config) -> str:
    """The id a sensor host's clock is known by on the hub: its person (what each raw chunk
    carries, so the hub finds the chunk's clock), else its certificate's name."""
    return config.source.person or config.bus.key_name


def source_stage_names(config: Config) -> list[str]:
    """The stage name of each of the config's sources, in order: ``driver`` for one,
    ``driver-<person>`` for each of several ``[[sources]]``."""
    sources = config.all_sources
    if len(sources) == 1:
        return [SOURCE_STAGE]
    return [f"{SOURCE_STAGE}-{source.person}" for source in sources]


def is_source_stage(name: str) -> bool:
    """True for a source stage's name (``driver``, ``driver-P01``)."""
    return name == SOURCE_STAGE or name.startswith(f"{SOURCE_STAGE}-")


def build_stages(
    config: Config,
    source: StageFunction | Sequence[StageFunction] | None,
    *,
    publish_endpoint: str,
    subscribe_endpoint: str,
    stop: threading.Event,
    zmq_context: zmq.Context,
    curve: Any = None,
    extra_stages: Mapping[str, StageFunction] | None = None,
    on_failure: Callable[[str, BaseException, float], None] | None = None,
) -> list[SupervisedStage]:
    """The supervised stages of one pipeline, in start order (the sources last, not started).

    Only the built-in stages ``[daemon] stages`` names are built; ``source`` runs as
    :data:`SOURCE_STAGE` and is given exactly when ``driver`` is among them (None on a hub).
    With several ``[[sources]]``, ``source`` is one stage function per source, in their
    order, each run as its :func:`source_stage_names` name with a publisher that stamps its
    person.
    ``extra_stages`` run beside the controller and the feature stage. Every stage shares
    ``stop`` and the broker's endpoints; a stage that raises is restarted with the backoff
    of ``[daemon]`` and reported to ``on_failure``. On a sensor host (``[bus] connect``)
    the endpoints are the hub's and the source waits for it (:class:`AwaitHub`).
    """
    interval_s = config.daemon.status_interval_s
    wanted = config.daemon.stages
    if (source is None) == (SOURCE_STAGE in wanted):
        raise ValueError(
            f"[daemon] stages = {list(wanted)!r} "
            + ("runs the driver but no source was given" if source is None else
               "has no driver, so no source stage can run")
        )
    names = source_stage_names(config)
    given: list[StageFunction] = (
        [] if source is None else [source] if callable(source) else list(source)
    )
    if source is not None and len(given) != len(names):
        raise ValueError(
            f"the config has {len(names)} sources ({', '.join(names)}) but "
            f"{len(given)} source stage functions were given; give one per source"
        )
    extra = dict(extra_stages or {})
    clash = sorted(
        {"controller", "features", "clock", "clock-responder"} & set(extra)
        | {name for name in extra if is_source_stage(name)}
    )
    if clash:
        raise ValueError(f"extra_stages {clash} take the name of a built-in stage; rename them")
    functions: dict[str, StageFunction] = {}
    if "controller" in wanted:
        functions["controller"] = ControllerStage(config.controller, interval_s)
    if "features" in wanted:
        functions["features"] = FeatureStage(
            config.features, config.source, interval_s, baseline=config.session.baseline,
            baseline_person=config.session.participant,
            people_sources={s.person: s for s in config.sources if s.person},
        )
    functions.update(extra)
    sensor = bool(config.bus.connect)
    # A hub without a board estimates each sensor host's clock; a sensor host answers its
    # requests once the hub is there (docs/clocks.md).
    if not sensor and SOURCE_STAGE not in wanted:
        functions["clock"] = ClockRequesterStage(status_interval_s=interval_s)
    if sensor:
        functions["clock-responder"] = AwaitHub(
            ClockResponderStage(sensor_clock_id(config)), ready_at_once=True
        )
    people: dict[str, str | None] = {}
    # ``given`` is empty on a hub (no source); else one per name, checked above.
    for name, function, source_config in zip(names, given, config.all_sources, strict=False):
        functions[name] = AwaitHub(function) if sensor else function
        people[name] = source_config.person
    stages = []
    for name, function in functions.items():
        shared = dict(
            name=name,
            publish_endpoint=publish_endpoint,
            subscribe_endpoint=subscribe_endpoint,
            stop=stop,
            hwm=config.bus.hwm,
            curve=curve,
            zmq_context=zmq_context,
        )
        context = (
            SourceStageContext(
                **shared,
                person=people[name],
                uplink=sensor,
                buffer_messages=config.bus.uplink_buffer_messages,
            )
            if name in people
            else StageContext(**shared)
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


def start_before_sources(
    stages: Sequence[SupervisedStage], timeout_s: float = READY_TIMEOUT_S
) -> list[SupervisedStage]:
    """Start every stage but the sources and wait until each is ready; returns the
    sources, in order (not started; none on a hub). Raises :class:`StartupError` naming a
    stage that was not ready in time."""
    sources = [stage for stage in stages if is_source_stage(stage.name)]
    others = [stage for stage in stages if stage not in sources]
    for stage in others:
        stage.start()
    end = time.monotonic() + timeout_s
    for stage in others:
        if not stage.context.ready.wait(max(0.0, end - time.monotonic())):
            raise StartupError(f"the {stage.name} stage did not become ready in {timeout_s:g} s")
    return sources


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
