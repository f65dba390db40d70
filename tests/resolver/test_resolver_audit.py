"""AuditedResolver: every decision, fail-safe ones included, published on ``decision``."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from runtime.resolver import (
    DECISION_TOPIC,
    AuditedResolver,
    Conflict,
    DeterministicResolver,
    EthicsResolver,
)

OPTIONS = ("intensify", "hold", "gentle", "pause")


def test_each_decision_is_published_as_json(caplog: pytest.LogCaptureFixture) -> None:
    published: list[tuple[str, str]] = []

    def publish(topic: str, body: Mapping[str, Any]) -> None:
        published.append((topic, json.dumps(body)))

    audited = AuditedResolver(EthicsResolver(session_seed=6), publish)
    good = Conflict("intensify-vs-gentle", OPTIONS, (1.0, 0.0, 1.0, -1.0), inputs={"a": 1})
    bad = Conflict("poor-signal", OPTIONS, (1.0,))
    with caplog.at_level(logging.INFO, logger="runtime.resolver"):
        decisions = [audited.decide(good), audited.decide(bad)]
    assert [topic for topic, _ in published] == [DECISION_TOPIC, DECISION_TOPIC] == ["decision"] * 2
    bodies = [json.loads(text) for _, text in published]
    assert bodies == [d.to_dict() for d in decisions]
    assert bodies[0]["inputs"] == {"a": 1} and not bodies[0]["failed"]
    assert bodies[1]["failed"] and bodies[1]["option"] == "gentle"
    explanations = [r.getMessage() for r in caplog.records if r.name == "runtime.resolver"]
    assert any(decisions[0].explanation in m for m in explanations)


def test_a_failing_publish_does_not_lose_the_decision(caplog: pytest.LogCaptureFixture) -> None:
    def publish(topic: str, body: Mapping[str, Any]) -> None:
        raise ConnectionError("bus down")

    audited = AuditedResolver(DeterministicResolver(), publish)
    with caplog.at_level(logging.ERROR, logger="runtime.resolver"):
        decision = audited.decide(Conflict("k", OPTIONS, (0.0, 0.0, 3.0, 0.0)))
    assert decision.option == "gentle" and not decision.failed
    assert any("bus down" in r.getMessage() for r in caplog.records)
