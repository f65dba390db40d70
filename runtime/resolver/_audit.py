"""The audit trail: every decision published on ``decision`` (and so recorded) and logged."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from runtime.resolver._types import DECISION_TOPIC, Conflict, Decision, DecisionStep

logger = logging.getLogger("runtime.resolver")

#: What the audit publishes through: ``publish(topic, body)``, e.g. a bus publisher's method.
Publish = Callable[[str, Mapping[str, Any]], Any]


class AuditedResolver:
    """Wraps any :class:`DecisionStep` so that each decision leaves a trace.

    After ``step.decide`` returns, the decision's :meth:`Decision.to_dict` is handed to
    ``publish(topic, body)`` (the daemon passes its bus publisher; the recorder subscribes to
    ``decision``) and its explanation is logged at INFO (WARNING for a fail-safe decision). A
    publish that fails is logged and does not change or lose the decision: the controller
    still acts on it.
    """

    def __init__(self, step: DecisionStep, publish: Publish, topic: str = DECISION_TOPIC) -> None:
        self.step = step
        self.topic = topic
        self._publish = publish

    def decide(self, conflict: Conflict) -> Decision:
        """Decide through the wrapped step, then publish and log the decision."""
        decision = self.step.decide(conflict)
        level = logging.WARNING if decision.failed else logging.INFO
        logger.log(level, "%s: %s", decision.resolver, decision.explanation)
        try:
            self._publish(self.topic, decision.to_dict())
        except Exception as exc:
            logger.error(
                "%s: publishing the decision on %r failed (%s: %s); the decision stands",
                decision.resolver,
                self.topic,
                type(exc).__name__,
                exc,
                exc_info=True,
            )
        return decision
