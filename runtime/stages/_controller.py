"""The controller stage: ``features.*`` and ``model.status`` in; ``control`` and ``decision`` out.

Control is published right after each new feature (so latency is not a timer's) and at
least every ``hop_s`` (so staleness turns into the safe state even when nothing arrives).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from runtime.bus import BusPublisher, Message
from runtime.controller import ControllerSettings, ControlPolicy, PolicyOutput, make_decision_step
from runtime.stages._base import StageContext, confirm_subscribed

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
        trace: dict[str, Any] = {}
        latency = _AppliedLatency()
        next_hop = next_status = 0.0
        try:
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=min(0.05, self.settings.hop_s))
                now = time.monotonic()
                updated = False
                while message is not None:
                    updated |= self._observe(policy, message, now, trace, latency)
                    message = subscriber.recv_nowait()
                if updated or now >= next_hop:
                    next_hop = now + self.settings.hop_s
                    output = policy.step(now, time.time())
                    self._publish(publisher, output, trace, "feature" if updated else "timer")
                if now >= next_status:
                    next_status = now + self.status_interval_s
                    body = {
                        "component": "controller",
                        "state": "running",
                        "mode": policy.mode,
                        "bus": subscriber.stats.to_dict(),
                        "applied_latency_ms": latency.summary(),
                    }
                    publisher.publish("status.controller", body)
        finally:
            subscriber.close()
            publisher.close()

    @staticmethod
    def _observe(
        policy: ControlPolicy,
        message: Message,
        now: float,
        trace: dict[str, Any],
        latency: _AppliedLatency,
    ) -> bool:
        body = message.body
        if message.topic == "status.driver":
            state = body.get("state")
            if isinstance(state, str):
                before = policy.mode
                policy.observe_device(state)
                return state != "streaming" and before != "safe"  # act on it at once
            return False
        if message.topic == "model.status":
            guard = body.get("guard") if isinstance(body.get("guard"), dict) else {}
            policy.observe_model_guards(
                now,
                identity_margin=_number(guard.get("identity_margin")),
                entropy_margin=_number(guard.get("entropy_margin_bits")),
                violations=int(_number(guard.get("guard_scaled")) or 0),
                detail=_guard_detail(guard),
            )
            latency.observe(body)
            return False
        kind = body.get("kind")
        value = body.get(kind) if isinstance(kind, str) else None
        if not isinstance(value, int | float):
            value = None
        valid = bool(body.get("valid", False))
        reason = str(body.get("reason", ""))
        interval_s = _number(body.get("hop_s")) or 0.0
        if kind == "attention":
            policy.observe_attention(value, valid, reason, now, interval_s)
        elif kind == "stress":
            policy.observe_stress(value, valid, reason, now, interval_s)
        else:
            return False
        raw = body.get("trace")
        if isinstance(raw, dict):
            trace.update(raw)
        return True

    @staticmethod
    def _publish(
        publisher: BusPublisher, output: PolicyOutput, trace: dict[str, Any], trigger: str
    ) -> None:
        if output.decision is not None:
            publisher.publish("decision", output.decision.to_dict())
        body = output.control.to_dict()
        body["seq"] = publisher.next_seq("control")
        body["sample_time"] = trace.get("raw_publish_time")
        body["source_time"] = trace.get("raw_source_time")
        body["mode"] = output.mode
        body["trigger"] = trigger
        body["trace"] = dict(trace)
        publisher.publish("control", body)


def _guard_detail(guard: dict[str, Any]) -> str:
    similarity = _number(guard.get("min_similarity"))
    floor = _number(guard.get("identity_floor"))
    if similarity is not None and floor is not None:
        return f"identity similarity {similarity:.2f} (floor {floor:.2f})"
    return "a guard violation"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class _AppliedLatency:
    """Sample→applied latency (ms) from training jobs' ``model.status``: when the newest
    sample behind the applied control left the driver, to when the job applied it."""

    def __init__(self, keep: int = 512) -> None:
        self._values: list[float] = []
        self._keep = keep

    def observe(self, body: dict[str, Any] | Any) -> None:
        """From a model.status body: the applied control's sample_time → applied_at."""
        control = body.get("control") if isinstance(body, dict) else None
        sample_time = _number(control.get("sample_time")) if isinstance(control, dict) else None
        applied_at = _number(body.get("applied_at")) if isinstance(body, dict) else None
        if sample_time is None or applied_at is None or applied_at < sample_time:
            return
        self._values.append((applied_at - sample_time) * 1000.0)
        del self._values[: -self._keep]

    def summary(self) -> dict[str, float] | None:
        if not self._values:
            return None
        ordered = sorted(self._values)
        return {
            "p50": ordered[len(ordered) // 2],
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "n": float(len(ordered)),
        }
