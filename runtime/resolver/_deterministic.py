"""The deterministic rule: the most probable allowed option, ties to the gentlest."""

from __future__ import annotations

import numpy as np

from runtime.resolver._base import BaseResolver
from runtime.resolver._probabilities import gentleness_rank
from runtime.resolver._types import Conflict

#: Probabilities this close (relative) count as a tie; softmax of equal scores can differ in
#: the last bit.
_TIE_RTOL = 1e-12


class DeterministicResolver(BaseResolver):
    """Settles a conflict without randomness, for runs that must not draw (or lack qiskit).

    The rule: compute the same probabilities as :class:`EthicsResolver` (softmax of the
    scores over the allowed options), pick the most probable option, and break ties towards
    the gentlest, in the order ``pause, gentle, hold, intensify`` (other names after those,
    then by position). Decisions carry seed 0. Failures give the fail-safe decision, as in
    :class:`EthicsResolver`.
    """

    name = "deterministic"
    _method = "deterministic rule (most probable allowed option, ties to the gentlest)"

    def __init__(self, temperature: float = 1.0, fail_safe_option: str = "gentle") -> None:
        super().__init__(temperature, fail_safe_option, max_options=None)

    def _next_seed(self) -> int:
        return 0

    def _choose(self, conflict: Conflict, probabilities: np.ndarray, seed: int) -> int:
        best = probabilities.max()
        tied = [
            i
            for i, p in enumerate(probabilities)
            if p > 0.0 and np.isclose(p, best, rtol=_TIE_RTOL, atol=0.0)
        ]
        return min(tied, key=lambda i: (gentleness_rank(conflict.options[i]), i))
