"""What a conflict and a decision are: plain data, JSON-able, shared by every resolver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.messages import Decision, to_jsonable  # noqa: F401  (re-exported)

#: Bus topic every decision is published on (and recorded from).
DECISION_TOPIC = "decision"

#: Options from the gentlest to the strongest. Ties in the deterministic rule and the choice of a
#: fall-back option follow this order; option names not listed here rank after all of them.
GENTLENESS_ORDER: tuple[str, ...] = ("pause", "gentle", "hold", "intensify")


@dataclass(frozen=True)
class Conflict:
    """A situation the controller cannot settle by its rules, with scored options.

    ``scores`` are log-odds-like numbers, one per option (higher is more favoured); the
    resolver turns them into probabilities with ``softmax(scores / temperature)``. Options in
    ``forbidden`` get probability exactly 0. ``inputs`` is the state the scores came from
    (JSON-able); it goes into the audit trail unchanged. The fields are not validated here: a
    malformed conflict reaching :meth:`DecisionStep.decide` yields the fail-safe decision
    rather than an exception in the controller.
    """

    kind: str
    options: tuple[str, ...]
    scores: tuple[float, ...]
    forbidden: frozenset[str] = frozenset()
    inputs: Mapping[str, Any] = field(default_factory=dict)


class DecisionStep(Protocol):
    """Anything that settles a conflict: the quantum resolver, the deterministic rule, an audit."""

    def decide(self, conflict: Conflict) -> Decision:
        """Settle ``conflict``; never raises (a failure gives the fail-safe decision)."""
        ...


