"""The daemon: a broker and the stages (source, features, controller), supervised.

Its role comes from the config (docs/multi-host.md): everything on one machine; a *hub*
(``[daemon] stages`` without ``driver``: the broker, features and controller, fed by
sensor hosts); a *sensor host* (``[bus] connect``: only the driver, publishing to the
hub's broker, no broker of its own).

Lifecycle only: what to run comes from :class:`runtime.config.Config`, each stage is its
own module, and the stages are built by :func:`runtime._pipeline.build_stages`, once each.
The source stage (the driver on the configured board, or what a caller puts in its place)
comes from a factory, called once per source: a config with several ``[[sources]]`` runs
one source stage per person (``driver-P01``, ``driver-P02`` …), each from the factory
given that source's view of the config (:meth:`Config.for_source`). ``start()`` returns
once the bus is bound and the sources are open (or raises :class:`StartupError`);
``stop()`` stops every stage within a deadline and logs what it cut short;
:meth:`Daemon.run_until_stopped` does both around a wait that SIGINT/SIGTERM end (a second
SIGINT forces an exit).
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import zmq

from drivers import BrainFlowSource, DeviceError, plan_raw_streams
from runtime._pipeline import (
    StartupError,
    build_stages,
    is_source_stage,
    source_stage_names,
    start_before_sources,
    stop_stages,
)
from runtime._signals import StopSignals
from runtime.bus import Broker, BusPublisher, check_connect_allowed, hub_subscribe_endpoint
from runtime.config import Config
from runtime.errors import KintsugiError
from runtime.messages import ComponentStatus, DaemonStatus, StageHealth, status_type
from runtime.stages import (
    DriverStage,
    StageContext,
    StageFunction,
    SupervisedStage,
    source_settings,
)

__all__ = [
    "Daemon",
    "OpenedDriver",
    "RunResult",
    "SourceFactory",
    "StartupError",
    "driver_source",
]

logger = logging.getLogger("runtime.daemon")

#: Builds the source stage from the daemon's config (scenario already rendered; with
#: several ``[[sources]]``, one source's view of it, :meth:`Config.for_source`). It may
#: open a device, and raises DeviceError, ValueError or KintsugiError when it cannot. A
#: stage with a ``close()`` method has it called when start-up fails before the stage ran
#: (to release what the factory opened).
SourceFactory = Callable[[Config], StageFunction]


class OpenedDriver:
    """The driver stage and the board it will use on its first run, opened in advance."""

    def __init__(self, stage: DriverStage, board: BrainFlowSource) -> None:
        self.stage = stage
        self.board = board

    def __call__(self, context: StageContext) -> None:
        self.stage(context)

    def close(self) -> None:
        """Release the board (start-up failed before the stage ran)."""
        self.board.close()


def driver_source(*, board_rows: bool = False) -> SourceFactory:
    """The default source: the driver stage on ``[source]``'s board, opened by the factory
    so that an absent board fails start-up at once, before the bus binds. ``board_rows``:
    the driver also publishes every BrainFlow row as ``raw.board.<preset>`` (recording)."""

    def open_driver(config: Config) -> OpenedDriver:
        board = BrainFlowSource(source_settings(config.source))
        # Config errors (an ECG channel the board lacks) before any streaming.
        plan_raw_streams(board.layouts, config.source.ecg_channels)
        board.open()
        stage = DriverStage(
            config.source, config.daemon.status_interval_s, opened=board, board_rows=board_rows
        )
        return OpenedDriver(stage, board)

    return open_driver


@dataclass(frozen=True)
class RunResult:
    """How :meth:`Daemon.run_until_stopped` ended: ``reason`` is ``signal`` (``signal``
    names it), ``duration`` or ``done`` (``until`` said so); ``cut_short`` the stages
    that did not stop within the shutdown deadline."""

    reason: Literal["signal", "duration", "done"]
    signal: str | None = None
    cut_short: list[str] = field(default_factory=list)


class Daemon:
    """Runs the whole pipeline in one process, each stage in its own thread.

    ``source`` builds the stage that publishes ``raw.*`` (default: :func:`driver_source`
    with ``board_rows``); ``extra_stages`` (recorder, LSL bridge) are functions of a
    StageContext, supervised like the rest and started with the subscribers before the
    source.
    """

    def __init__(
        self,
        config: Config,
        *,
        curve: Any = None,
        extra_stages: Mapping[str, StageFunction] | None = None,
        board_rows: bool = False,
        source: SourceFactory | None = None,
    ) -> None:
        self.config = config
        self._curve = curve
        self._extra_stages = dict(extra_stages or {})
        self._source_factory = source if source is not None else driver_source(
            board_rows=board_rows
        )
        self._stop = threading.Event()
        self._zmq = zmq.Context()
        #: A sensor host (``[bus] connect``) has no broker: its stages use the hub's.
        self.sensor = bool(config.bus.connect)
        self.broker: Broker | None = None
        if not self.sensor:
            self.broker = self._new_broker(
                config.bus.publish_endpoint, config.bus.subscribe_endpoint
            )
        self.broker_restarts = 0
        self.stages: list[SupervisedStage] = []
        self._events: queue.SimpleQueue[ComponentStatus] = queue.SimpleQueue()
        self._status_thread: threading.Thread | None = None
        self.started_at: float | None = None
        self._stopped: list[str] | None = None
        self._scenario_dir: Path | None = None
        #: Each source stage's person (``status.driver-P01`` restart reports name it).
        self._source_people = dict(
            zip(source_stage_names(config), (s.person for s in config.all_sources), strict=True)
        )

    def _new_broker(self, publish_endpoint: str, subscribe_endpoint: str) -> Broker:
        return Broker(
            publish_endpoint,
            subscribe_endpoint,
            hwm=self.config.bus.hwm,
            curve=self._curve,
            status_interval_s=self.config.daemon.status_interval_s,
            context=self._zmq,
        )

    def _watch_broker(self) -> None:
        """Restart the broker if its thread died; every socket reconnects by itself."""
        if self.broker is None or self.broker.running or self._stop.is_set():
            return
        logger.error("daemon: the broker stopped (%s); restarting it", self.broker.stats.last_error)
        old = self.broker
        self.broker = self._new_broker(old.publish_endpoint, old.subscribe_endpoint)
        try:
            self.broker.start()
            self.broker_restarts += 1
        except KintsugiError as exc:
            logger.error("daemon: broker restart failed: %s; trying again", exc)

    @property
    def publish_endpoint(self) -> str:
        """Where this daemon's stages publish: its broker's, or on a sensor the hub's."""
        if self.broker is None:
            return self.config.bus.connect
        return self.broker.publish_endpoint

    @property
    def subscribe_endpoint(self) -> str:
        """Where this daemon's stages subscribe: its broker's, or on a sensor the hub's."""
        if self.broker is None:
            return hub_subscribe_endpoint(
                self.config.bus.connect, self.config.bus.subscribe_endpoint
            )
        return self.broker.subscribe_endpoint

    def _render_scenarios(self) -> Config:
        """Render each source's ``scenario`` for the playback board into a temporary
        directory (one subdirectory per source)."""
        from runtime.config import with_sources
        from runtime.scenario import render_scenario_files

        self._scenario_dir = Path(tempfile.mkdtemp(prefix="kintsugi-scenario-"))
        sources = []
        for number, source in enumerate(self.config.all_sources):
            if not source.scenario:
                sources.append(source)
                continue
            directory = self._scenario_dir / str(number)
            directory.mkdir()
            try:
                keys = render_scenario_files(
                    source.scenario, source.master_board, directory, source.speed
                )
            except ValueError as exc:  # sim's ScenarioError/SimError
                self._abort_start(free_context=True)
                table = "[source]" if len(self.config.all_sources) == 1 else (
                    f"[[sources]] person = {source.person!r}:")
                raise StartupError(f"{table} scenario = {source.scenario!r}: {exc}") from exc
            sources.append(source.model_copy(update=keys))
        return with_sources(self.config, tuple(sources))

    def _open_sources(self, cfg: Config) -> list[StageFunction]:
        """Each source's stage from the factory; on a failure the ones opened are closed."""
        opened: list[StageFunction] = []
        try:
            for source in cfg.all_sources:
                opened.append(self._source_factory(cfg.for_source(source)))
        except BaseException:
            for function in opened:
                _close_source(function)
            raise
        return opened

    def start(self) -> None:
        """Bind the bus, open the sources, start the stages; raises StartupError on failure."""
        if any(source.scenario for source in self.config.all_sources):
            self.config = self._render_scenarios()
        cfg = self.config
        sources: list[StageFunction] = []
        try:
            if self.sensor:
                check_connect_allowed(cfg.bus.connect, have_keys=self._curve is not None)
                endpoints = (self.publish_endpoint, self.subscribe_endpoint)
            if "driver" in cfg.daemon.stages:
                sources = self._open_sources(cfg)
        except (DeviceError, ValueError, KintsugiError) as exc:
            self._abort_start(free_context=True)  # nothing has a socket yet
            raise StartupError(str(exc)) from exc
        if self.broker is not None:
            try:
                self.broker.start()
            except KintsugiError as exc:
                _close_sources(sources)
                # A broker thread that ended has no socket left in use; one that timed out may.
                self._abort_start(free_context=not self.broker.running)
                raise StartupError(str(exc)) from exc
            endpoints = (self.broker.publish_endpoint, self.broker.subscribe_endpoint)
        try:
            self.stages = build_stages(
                cfg,
                sources or None,
                publish_endpoint=endpoints[0],
                subscribe_endpoint=endpoints[1],
                stop=self._stop,
                zmq_context=self._zmq,
                curve=self._curve,
                extra_stages=self._extra_stages,
                on_failure=self._stage_failed,
            )
        except (ValueError, KintsugiError) as exc:  # e.g. a saved baseline made elsewhere
            _close_sources(sources)
            if self.broker is not None:
                self.broker.stop()
            self._abort_start(free_context=self.broker is None or not self.broker.running)
            raise StartupError(str(exc)) from exc
        self._status_thread = threading.Thread(
            target=self._publish_status, name="kintsugi-status", daemon=True
        )
        self._status_thread.start()
        try:
            source_stages = start_before_sources(self.stages)
        except StartupError:
            self.stop(1.0)
            raise
        for source_stage in source_stages:
            source_stage.start()
        self.started_at = time.monotonic()
        logger.info(
            "daemon: running as %s (publish %s, subscribe %s)",
            self.role,
            self.publish_endpoint,
            self.subscribe_endpoint,
        )

    def stop(self, deadline_s: float | None = None) -> list[str]:
        """Stop every stage, then the broker; returns the names of stages cut short.

        Safe to call twice (the second call returns the first one's answer)."""
        if self._stopped is not None:
            return list(self._stopped)
        deadline_s = self.config.daemon.shutdown_deadline_s if deadline_s is None else deadline_s
        end = time.monotonic() + deadline_s
        cut_short = stop_stages(self.stages, self._stop, deadline_s)
        if self._status_thread is not None:
            self._status_thread.join(max(0.1, end - time.monotonic()))
        if self.broker is not None:
            self.broker.stop()
        if not cut_short:
            self._zmq.term()
        self._remove_scenario()
        self._stopped = cut_short
        return list(cut_short)

    @property
    def role(self) -> Literal["sensor", "hub", "single"]:
        """``sensor`` (publishes to a hub), ``hub`` (no board of its own) or ``single``."""
        if self.sensor:
            return "sensor"
        return "single" if "driver" in self.config.daemon.stages else "hub"

    def _abort_start(self, *, free_context: bool) -> None:
        """Undo a start that failed before any stage ran."""
        if free_context:
            self._zmq.destroy(linger=0)  # closes what the failed broker left open, then terms
        self._remove_scenario()

    def _remove_scenario(self) -> None:
        if self._scenario_dir is not None:
            shutil.rmtree(self._scenario_dir, ignore_errors=True)
            self._scenario_dir = None

    def run_until_stopped(
        self,
        duration_s: float | None = None,
        *,
        until: Callable[[], bool] | None = None,
        on_started: Callable[[Daemon], None] | None = None,
        name: str = "daemon",
        poll_s: float = 0.2,
    ) -> RunResult:
        """Start (unless started), run until SIGINT/SIGTERM, ``duration_s`` or ``until()``,
        then stop within ``[daemon] shutdown_deadline_s``.

        Signal handlers are installed (main thread only) before starting, so a signal during
        start-up stops too; ``on_started`` is called once the daemon runs (the CLI prints
        its endpoints there). A second SIGINT while stopping logs the stages still running
        and exits the process at once with status 130. ``name`` prefixes the log lines.
        """
        with StopSignals(name, on_force=self._log_running_stages) as signals:
            if self.started_at is None:
                self.start()
            if on_started is not None:
                on_started(self)
            reason = self._wait(signals.stop, duration_s, until, poll_s)
            cut_short = self.stop()
        if cut_short:
            logger.warning("%s: stopped; cut short: %s", name, ", ".join(cut_short))
        return RunResult(
            reason="signal" if signals.received else reason,
            signal=signals.received,
            cut_short=cut_short,
        )

    @staticmethod
    def _wait(
        stop: threading.Event,
        duration_s: float | None,
        until: Callable[[], bool] | None,
        poll_s: float,
    ) -> Literal["signal", "duration", "done"]:
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while not stop.is_set():
            if until is not None and until():
                return "done"
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return "duration"
            stop.wait(poll_s if remaining is None else min(poll_s, remaining))
        return "signal"

    def _log_running_stages(self) -> None:
        running = [stage.name for stage in self.stages if stage.alive]
        logger.warning(
            "daemon: forced exit; stages still running: %s", ", ".join(running) or "none"
        )

    def health(self) -> dict[str, dict[str, Any]]:
        """Each stage: alive, restarts, last failure (the ``stages`` of ``status.daemon``)."""
        return {name: health.to_dict() for name, health in self._stage_health().items()}

    def _stage_health(self) -> dict[str, StageHealth]:
        return {
            stage.name: StageHealth(
                alive=stage.alive,
                restarts=stage.context.restarts,
                last_failure=stage.failures[-1] if stage.failures else None,
            )
            for stage in self.stages
        }

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _stage_failed(self, name: str, exc: BaseException, retry_in_s: float) -> None:
        """A supervised stage raised: report it on ``status.<name>`` in that status's type
        (a source's names its person, as its own statuses do)."""
        source = is_source_stage(name)
        person = self._source_people.get(name) if source else None
        self._events.put(
            status_type(f"status.{name}")(
                component=name,
                state="reconnecting" if source else "restarting",
                error=f"{type(exc).__name__}: {exc}",
                retry_in_s=retry_in_s,
                **({} if person is None else {"person": person}),
            )
        )

    def _publish_status(self) -> None:
        publisher = BusPublisher(
            self.publish_endpoint, "daemon", context=self._zmq, curve=self._curve
        )
        try:
            while not self._stop.is_set():
                try:
                    event = self._events.get(timeout=self.config.daemon.status_interval_s)
                    publisher.publish(f"status.{event.component}", event)
                except queue.Empty:
                    pass
                if self.broker is None:
                    continue  # a sensor: status.daemon is the hub's (its broker, its stages)
                self._watch_broker()
                publisher.publish(
                    "status.daemon",
                    DaemonStatus(
                        component="daemon",
                        state="running",
                        publish_endpoint=self.publish_endpoint,
                        subscribe_endpoint=self.subscribe_endpoint,
                        stages=self._stage_health(),
                        broker=self.broker.stats.to_dict(),
                        broker_restarts=self.broker_restarts,
                    ),
                )
        finally:
            publisher.close()


def _close_sources(sources: list[StageFunction]) -> None:
    """Release what the source factory opened, for each source."""
    for source in sources:
        _close_source(source)


def _close_source(source: StageFunction | None) -> None:
    """Release what a source factory opened (start-up failed before the source ran)."""
    close = getattr(source, "close", None)
    if callable(close):
        close()
