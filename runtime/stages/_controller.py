"""The controller stage: ``features.*`` and ``model.status`` in; ``control`` and ``decision`` out.

Control is published for each feature as it arrives (so latency is not a timer's), at the
feature's own data time (``time_s``), and for each ``hop_s`` of data time that passed
without one: the sequence of controls depends on the data alone, so a replay at any speed
reproduces it. The wall clock does two things only, both for a stream that really stopped:

- **device**: ``status.driver`` reports a state other than ``streaming`` (stalled, lost,
  reconnecting, ended): once every feature of the data the driver had delivered by then has
  been seen (its ``samples`` and ``dropped``, against each stream's next window), or after
  ``stale_after_s`` of wall time without a feature, the controller enters the safe state
  (one control, trigger ``device``). ``stopped`` is the daemon's own shutdown: ignored.
  A status that names its ``person`` (one source of several, ``status.driver-P02``) is
  that person's device: it waits for that person's features only, and makes that person
  lost under ``[controller] group`` (``lost = "safe"``: the safe state naming them;
  ``"drop"``: the others go on) until their device streams again.
- **liveness**: no feature of a required stream for its hop plus ``stale_after_s`` of wall
  time: the safe state (one control, trigger ``liveness``, rule ``safe:<kind>-stale``).

Neither repeats while the state stays safe: the client expires a control to the safe state
by itself once its TTL has run out. On stop, features already queued are still handled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from runtime.bus import BusPublisher, BusSubscriber, Message
from runtime.controller import ControllerSettings, ControlPolicy, PolicyOutput, make_decision_step
from runtime.messages import (
    ControllerStatus,
    DriverStatus,
    Feature,
    LatencySummary,
    ModelStatus,
    Trace,
)
from runtime.resolver import DecisionStep
from runtime.supervisor import StageContext, bus_counters, confirm_subscribed

logger = logging.getLogger("runtime.stages")

#: On stop, queued messages are handled until the bus is quiet this long (at most DRAIN_S).
_DRAIN_QUIET_S = 0.1
DRAIN_S = 0.5
#: A data time this close to a device's data position counts as the same position.
_POSITION_EPS_S = 1e-6


class ControllerStage:
    """Runs the control policy on the bus."""

    def __init__(self, settings: ControllerSettings, status_interval_s: float = 1.0) -> None:
        self.settings = settings
        self.status_interval_s = status_interval_s
        # Built here, in the thread that builds the pipeline, so that qiskit's first import
        # and circuit (for the quantum resolver) never race other stages' native start-up
        # work; a restarted stage builds a fresh one.
        self._prepared: DecisionStep | None = make_decision_step(settings)

    def __call__(self, context: StageContext) -> None:
        subscriber = context.subscriber(("features", "model.status", "status.driver"))
        publisher = context.publisher()
        confirm_subscribed(subscriber)
        context.ready.set()
        step, self._prepared = self._prepared or make_decision_step(self.settings), None
        policy = ControlPolicy(self.settings, step)
        inputs = _Inputs()
        next_status = 0.0
        try:
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=min(0.05, self.settings.hop_s))
                while message is not None:
                    self._handle(policy, message, publisher, inputs)
                    message = subscriber.recv_nowait()
                self._check_liveness(policy, publisher, inputs, time.monotonic())
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + self.status_interval_s
                    self._publish_status(publisher, subscriber, policy, inputs)
            self._drain(subscriber, policy, publisher, inputs)
        finally:
            subscriber.close()
            publisher.close()

    def _handle(
        self, policy: ControlPolicy, message: Message, publisher: BusPublisher, inputs: _Inputs
    ) -> None:
        """One message: a feature makes its controls, a driver state may make one."""
        data = message.data
        if isinstance(data, Feature):
            if data.kind not in ("attention", "stress"):
                return
            if data.trace is not None:
                inputs.trace = data.trace
            inputs.seen[(data.person, data.kind)] = _StreamSeen(
                data.time_s, data.hop_s, time.monotonic()
            )
            for trigger, output in policy.on_feature(data, time.time()):
                self._publish(publisher, output, inputs.trace, trigger)
            self._apply_device(policy, publisher, inputs, time.monotonic())
        elif isinstance(data, DriverStatus):
            if data.state == "stopped":
                return  # the daemon is shutting down; the client's TTL does the rest
            if data.state == "streaming":
                inputs.pending_device.pop(data.person, None)
                policy.observe_device("streaming", time.time(), data.person)
                return
            inputs.pending_device[data.person] = (data.state, _data_position_s(data))
            self._apply_device(policy, publisher, inputs, time.monotonic())
        elif isinstance(data, ModelStatus):
            policy.observe_guard(data.guard)
            inputs.latency.observe(data)

    def _apply_device(
        self, policy: ControlPolicy, publisher: BusPublisher, inputs: _Inputs, now: float
    ) -> None:
        """Act on each pending device state once the data before it has been seen (or after
        ``stale_after_s`` of wall time without a feature), each person's on their own
        features (a device that names nobody: on everyone's)."""
        for person, (state, position_s) in list(inputs.pending_device.items()):
            quiet = now - inputs.last_feature_at(person) >= self.settings.stale_after_s
            if not (quiet or inputs.caught_up(position_s, person)):
                continue
            del inputs.pending_device[person]
            output = policy.observe_device(state, time.time(), person)
            if output is not None:
                self._publish(publisher, output, inputs.trace, "device")

    def _check_liveness(
        self, policy: ControlPolicy, publisher: BusPublisher, inputs: _Inputs, now: float
    ) -> None:
        """The wall-clock fail-safe of a live stream: pending device states, and required
        features that stopped arriving."""
        self._apply_device(policy, publisher, inputs, now)
        required = ("attention", "stress") if self.settings.require_stress else ("attention",)
        for kind in required:
            seen = inputs.newest(kind)
            if seen is None or now - seen.arrived_at <= seen.hop_s + self.settings.stale_after_s:
                continue
            output = policy.enter_safe(f"{kind}-stale", time.time())
            if output is not None:
                self._publish(publisher, output, inputs.trace, "liveness")

    def _drain(
        self,
        subscriber: BusSubscriber,
        policy: ControlPolicy,
        publisher: BusPublisher,
        inputs: _Inputs,
    ) -> None:
        """On stop: the features already on their way still get their controls."""
        end = time.monotonic() + DRAIN_S
        while time.monotonic() < end:
            message = subscriber.recv(timeout_s=_DRAIN_QUIET_S)
            if message is None:
                return
            if isinstance(message.data, Feature):
                self._handle(policy, message, publisher, inputs)

    def _publish_status(
        self,
        publisher: BusPublisher,
        subscriber: BusSubscriber,
        policy: ControlPolicy,
        inputs: _Inputs,
    ) -> None:
        status = ControllerStatus(
            component="controller",
            state="running",
            mode=policy.mode,
            bus=bus_counters(subscriber.stats),
            applied_latency_ms=inputs.latency.summary(),
        )
        publisher.publish("status.controller", status)

    @staticmethod
    def _publish(
        publisher: BusPublisher, output: PolicyOutput, trace: Trace | None, trigger: str
    ) -> None:
        if output.decision is not None:
            publisher.publish("decision", output.decision)
        control = replace(
            output.control,
            seq=publisher.next_seq("control"),
            sample_time=None if trace is None else trace.raw_publish_time,
            source_time=None if trace is None else trace.raw_source_time,
            mode=output.mode,
            trigger=trigger,
            trace=trace,
        )
        publisher.publish("control", control)


def _data_position_s(status: DriverStatus) -> float:
    """Seconds of data the driver had delivered (samples and drops of the default preset)
    when it sent ``status``; 0 when it does not say."""
    samples = status.samples.get("default", 0) + status.dropped.get("default", 0)
    layout = status.presets.get("default") or {}
    fs = layout.get("sampling_rate") if isinstance(layout, dict) else None
    if not samples or not isinstance(fs, int | float) or fs <= 0:
        return 0.0
    return float(samples) / float(fs)


@dataclass(frozen=True)
class _StreamSeen:
    """A feature stream's newest feature: its own time and hop, and when it arrived."""

    time_s: float
    hop_s: float
    arrived_at: float


class _Inputs:
    """What the stage keeps between messages: the newest feature's trace, each stream's
    newest feature (by person and kind), device states not acted on yet (by person; None:
    a device that names nobody), applied latency."""

    def __init__(self) -> None:
        self.trace: Trace | None = None
        self.seen: dict[tuple[str | None, str], _StreamSeen] = {}
        self.pending_device: dict[str | None, tuple[str, float]] = {}
        self.latency = _AppliedLatency()

    def newest(self, kind: str) -> _StreamSeen | None:
        """The newest feature of ``kind`` from anyone (None: none yet)."""
        streams = [seen for (_, k), seen in self.seen.items() if k == kind]
        return max(streams, key=lambda seen: seen.arrived_at, default=None)

    def _streams(self, person: str | None) -> list[_StreamSeen]:
        """``person``'s streams; everyone's for None or for a person with none seen."""
        own = [seen for (who, _), seen in self.seen.items() if person is not None
               and who == person]
        return own or list(self.seen.values())

    def last_feature_at(self, person: str | None = None) -> float:
        """Monotonic time of the newest feature of any of ``person``'s streams (-inf:
        none yet)."""
        return max((seen.arrived_at for seen in self._streams(person)), default=-float("inf"))

    def caught_up(self, position_s: float, person: str | None = None) -> bool:
        """True when every one of ``person``'s streams' next window would end after
        ``position_s`` seconds of data: all their features of the data delivered up to
        there have been seen."""
        return all(
            seen.time_s + seen.hop_s > position_s + _POSITION_EPS_S
            for seen in self._streams(person)
        )


class _AppliedLatency:
    """Sample→applied latency (ms) from training jobs' ``model.status``: when the newest
    sample behind the applied control left the driver, to when the job applied it."""

    def __init__(self, keep: int = 512) -> None:
        self._values: list[float] = []
        self._keep = keep

    def observe(self, status: ModelStatus) -> None:
        """From a model.status: the applied control's sample_time → applied_at."""
        sample_time = None if status.control is None else status.control.sample_time
        applied_at = status.applied_at
        if sample_time is None or applied_at is None or applied_at < sample_time:
            return
        self._values.append((applied_at - sample_time) * 1000.0)
        del self._values[: -self._keep]

    def summary(self) -> LatencySummary | None:
        if not self._values:
            return None
        ordered = sorted(self._values)
        return LatencySummary(
            p50=ordered[len(ordered) // 2],
            p99=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            n=len(ordered),
        )
