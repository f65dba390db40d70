"""Amplitude encoding of a probability vector in a parameterised circuit on Qiskit Aer.

The circuit on ``m = ceil(log2 n)`` qubits is a binary tree of RY rotations. Outcome ``i`` is
the basis state whose qubit ``k`` holds bit ``k`` of ``i`` (Qiskit's little-endian order). Level
``l`` (0 at the root) rotates qubit ``m-1-l`` conditioned on the ``l`` qubits above it: for each
prefix ``j`` of those qubits the node splits the mass ``p_parent`` of its subtree into the
halves ``p_left`` (bit 0) and ``p_right``, with the angle ``alpha_j = 2 arccos(sqrt(p_left /
p_parent))`` (0 for an empty subtree). Measuring then gives outcome ``i`` with probability
``p_i`` exactly, up to rounding (about 1e-16, and about 1e-33 on zero entries).

A rotation conditioned on every prefix at once is a uniformly controlled RY (multiplexed RY).
It is built from ``2^l`` plain RY gates and ``2^l`` CNOTs in Gray-code order (Möttönen et al.
2004, "Transformation of quantum states using uniformly controlled rotations", Quantum Inf.
Comput. 5:467): the gate angles are ``theta = M^T alpha / 2^l`` with ``M[j, i] =
(-1)^popcount(j & gray(i))``. The circuit has ``2^m - 1`` parameters; it is built and
transpiled once, and each draw only binds numbers and runs.

Only :class:`AerAmplitudeSampler` touches qiskit, and imports it in its constructor, so
importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from runtime.resolver._errors import ResolverError

logger = logging.getLogger("runtime.resolver")


def count_qubits(n_options: int) -> int:
    """Qubits needed for ``n_options`` outcomes: ``ceil(log2 n)``, at least 1."""
    return max(1, math.ceil(math.log2(n_options)))


def _gray(i: int) -> int:
    return i ^ (i >> 1)


def _multiplexor_matrix(n_controls: int) -> np.ndarray:
    size = 1 << n_controls
    j = np.arange(size)[:, None]
    g = np.array([_gray(i) for i in range(size)])[None, :]
    parity = np.vectorize(lambda v: bin(v).count("1") & 1)(j & g)
    return np.where(parity == 1, -1.0, 1.0)


def compute_tree_angles(probabilities: np.ndarray, n_qubits: int) -> list[np.ndarray]:
    """Node angles ``alpha`` of each tree level (level ``l`` has ``2^l`` of them), in radians.

    ``probabilities`` is padded with zeros to ``2^n_qubits`` entries.
    """
    size = 1 << n_qubits
    p = np.zeros(size, dtype=float)
    p[: probabilities.size] = probabilities
    levels = []
    for level in range(n_qubits):
        halves = p.reshape(1 << level, 2, size >> (level + 1)).sum(axis=2)
        parent = halves.sum(axis=1)
        ratio = np.ones_like(parent)
        nonempty = parent > 0
        ratio[nonempty] = halves[nonempty, 0] / parent[nonempty]
        levels.append(2.0 * np.arccos(np.sqrt(np.clip(ratio, 0.0, 1.0))))
    return levels


class AmplitudeEncoder:
    """Maps a probability vector to the gate angles of the circuit, in parameter order."""

    def __init__(self, n_qubits: int) -> None:
        self.n_qubits = n_qubits
        self.n_outcomes = 1 << n_qubits
        self._inverse = [_multiplexor_matrix(level).T / (1 << level) for level in range(n_qubits)]

    @property
    def n_parameters(self) -> int:
        """Number of RY gates (and circuit parameters): ``2^n_qubits - 1``."""
        return self.n_outcomes - 1

    def gate_angles(self, probabilities: np.ndarray) -> np.ndarray:
        """The RY angles that make the circuit's outcome distribution equal ``probabilities``."""
        levels = compute_tree_angles(probabilities, self.n_qubits)
        return np.concatenate(
            [inv @ alpha for inv, alpha in zip(self._inverse, levels, strict=True)]
        )


def build_encoding_circuit(n_qubits: int) -> tuple[Any, Any]:
    """The parameterised circuit (measuring every qubit) and its ``ParameterVector``.

    Gate ``k`` of the circuit is ``RY(theta[k])``, in the order of
    :meth:`AmplitudeEncoder.gate_angles`.
    """
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

    theta = ParameterVector("theta", (1 << n_qubits) - 1)
    circuit = QuantumCircuit(n_qubits, n_qubits, name="ethics_resolver")
    k = 0
    for level in range(n_qubits):
        target = n_qubits - 1 - level
        controls = [n_qubits - level + c for c in range(level)]
        size = 1 << level
        for i in range(size):
            circuit.ry(theta[k], target)
            k += 1
            if level:
                changed = (_gray(i) ^ _gray((i + 1) % size)).bit_length() - 1
                circuit.cx(controls[changed], target)
    circuit.measure(range(n_qubits), range(n_qubits))
    return circuit, theta


class AerAmplitudeSampler:
    """Draws outcomes of the encoding circuit on ``AerSimulator``, transpiled once.

    ``max_parallel_threads=1`` (the default here) keeps a decision on one core, so it never
    competes with a training job for more. (For this circuit, a few qubits and one shot, Aer's
    default threading measured no slower in ``bench/bench_resolver.py``: Aer only parallelises
    many shots or many qubits.) ``None`` leaves Aer's default, for the benchmark's comparison.

    ``direct=True`` runs the simulation in the calling thread. ``AerSimulator.run`` hands every
    job to a worker thread and the caller waits on a future: two thread wake-ups per decision,
    each of which can wait for a time slice when the cores are busy (the loaded p99 was 3 to
    13 times higher through ``run()`` here, see ``bench/bench_resolver.py``). The direct call
    is the function that worker runs, ``AerSimulator._execute_circuits_job``: a private Aer
    method, so at construction a probe compares its outcomes with ``run()``'s for the same
    seeds and falls back to ``run()`` (logging why) if it is missing or disagrees.
    """

    def __init__(
        self, max_options: int, max_parallel_threads: int | None = 1, direct: bool = True
    ) -> None:
        from qiskit import transpile
        from qiskit_aer import AerSimulator

        if not isinstance(max_options, int) or max_options < 2:
            raise ResolverError(
                f"The argument 'max_options' must be an integer >= 2; {max_options!r} is invalid."
            )
        self.max_options = max_options
        self.n_qubits = count_qubits(max_options)
        self.encoder = AmplitudeEncoder(self.n_qubits)
        options = (
            {} if max_parallel_threads is None else {"max_parallel_threads": max_parallel_threads}
        )
        self._simulator = AerSimulator(**options)
        circuit, self._theta = build_encoding_circuit(self.n_qubits)
        self.circuit = transpile(circuit, self._simulator)
        self.direct = False
        if direct:
            self.direct = self._probe_direct()

    def bind(self, probabilities: np.ndarray) -> Any:
        """The transpiled circuit with the angles for ``probabilities`` bound."""
        return self.circuit.assign_parameters(
            {self._theta: self.encoder.gate_angles(probabilities)}
        )

    def draw(self, probabilities: np.ndarray, seed: int, shots: int = 1) -> np.ndarray:
        """``shots`` outcome indices (in draw order) from one seeded run of the circuit."""
        memory = self._run(self.bind(probabilities), int(seed), int(shots), self.direct)
        return np.fromiter((int(bits, 2) for bits in memory), dtype=np.int64, count=len(memory))

    def _run(self, circuit: Any, seed: int, shots: int, direct: bool) -> list[str]:
        options = {"shots": shots, "seed_simulator": seed, "memory": True}
        if direct:
            result = self._simulator._execute_circuits_job([circuit], None, options)
        else:
            result = self._simulator.run(circuit, **options).result()
        return result.get_memory()

    def _probe_direct(self) -> bool:
        """True if the direct call works and draws exactly what ``run()`` draws."""
        circuit = self.bind(np.full(self.max_options, 1.0 / self.max_options))
        try:
            same = all(
                self._run(circuit, seed, 16, direct=True)
                == self._run(circuit, seed, 16, direct=False)
                for seed in (1, 2)
            )
        except Exception as exc:  # an Aer version without the private method
            logger.info(
                "resolver: direct Aer execution unavailable (%s: %s); using AerSimulator.run",
                type(exc).__name__,
                exc,
            )
            return False
        if not same:
            logger.warning(
                "resolver: direct Aer execution draws differently from AerSimulator.run; "
                "using AerSimulator.run"
            )
        return same
