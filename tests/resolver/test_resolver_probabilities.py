"""compute_probabilities: softmax with a temperature, exact zeros, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from runtime.resolver import ResolverError, compute_probabilities


@pytest.mark.parametrize("temperature", [0.25, 1.0, 3.0])
def test_matches_scipy_softmax_without_forbidden(temperature: float) -> None:
    rng = np.random.default_rng(7)
    for size in (1, 2, 3, 4, 7):
        scores = rng.normal(scale=3.0, size=size)
        got = compute_probabilities(scores, temperature, None)
        np.testing.assert_allclose(got, softmax(scores / temperature), rtol=1e-12, atol=1e-15)


def test_forbidden_options_are_exactly_zero_and_the_rest_is_the_allowed_softmax() -> None:
    scores = np.array([5.0, 1.0, -2.0, 0.5])
    mask = np.array([True, False, False, True])
    got = compute_probabilities(scores, 1.5, mask)
    assert got[0] == 0.0 and got[3] == 0.0
    np.testing.assert_allclose(got[~mask], softmax(scores[~mask] / 1.5), rtol=1e-12)
    assert got.sum() == pytest.approx(1.0, abs=1e-15)


def test_temperature_limits_are_uniform_and_argmax() -> None:
    scores = [0.3, 2.0, -1.0]
    np.testing.assert_allclose(compute_probabilities(scores, 1e6, None), [1 / 3] * 3, atol=1e-5)
    np.testing.assert_allclose(compute_probabilities(scores, 1e-3, None), [0, 1, 0], atol=1e-12)


def test_huge_scores_do_not_overflow() -> None:
    got = compute_probabilities([1000.0, 999.0, -1000.0], 1.0, None)
    assert np.all(np.isfinite(got))
    assert got[0] / got[1] == pytest.approx(np.e, rel=1e-12)


@pytest.mark.parametrize(
    ("scores", "temperature", "mask", "named"),
    [
        ([1.0, float("nan")], 1.0, None, "scores"),
        ([1.0, float("-inf")], 1.0, None, "scores"),
        ([], 1.0, None, "scores"),
        ([1.0, 2.0], 0.0, None, "temperature"),
        ([1.0, 2.0], -1.0, None, "temperature"),
        ([1.0, 2.0], float("inf"), None, "temperature"),
        ([1.0, 2.0], 1.0, [True], "forbidden_mask"),
        ([1.0, 2.0], 1.0, [True, True], "forbidden_mask"),
    ],
)
def test_bad_input_names_the_argument(scores, temperature, mask, named: str) -> None:
    with pytest.raises(ResolverError, match=named):
        compute_probabilities(scores, temperature, mask)
