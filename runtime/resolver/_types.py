"""What a conflict and a decision are: plain data, JSON-able, shared by every resolver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

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


@dataclass(frozen=True)
class Decision:
    """The outcome of one conflict, with everything an auditor needs to check it.

    ``index`` is the position of ``option`` in ``options`` (``-1`` when a fail-safe decision
    had to pick an option the conflict did not offer, see :class:`EthicsResolver`).
    ``probabilities`` are the designed probabilities the draw used, in option order; ``seed``
    is the simulator seed of this draw (0 for the deterministic rule, which draws nothing);
    ``latency_ms`` is the wall time spent in ``decide``.
    """

    option: str
    index: int
    probabilities: tuple[float, ...]
    options: tuple[str, ...]
    seed: int
    latency_ms: float
    explanation: str
    conflict_kind: str
    inputs: Mapping[str, Any]
    failed: bool = False
    resolver: str = "unspecified"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields: the body of a ``decision`` message and of its recording."""
        return {
            "option": self.option,
            "index": int(self.index),
            "probabilities": [float(p) for p in self.probabilities],
            "options": list(self.options),
            "seed": int(self.seed),
            "latency_ms": float(self.latency_ms),
            "explanation": self.explanation,
            "conflict_kind": self.conflict_kind,
            "inputs": to_jsonable(self.inputs),
            "failed": bool(self.failed),
            "resolver": self.resolver,
        }


class DecisionStep(Protocol):
    """Anything that settles a conflict: the quantum resolver, the deterministic rule, an audit."""

    def decide(self, conflict: Conflict) -> Decision:
        """Settle ``conflict``; never raises (a failure gives the fail-safe decision)."""
        ...


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, tuples, sets and mappings turned into JSON types.

    Anything else that JSON cannot carry becomes its ``repr``, so an odd input can never make
    the audit record unwritable.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=repr)
    return repr(value)
