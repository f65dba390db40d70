"""The controller stage: ``features.*`` and ``model.status`` in; ``control`` and ``decision`` out.

Control is published right after each new feature (so latency is not a timer's) and at
least every ``hop_s`` (so staleness turns into the safe state even when nothing arrives).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from runtime.bus import BusPublisher, Message
from runtime.controller import ControllerSettings, ControlPolicy, PolicyOutput, make_decision_step
from runtime.messages import (
    ControllerStatus,
    DriverStatus,
    Feature,
    LatencySummary,
    ModelStatus,
    Trace,
)
from runtime.stages._base import StageContext, bus_counters, confirm_subscribed

logger = logging.getLogger("runtime.stages")


class ControllerStage:
    """Runs the control policy on the bus."""

    def __init__(self, settings: ControllerSettings, status_interval_s: float = 1.0) -> None:
        self.settings = settings
        self.status_interval_s = status_interval_s

    def __call__(self, context: StageContext) -> None:
        subscriber = context.subscriber(("features", "model.status", "status.driver"))
        publisher = context.publisher()
        confirm_subscribed(subscriber)
        context.ready.set()
        policy = ControlPolicy(self.settings, make_decision_step(self.settings))
        inputs = _Inputs()
        next_hop = next_status = 0.0
        try:
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=min(0.05, self.settings.hop_s))
                now = time.monotonic()
                updated = False
                while message is not None:
                    updated |= self._observe(policy, message, now, inputs)
                    message = subscriber.recv_nowait()
                if updated or now >= next_hop:
                    next_hop = now + self.settings.hop_s
                    output = policy.step(now, time.time())
                    trigger = "feature" if updated else "timer"
                    self._publish(publisher, output, inputs.trace, trigger)
                if now >= next_status:
                    next_status = now + self.status_interval_s
                    status = ControllerStatus(
                        component="controller",
                        state="running",
                        mode=policy.mode,
                        bus=bus_counters(subscriber.stats),
                        applied_latency_ms=inputs.latency.summary(),
                    )
                    publisher.publish("status.controller", status)
        finally:
            subscriber.close()
            publisher.close()

    @staticmethod
    def _observe(policy: ControlPolicy, message: Message, now: float, inputs: _Inputs) -> bool:
        """Feed one message to the policy; True when it should act at once."""
        data = message.data
        if isinstance(data, DriverStatus):
            before = policy.mode
            policy.observe_device(data.state)
            return data.state != "streaming" and before != "safe"  # act on it at once
        if isinstance(data, ModelStatus):
            policy.observe_guard(data.guard, now)
            inputs.latency.observe(data)
            return False
        if isinstance(data, Feature):
            policy.observe_feature(data, now)
            if data.trace is not None:
                inputs.trace = data.trace
            return True
        return False  # a topic outside the schema that shares a prefix (features.<other>)

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


class _Inputs:
    """What the stage keeps between hops: the newest feature's trace, applied latency."""

    def __init__(self) -> None:
        self.trace: Trace | None = None
        self.latency = _AppliedLatency()


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
