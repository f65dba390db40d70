"""The daemon: a broker and the stages (driver, features, controller), supervised.

Lifecycle only: what to run comes from :class:`runtime.config.Config`, each stage is its
own module. ``start()`` returns once the bus is bound and the board is open (or raises);
``stop()`` stops every stage within a deadline and logs what it cut short.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zmq

from drivers import DeviceError
from runtime.bus import Broker, BusPublisher
from runtime.config import Config
from runtime.errors import KintsugiError
from runtime.stages import (
    ControllerStage,
    DriverStage,
    FeatureStage,
    StageContext,
    StageFunction,
    SupervisedStage,
)

logger = logging.getLogger("runtime.daemon")


class StartupError(KintsugiError):
    """The daemon could not start: the bus could not bind or the board could not be opened."""


class Daemon:
    """Runs the whole pipeline in one process, each stage in its own thread."""

    def __init__(
        self,
        config: Config,
        *,
        curve: Any = None,
        extra_stages: Mapping[str, StageFunction] | None = None,
        board_rows: bool = False,
    ) -> None:
        self.config = config
        self._curve = curve
        # More stages (recorder, LSL bridge): each a function of a StageContext, supervised
        # like the rest, started with the subscribers before the driver.
        self._extra_stages = dict(extra_stages or {})
        self._board_rows = board_rows  # the driver also publishes raw.board.<preset>
        self._stop = threading.Event()
        self._zmq = zmq.Context()
        self.broker = self._new_broker(config.bus.publish_endpoint, config.bus.subscribe_endpoint)
        self.broker_restarts = 0
        self.stages: list[SupervisedStage] = []
        self._events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._status_thread: threading.Thread | None = None
        self.started_at: float | None = None
        self._scenario_dir: Path | None = None

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
        if self.broker.running or self._stop.is_set():
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
        return self.broker.publish_endpoint

    @property
    def subscribe_endpoint(self) -> str:
        return self.broker.subscribe_endpoint

    def _render_scenario(self) -> Config:
        """Render ``[source] scenario`` for the playback board into a temporary directory."""
        from runtime.config import with_overrides
        from runtime.scenario import render_scenario_files

        source = self.config.source
        self._scenario_dir = Path(tempfile.mkdtemp(prefix="kintsugi-scenario-"))
        try:
            keys = render_scenario_files(
                source.scenario, source.master_board, self._scenario_dir, source.speed
            )
        except ValueError as exc:  # sim's ScenarioError/SimError
            raise StartupError(f"[source] scenario = {source.scenario!r}: {exc}") from exc
        return with_overrides(self.config, "source", **keys)

    def start(self) -> None:
        """Bind the bus, open the board, start the stages; raises StartupError on failure."""
        if self.config.source.scenario:
            self.config = self._render_scenario()
        cfg = self.config
        driver = DriverStage(cfg.source, cfg.daemon.status_interval_s)
        try:
            opened = driver.open_board()
        except (DeviceError, ValueError) as exc:
            raise StartupError(str(exc)) from exc
        try:
            self.broker.start()
        except KintsugiError as exc:
            opened.close()
            raise StartupError(str(exc)) from exc
        driver = DriverStage(
            cfg.source, cfg.daemon.status_interval_s, opened=opened, board_rows=self._board_rows
        )
        stage_functions: dict[str, StageFunction] = {
            "controller": ControllerStage(cfg.controller, cfg.daemon.status_interval_s),
            "features": FeatureStage(cfg.features, cfg.source, cfg.daemon.status_interval_s),
            **self._extra_stages,
            "driver": driver,
        }
        for name, function in stage_functions.items():
            context = StageContext(
                name=name,
                publish_endpoint=self.broker.publish_endpoint,
                subscribe_endpoint=self.broker.subscribe_endpoint,
                stop=self._stop,
                hwm=cfg.bus.hwm,
                curve=self._curve,
                zmq_context=self._zmq,
            )
            self.stages.append(
                SupervisedStage(
                    context,
                    function,
                    backoff_s=cfg.daemon.restart_backoff_s,
                    backoff_max_s=cfg.daemon.restart_backoff_max_s,
                    on_failure=self._stage_failed,
                )
            )
        self._status_thread = threading.Thread(
            target=self._publish_status, name="kintsugi-status", daemon=True
        )
        self._status_thread.start()
        # Subscribers first, confirmed at the broker, then the driver: no sample is
        # published before the feature stage can receive it.
        for stage in self.stages:
            if stage.name != "driver":
                stage.start()
        for stage in self.stages:
            if stage.name != "driver" and not stage.context.ready.wait(10.0):
                self.stop(1.0)
                raise StartupError(f"the {stage.name} stage did not become ready in 10 s")
        for stage in self.stages:
            if stage.name == "driver":
                stage.start()
        self.started_at = time.monotonic()
        logger.info(
            "daemon: running (publish %s, subscribe %s)",
            self.publish_endpoint,
            self.subscribe_endpoint,
        )

    def stop(self, deadline_s: float | None = None) -> list[str]:
        """Stop every stage, then the broker; returns the names of stages cut short."""
        deadline_s = self.config.daemon.shutdown_deadline_s if deadline_s is None else deadline_s
        self._stop.set()
        end = time.monotonic() + deadline_s
        cut_short = [
            stage.name for stage in self.stages if not stage.join(max(0.0, end - time.monotonic()))
        ]
        for name in cut_short:
            logger.warning("daemon: stage %s did not stop within %.1f s", name, deadline_s)
        if self._status_thread is not None:
            self._status_thread.join(max(0.1, end - time.monotonic()))
        self.broker.stop()
        if not cut_short:
            self._zmq.term()
        if self._scenario_dir is not None:
            shutil.rmtree(self._scenario_dir, ignore_errors=True)
        return cut_short

    def health(self) -> dict[str, Any]:
        """Each stage: alive, restarts, last failure."""
        return {
            stage.name: {
                "alive": stage.alive,
                "restarts": stage.context.restarts,
                "last_failure": stage.failures[-1] if stage.failures else None,
            }
            for stage in self.stages
        }

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _stage_failed(self, name: str, exc: BaseException, retry_in_s: float) -> None:
        self._events.put(
            {
                "component": name,
                "state": "reconnecting" if name == "driver" else "restarting",
                "error": f"{type(exc).__name__}: {exc}",
                "retry_in_s": retry_in_s,
            }
        )

    def _publish_status(self) -> None:
        publisher = BusPublisher(
            self.broker.publish_endpoint, "daemon", context=self._zmq, curve=self._curve
        )
        try:
            while not self._stop.is_set():
                try:
                    event = self._events.get(timeout=self.config.daemon.status_interval_s)
                    publisher.publish(f"status.{event['component']}", event)
                except queue.Empty:
                    pass
                self._watch_broker()
                publisher.publish(
                    "status.daemon",
                    {
                        "component": "daemon",
                        "state": "running",
                        "publish_endpoint": self.publish_endpoint,
                        "subscribe_endpoint": self.subscribe_endpoint,
                        "stages": self.health(),
                        "broker": self.broker.stats.to_dict(),
                        "broker_restarts": self.broker_restarts,
                    },
                )
        finally:
            publisher.close()
