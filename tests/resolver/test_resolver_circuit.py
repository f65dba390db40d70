"""The amplitude-encoding circuit: its exact distribution (Statevector oracle) and its size."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from runtime.resolver._circuit import AerAmplitudeSampler, build_encoding_circuit, count_qubits


def _random_vectors(size: int, rng: np.random.Generator) -> list[np.ndarray]:
    vectors = [np.full(size, 1.0 / size), np.eye(size)[0], np.eye(size)[-1]]
    for _ in range(4):
        p = rng.dirichlet(np.ones(size))
        p[rng.random(size) < 0.3] = 0.0
        if p.sum() == 0:
            p[0] = 1.0
        vectors.append(p / p.sum())
    return vectors


@pytest.mark.parametrize("n_options", [2, 3, 4, 5, 8, 9])
def test_circuit_distribution_equals_the_probabilities(n_options: int) -> None:
    sampler = AerAmplitudeSampler(n_options)
    rng = np.random.default_rng(n_options)
    for p in _random_vectors(n_options, rng):
        bound = sampler.bind(p).remove_final_measurements(inplace=False)
        exact = Statevector(bound).probabilities()
        target = np.zeros(1 << sampler.n_qubits)
        target[:n_options] = p
        np.testing.assert_allclose(exact, target, atol=1e-12)
        # Zero entries (forbidden options, padding) carry only rounding: |cos(pi/2)|^2 ~ 1e-33.
        assert np.all(exact[target == 0] < 1e-30)


@pytest.mark.parametrize(("n_options", "qubits"), [(2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4)])
def test_qubit_count_is_ceil_log2(n_options: int, qubits: int) -> None:
    assert count_qubits(n_options) == qubits == math.ceil(math.log2(n_options))


@pytest.mark.parametrize("n_qubits", [1, 2, 3, 4])
def test_multiplexed_tree_has_the_textbook_gate_count(n_qubits: int) -> None:
    # A tree of uniformly controlled RY gates: 2^l RY and (for l > 0) 2^l CNOT at level l.
    circuit, theta = build_encoding_circuit(n_qubits)
    ops = circuit.count_ops()
    assert len(theta) == ops["ry"] == 2**n_qubits - 1
    assert ops.get("cx", 0) == 2**n_qubits - 2
    assert ops["measure"] == n_qubits


def test_transpiled_once_and_parameterised() -> None:
    sampler = AerAmplitudeSampler(4)
    assert sampler.circuit.num_parameters == 3
    before = sampler.circuit
    sampler.draw(np.array([0.1, 0.2, 0.3, 0.4]), seed=1)
    assert sampler.circuit is before and sampler.circuit.num_parameters == 3


def test_direct_execution_draws_exactly_what_run_draws() -> None:
    direct = AerAmplitudeSampler(4)
    via_run = AerAmplitudeSampler(4, direct=False)
    assert direct.direct and not via_run.direct  # this Aer has the direct entry point
    p = np.array([0.1, 0.2, 0.3, 0.4])
    for seed in range(40):
        assert direct.draw(p, seed).tolist() == via_run.draw(p, seed).tolist()
    assert direct.draw(p, 7, shots=500).tolist() == via_run.draw(p, 7, shots=500).tolist()


def test_default_threading_draws_the_same() -> None:
    single = AerAmplitudeSampler(4)
    default = AerAmplitudeSampler(4, max_parallel_threads=None)
    p = np.array([0.4, 0.0, 0.35, 0.25])
    assert single.draw(p, 3, shots=1000).tolist() == default.draw(p, 3, shots=1000).tolist()
