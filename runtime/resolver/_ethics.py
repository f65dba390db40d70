"""The ethics resolver: a seeded draw through an amplitude-encoding circuit on Qiskit Aer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runtime.resolver._base import BaseResolver
from runtime.resolver._circuit import AerAmplitudeSampler
from runtime.resolver._errors import ResolverError
from runtime.resolver._seeds import DECISION_STREAM, SAMPLE_STREAM, derive_decision_seed
from runtime.resolver._types import Conflict, Decision

#: How far a probability vector given to :meth:`EthicsResolver.sample` may sum from 1.
_SUM_TOLERANCE = 1e-9
#: Warm-up runs at construction, so the first real decision is not the slow one.
_WARMUP_RUNS = 3


def check_probability_vector(
    probabilities: Sequence[float] | np.ndarray, max_options: int
) -> np.ndarray:
    """``probabilities`` as a float array, or a :class:`ResolverError` saying what is wrong."""
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 1 or not 1 <= p.size <= max_options:
        raise ResolverError(
            f"The argument 'probabilities' must be a 1-D vector of 1 to {max_options} entries; "
            f"got shape {p.shape}. Build the resolver with a larger max_options for more."
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ResolverError(
            f"The argument 'probabilities' must be finite and non-negative; got {p.tolist()}."
        )
    if abs(p.sum() - 1.0) > _SUM_TOLERANCE:
        raise ResolverError(
            f"The argument 'probabilities' must sum to 1; {p.tolist()} sums to {p.sum()!r}. "
            "Divide by the sum first."
        )
    return p / p.sum()


class EthicsResolver(BaseResolver):
    """Randomised, reproducible, auditable decisions drawn on ``AerSimulator``.

    Each decision computes ``softmax(scores / temperature)`` over the allowed options
    (forbidden ones get exactly 0), encodes it in the amplitudes of a ``ceil(log2
    max_options)``-qubit circuit (see :mod:`runtime.resolver._circuit`) and measures once on
    ``AerSimulator(max_parallel_threads=1)``, with seed :func:`derive_decision_seed`
    ``(session_seed, k)`` for the ``k``-th decision. The same session seed therefore gives the
    same decisions in any process. The circuit is built and transpiled here, once; a decision
    only binds angles and runs it in the calling thread (see :class:`AerAmplitudeSampler`),
    well under a millisecond on an idle core.

    Fail-safe: any error inside :meth:`decide` (a malformed conflict, a simulator failure, an
    outcome with probability 0) gives a decision with ``failed=True`` and the option chosen by
    :func:`choose_fail_safe`: ``fail_safe_option`` if allowed, else the gentlest allowed of
    ``pause, gentle, hold``, else ``fail_safe_option`` anyway with index -1, because the safe
    state cannot be vetoed by the conflict that failed. The error is logged on
    ``runtime.resolver``.

    Importing :mod:`runtime.resolver` does not import qiskit; constructing this class does.
    """

    name = "qiskit-aer"
    _method = "quantum draw (seed {seed})"

    def __init__(
        self,
        session_seed: int,
        max_options: int = 4,
        temperature: float = 1.0,
        fail_safe_option: str = "gentle",
    ) -> None:
        if isinstance(session_seed, bool) or not isinstance(session_seed, int | np.integer):
            raise ResolverError(
                f"The argument 'session_seed' must be a non-negative integer; {session_seed!r} "
                "is invalid."
            )
        if session_seed < 0:
            raise ResolverError(
                f"The argument 'session_seed' must be a non-negative integer; {session_seed} is "
                "invalid. Use abs() or a fresh secrets.randbits(32)."
            )
        if isinstance(max_options, bool) or not isinstance(max_options, int) or max_options < 2:
            raise ResolverError(
                f"The argument 'max_options' must be an integer >= 2; {max_options!r} is invalid."
            )
        super().__init__(temperature, fail_safe_option, max_options=max_options)
        self.session_seed = int(session_seed)
        self._decisions = 0
        self._samples = 0
        self._sampler = AerAmplitudeSampler(max_options, max_parallel_threads=1)
        uniform = np.full(max_options, 1.0 / max_options)
        for _ in range(_WARMUP_RUNS):
            self._sampler.draw(uniform, seed=0)

    @property
    def n_qubits(self) -> int:
        """Qubits of the circuit: ``ceil(log2 max_options)``."""
        return self._sampler.n_qubits

    @property
    def decisions_made(self) -> int:
        """How many decisions (failed ones included) this session has made."""
        return self._decisions

    def _next_seed(self) -> int:
        seed = derive_decision_seed(self.session_seed, self._decisions, DECISION_STREAM)
        self._decisions += 1
        return seed

    def _choose(self, conflict: Conflict, probabilities: np.ndarray, seed: int) -> int:
        return int(self._sampler.draw(probabilities, seed, shots=1)[0])

    def sample(self, probabilities: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
        """``n`` outcome indices drawn through the real circuit, in one ``n``-shot Aer run.

        A diagnostic (the CLI, the statistical tests): it uses the same circuit and binding as
        :meth:`decide`, seeded from a separate stream of the session seed, so it does not shift
        the decisions' seeds. ``probabilities`` must be non-negative and sum to 1. Aer keeps
        every shot as a string: budget about 60 bytes per draw (a million draws, about 60 MB).
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ResolverError(f"The argument 'n' must be a positive integer; {n!r} is invalid.")
        p = check_probability_vector(probabilities, self.max_options or 0)
        with self._lock:
            seed = derive_decision_seed(self.session_seed, self._samples, SAMPLE_STREAM)
            self._samples += 1
            return self._sampler.draw(p, seed, shots=int(n))

    def replay(self, decision: Decision) -> int:
        """Redraw ``decision`` from its recorded probabilities and seed; returns the index.

        For an audit: a recorded, non-failed decision of this resolver replays to its own
        ``index`` on any machine with the same Qiskit Aer.
        """
        if decision.failed or not decision.probabilities:
            raise ResolverError(
                "The argument 'decision' is a fail-safe decision; it was not drawn, so there is "
                "nothing to replay."
            )
        p = check_probability_vector(decision.probabilities, self.max_options or 0)
        with self._lock:
            return int(self._sampler.draw(p, decision.seed, shots=1)[0])
