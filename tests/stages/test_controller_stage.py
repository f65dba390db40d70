"""The controller stage on a real bus: conflicts go to the Qiskit resolver and every
decision is published on `decision` with its audit fields."""

from __future__ import annotations

import threading
import time

from runtime.bus import BusPublisher, BusSubscriber
from runtime.controller import ControllerSettings
from runtime.stages import ControllerStage, StageContext, SupervisedStage


def test_a_poor_signal_conflict_is_decided_by_the_quantum_resolver_and_published(broker):
    settings = ControllerSettings(decision="quantum", decision_seed=7, require_stress=True)
    stop = threading.Event()
    context = StageContext("controller", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    stage = SupervisedStage(context, ControllerStage(settings, status_interval_s=0.5))
    decisions = BusSubscriber(broker.subscribe_endpoint, ("decision", "control"))
    features = BusPublisher(broker.publish_endpoint, "features")
    stage.start()
    try:
        assert context.ready.wait(30), "controller stage did not start"
        decision = control = None
        end = time.monotonic() + 30
        while (decision is None or control is None) and time.monotonic() < end:
            features.publish("features.attention", {
                "kind": "attention", "attention": None, "valid": False,
                "reason": "too few good channels (1/8)", "hop_s": 0.25,
            })
            features.publish("features.stress", {
                "kind": "stress", "stress": 0.4, "valid": True, "reason": "", "hop_s": 5.0,
            })
            message = decisions.recv(timeout_s=0.2)
            if message is not None and message.topic == "decision":
                decision = message
            elif message is not None and message.body.get("rule", "").startswith("decision:"):
                control = message
        assert decision is not None, "no decision was published"
        body = decision.body
        assert body["resolver"] == "qiskit-aer" and body["conflict_kind"] == "poor-signal"
        assert body["options"] == ["intensify", "hold", "gentle", "pause"]
        assert body["probabilities"][0] == 0.0  # intensify is forbidden without evidence
        assert abs(sum(body["probabilities"]) - 1.0) < 1e-9
        assert body["option"] in ("hold", "gentle", "pause") and body["explanation"]
        assert isinstance(body["seed"], int) and body["latency_ms"] >= 0
        assert control is not None and control.body["rule"].startswith(f"decision:{body['option']}")
    finally:
        stop.set()
        stage.join(5)
        decisions.close()
        features.close()
