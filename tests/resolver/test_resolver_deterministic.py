"""DeterministicResolver: the most probable allowed option, ties to the gentlest."""

from __future__ import annotations

import pytest

from runtime.resolver import Conflict, DeterministicResolver

OPTIONS = ("intensify", "hold", "gentle", "pause")


@pytest.mark.parametrize(
    ("scores", "forbidden", "expected"),
    [
        ((3.0, 1.0, 2.0, 0.0), frozenset(), "intensify"),
        ((3.0, 1.0, 2.0, 0.0), frozenset({"intensify"}), "gentle"),
        ((0.0, 1.0, 1.0, 0.0), frozenset(), "gentle"),  # hold/gentle tie → gentle
        ((0.0, 0.0, 0.0, 0.0), frozenset(), "pause"),  # all tie → pause
        ((2.0, 2.0, 0.0, 0.0), frozenset(), "hold"),  # intensify/hold tie → hold
        ((5.0, 0.0, 0.0, 0.0), frozenset({"intensify", "pause"}), "gentle"),
    ],
)
def test_rule(scores, forbidden, expected: str) -> None:
    decision = DeterministicResolver().decide(Conflict("k", OPTIONS, scores, forbidden))
    assert not decision.failed
    assert decision.option == expected
    assert decision.seed == 0 and decision.resolver == "deterministic"
    assert decision.probabilities[decision.index] == max(decision.probabilities)


def test_ties_between_unknown_names_go_to_the_first() -> None:
    decision = DeterministicResolver().decide(Conflict("k", ("b", "a", "c"), (1.0, 1.0, 0.0)))
    assert decision.option == "b"


def test_temperature_changes_the_probabilities_not_the_choice() -> None:
    conflict = Conflict("k", OPTIONS, (1.0, 0.5, 0.0, -1.0))
    cold = DeterministicResolver(temperature=0.1).decide(conflict)
    hot = DeterministicResolver(temperature=10.0).decide(conflict)
    assert cold.option == hot.option == "intensify"
    assert cold.probabilities[0] > hot.probabilities[0]


def test_failure_gives_the_fail_safe() -> None:
    decision = DeterministicResolver().decide(Conflict("k", OPTIONS, (1.0,)))
    assert decision.failed and decision.option == "gentle" and decision.index == 2
