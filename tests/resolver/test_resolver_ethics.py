"""EthicsResolver on Qiskit Aer: fit of the draws, forbidden options, seeds, fail-safe."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from runtime.resolver import (
    Conflict,
    EthicsResolver,
    ResolverError,
    derive_decision_seed,
)

PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[2]
OPTIONS = ("intensify", "hold", "gentle", "pause")
DRAWS = 20_000
P_MIN = 1e-3


@pytest.fixture(scope="module")
def resolver8() -> EthicsResolver:
    """A resolver for up to 8 options (3 qubits), shared by the sampling tests."""
    return EthicsResolver(session_seed=2024, max_options=8)


def _conflict_for(p: list[float], kind: str = "test") -> Conflict:
    """A conflict whose softmax at temperature 1 is exactly ``p`` (zeros are forbidden)."""
    options = OPTIONS if len(p) == 4 else tuple(f"o{i}" for i in range(len(p)))
    return Conflict(
        kind=kind,
        options=options,
        scores=tuple(math.log(v) if v > 0 else 0.0 for v in p),
        forbidden=frozenset(o for o, v in zip(options, p, strict=True) if v == 0),
        inputs={"case": kind},
    )


def _fit_p_value(counts: np.ndarray, p: np.ndarray) -> float:
    support = p > 0
    return float(chisquare(counts[support], p[support] * counts.sum()).pvalue)


@pytest.mark.parametrize(
    "p",
    [
        [0.3, 0.7],
        [0.2, 0.5, 0.3],
        [0.1, 0.2, 0.3, 0.4],
        [0.5, 0.0, 0.25, 0.25],
        [0.05, 0.15, 0.0, 0.3, 0.5],
        [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.93],
    ],
)
def test_sampled_frequencies_fit_the_probabilities(resolver8: EthicsResolver, p: list[float]):
    draws = resolver8.sample(p, DRAWS)
    assert draws.shape == (DRAWS,)
    counts = np.bincount(draws, minlength=8)
    target = np.zeros(8)
    target[: len(p)] = p
    assert counts[target == 0].sum() == 0, "an option with probability 0 was drawn"
    assert _fit_p_value(counts, target) > P_MIN


def test_decide_path_frequencies_fit_the_probabilities() -> None:
    # Every decision is its own single-shot run with its own derived seed: the seeds must not
    # correlate the outcomes.
    p = [0.15, 0.25, 0.35, 0.25]
    resolver = EthicsResolver(session_seed=99)
    conflict = _conflict_for(p)
    decisions = [resolver.decide(conflict) for _ in range(2000)]
    assert not any(d.failed for d in decisions)
    counts = np.bincount([d.index for d in decisions], minlength=4)
    assert _fit_p_value(counts, np.array(p)) > P_MIN


def test_forbidden_option_is_never_decided_even_with_the_best_score() -> None:
    resolver = EthicsResolver(session_seed=5)
    conflict = Conflict(
        kind="guard-violation",
        options=OPTIONS,
        scores=(10.0, 0.0, 0.0, 0.0),
        forbidden=frozenset({"intensify"}),
    )
    decisions = [resolver.decide(conflict) for _ in range(400)]
    assert all(d.option != "intensify" and not d.failed for d in decisions)
    assert all(d.probabilities[0] == 0.0 for d in decisions)
    assert {d.option for d in decisions} == {"hold", "gentle", "pause"}


def test_decision_records_its_inputs_seed_and_explanation() -> None:
    resolver = EthicsResolver(session_seed=11, temperature=2.0)
    conflict = Conflict(
        kind="intensify-vs-gentle",
        options=OPTIONS,
        scores=(1.0, 0.0, 1.0, -1.0),
        forbidden=frozenset({"pause"}),
        inputs={"attention": 0.85, "stress": 0.75},
    )
    for k in range(5):
        decision = resolver.decide(conflict)
        assert decision.seed == derive_decision_seed(11, k)
        assert decision.options[decision.index] == decision.option
        expected = np.exp(np.array([1.0, 0.0, 1.0]) / 2.0)
        np.testing.assert_allclose(decision.probabilities[:3], expected / expected.sum())
        assert decision.probabilities[3] == 0.0
        assert decision.latency_ms > 0 and not decision.failed
        assert decision.resolver == "qiskit-aer" and decision.conflict_kind == conflict.kind
        assert decision.option in decision.explanation and conflict.kind in decision.explanation
        body = json.loads(json.dumps(decision.to_dict()))
        assert body["inputs"] == {"attention": 0.85, "stress": 0.75}
        assert body["option"] == decision.option and body["seed"] == decision.seed
        assert resolver.replay(decision) == decision.index
    assert resolver.decisions_made == 5


_CHILD = """
import json
from runtime.resolver import Conflict, EthicsResolver
resolver = EthicsResolver(session_seed={seed})
conflict = Conflict("poor-signal", {options!r}, (0.0, 0.2, 0.4, -0.1))
print(json.dumps([[d.option, d.seed] for d in (resolver.decide(conflict) for _ in range(200))]))
"""


def _decisions_in_process(seed: int) -> list[list]:
    resolver = EthicsResolver(session_seed=seed)
    conflict = Conflict("poor-signal", OPTIONS, (0.0, 0.2, 0.4, -0.1))
    return [[d.option, d.seed] for d in (resolver.decide(conflict) for _ in range(200))]


def test_same_session_seed_gives_the_same_decisions_in_another_process() -> None:
    child = subprocess.run(
        [PYTHON, "-c", _CHILD.format(seed=31337, options=OPTIONS)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    theirs = json.loads(child.stdout)
    ours = _decisions_in_process(31337)
    assert theirs == ours
    assert len({option for option, _ in ours}) == 4  # the draws do vary
    assert [o for o, _ in _decisions_in_process(31338)] != [o for o, _ in ours]


def test_sampling_does_not_shift_the_decision_seeds() -> None:
    a = EthicsResolver(session_seed=8)
    b = EthicsResolver(session_seed=8)
    b.sample([0.5, 0.5], 100)
    conflict = _conflict_for([0.25, 0.25, 0.25, 0.25])
    assert [a.decide(conflict).option for _ in range(50)] == [
        b.decide(conflict).option for _ in range(50)
    ]


def test_concurrent_decisions_use_each_seed_once() -> None:
    resolver = EthicsResolver(session_seed=3)
    conflict = _conflict_for([0.25, 0.25, 0.25, 0.25])
    seeds: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            decision = resolver.decide(conflict)
            with lock:
                seeds.append(decision.seed)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(seeds) == sorted(derive_decision_seed(3, k) for k in range(100))


def test_injected_simulator_failure_gives_the_fail_safe(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    resolver = EthicsResolver(session_seed=1)
    conflict = _conflict_for([0.7, 0.1, 0.1, 0.1])

    def broken_run(*args, **kwargs):
        raise RuntimeError("injected simulator fault")

    # The simulator's native entry point, under both the direct and the run() path.
    monkeypatch.setattr(resolver._sampler._simulator, "_execute_circuits", broken_run)
    with caplog.at_level(logging.ERROR, logger="runtime.resolver"):
        decision = resolver.decide(conflict)
    assert decision.failed and decision.option == "gentle" and decision.index == 2
    assert "RuntimeError" in decision.explanation and "injected" in decision.explanation
    assert decision.seed == derive_decision_seed(1, 0)
    assert any(
        r.name == "runtime.resolver" and r.levelno == logging.ERROR and "injected" in r.getMessage()
        for r in caplog.records
    )
    json.dumps(decision.to_dict())
    monkeypatch.undo()
    recovered = resolver.decide(conflict)
    assert not recovered.failed and recovered.seed == derive_decision_seed(1, 1)


def test_an_outcome_with_probability_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = EthicsResolver(session_seed=1)
    conflict = _conflict_for([0.0, 0.5, 0.5, 0.0])
    monkeypatch.setattr(resolver._sampler, "draw", lambda *a, **k: np.array([0]))
    decision = resolver.decide(conflict)
    assert decision.failed and decision.option == "gentle"
    assert "probability 0" in decision.explanation


@pytest.mark.parametrize(
    ("forbidden", "option", "index"),
    [
        ({"gentle"}, "pause", 3),
        ({"gentle", "pause"}, "hold", 1),
        ({"gentle", "pause", "hold"}, "gentle", -1),  # never intensify; the safe state wins
    ],
)
def test_fail_safe_falls_back_when_gentle_is_forbidden(
    monkeypatch: pytest.MonkeyPatch, forbidden: set[str], option: str, index: int
) -> None:
    resolver = EthicsResolver(session_seed=2)
    monkeypatch.setattr(resolver._sampler, "draw", _raise)
    conflict = Conflict("k", OPTIONS, (0.0, 0.0, 0.0, 0.0), frozenset(forbidden))
    decision = resolver.decide(conflict)
    assert decision.failed and (decision.option, decision.index) == (option, index)


def _raise(*args, **kwargs):
    raise RuntimeError("injected")


@pytest.mark.parametrize(
    "conflict",
    [
        Conflict("k", OPTIONS, (1.0, 2.0)),  # one score short
        Conflict("k", OPTIONS, (1.0, 2.0, 3.0, float("nan"))),
        Conflict("k", OPTIONS, (1.0, 2.0, 3.0, 4.0), frozenset({"intensfy"})),  # misspelt
        Conflict("k", ("a", "b", "c", "d", "e"), (0.0,) * 5),  # more than max_options
        Conflict("k", ("a", "a"), (0.0, 0.0)),
        Conflict("k", (), ()),
        Conflict("k", OPTIONS, (0.0,) * 4, frozenset(OPTIONS)),  # nothing allowed
    ],
)
def test_malformed_conflicts_give_the_fail_safe_not_an_exception(conflict: Conflict) -> None:
    decision = EthicsResolver(session_seed=4).decide(conflict)
    assert decision.failed and decision.option == "gentle"
    assert "ResolverError" in decision.explanation
    json.dumps(decision.to_dict())


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"session_seed": -1}, "session_seed"),
        ({"session_seed": 1.5}, "session_seed"),
        ({"session_seed": 1, "max_options": 1}, "max_options"),
        ({"session_seed": 1, "temperature": 0.0}, "temperature"),
        ({"session_seed": 1, "fail_safe_option": "intensify"}, "fail_safe_option"),
    ],
)
def test_constructor_rejects_bad_settings(kwargs: dict, named: str) -> None:
    with pytest.raises(ResolverError, match=named):
        EthicsResolver(**kwargs)


@pytest.mark.parametrize(
    ("probabilities", "n", "named"),
    [
        ([0.5, 0.4], 10, "probabilities"),
        ([0.5, -0.5, 1.0], 10, "probabilities"),
        ([0.1] * 10, 10, "probabilities"),
        ([0.5, 0.5], 0, "'n'"),
    ],
)
def test_sample_rejects_bad_input(resolver8, probabilities, n, named: str) -> None:
    with pytest.raises(ResolverError, match=named):
        resolver8.sample(probabilities, n)


def test_importing_the_package_does_not_import_qiskit() -> None:
    code = (
        "import sys, runtime.resolver, runtime.cli._resolve; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('qiskit', 'qiskit_aer')))"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
