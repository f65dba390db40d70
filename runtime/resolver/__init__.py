"""The ethics resolver: conflicts the controller cannot settle, decided by a seeded draw.

A :class:`Conflict` lists options with scores; :func:`compute_probabilities` turns them into
``softmax(scores / temperature)`` with exact zeros for forbidden options;
:class:`EthicsResolver` draws one option through an amplitude-encoding circuit on Qiskit Aer
(reproducible from a session seed); :class:`DeterministicResolver` applies the documented
rule instead. :func:`score_options` scores the standard options from attention, stress and
the model's guard margins. :class:`AuditedResolver` publishes every decision on
``decision``. Importing this package does not import qiskit: constructing
:class:`EthicsResolver` does.
"""

from runtime.resolver._audit import AuditedResolver
from runtime.resolver._base import choose_fail_safe
from runtime.resolver._deterministic import DeterministicResolver
from runtime.resolver._errors import ResolverError
from runtime.resolver._ethics import EthicsResolver
from runtime.resolver._probabilities import compute_probabilities
from runtime.resolver._scoring import STANDARD_OPTIONS, ScoredOptions, ScoringWeights, score_options
from runtime.resolver._seeds import derive_decision_seed
from runtime.resolver._types import (
    DECISION_TOPIC,
    GENTLENESS_ORDER,
    Conflict,
    Decision,
    DecisionStep,
)

__all__ = [
    "DECISION_TOPIC",
    "GENTLENESS_ORDER",
    "STANDARD_OPTIONS",
    "AuditedResolver",
    "Conflict",
    "Decision",
    "DecisionStep",
    "DeterministicResolver",
    "EthicsResolver",
    "ResolverError",
    "ScoredOptions",
    "ScoringWeights",
    "choose_fail_safe",
    "compute_probabilities",
    "derive_decision_seed",
    "score_options",
]
