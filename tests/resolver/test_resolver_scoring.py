"""score_options: the documented scoring of intensify/hold/gentle/pause from the state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runtime.resolver import (
    STANDARD_OPTIONS,
    DeterministicResolver,
    ResolverError,
    compute_probabilities,
    score_options,
)


def _probabilities(state: dict) -> dict[str, float]:
    scored = score_options(state)
    mask = [o in scored.forbidden for o in scored.options]
    p = compute_probabilities(scored.scores, 1.0, mask)
    return dict(zip(scored.options, p, strict=True))


def test_options_and_hold_reference() -> None:
    scored = score_options({"attention": 0.6, "stress": 0.4})
    assert scored.options == STANDARD_OPTIONS == ("intensify", "hold", "gentle", "pause")
    assert scored.scores[1] == 0.0


def test_more_stress_moves_probability_from_intensify_to_gentle() -> None:
    rows = [_probabilities({"attention": 0.7, "stress": s}) for s in np.linspace(0, 1, 11)]
    intensify = [r["intensify"] for r in rows]
    gentle = [r["gentle"] for r in rows]
    pause = [r["pause"] for r in rows]
    assert np.all(np.diff(intensify) < 0) and np.all(np.diff(gentle) > 0)
    assert np.all(np.diff(pause) > 0)


def test_more_attention_raises_intensify() -> None:
    rows = [_probabilities({"attention": a, "stress": 0.3}) for a in np.linspace(0, 1, 11)]
    assert np.all(np.diff([r["intensify"] for r in rows]) > 0)


def test_documented_operating_points() -> None:
    assert _probabilities({"attention": 0.9, "stress": 0.1})["intensify"] > 0.9
    stressed = _probabilities({"attention": 0.5, "stress": 0.9})
    assert max(stressed, key=stressed.get) == "gentle"


def test_no_valid_signal_forbids_intensify_and_favours_gentle() -> None:
    state = {"attention": 0.95, "attention_valid": False, "stress": None}
    scored = score_options(state)
    assert scored.forbidden == frozenset({"intensify"})
    p = _probabilities(state)
    # From the documented formulas with c = 0: hold 0, gentle k_unsure = 1, pause -1.
    z = math.e + 1 + math.exp(-1)
    assert p["intensify"] == 0.0
    assert p["gentle"] == pytest.approx(math.e / z, rel=1e-12)
    assert p["hold"] == pytest.approx(1 / z, rel=1e-12)


def test_nan_attention_counts_as_invalid() -> None:
    assert score_options({"attention": float("nan"), "stress": 0.5}).inputs["attention_valid"] is (
        False
    )


@pytest.mark.parametrize("key", ["identity_margin", "entropy_margin"])
def test_violated_guard_forbids_intensify(key: str) -> None:
    state = {"attention": 0.95, "stress": 0.05, key: -0.01}
    assert "intensify" in score_options(state).forbidden
    assert _probabilities(state)["intensify"] == 0.0
    decision = DeterministicResolver().decide(score_options(state).to_conflict("guard-violation"))
    assert decision.option != "intensify" and decision.conflict_kind == "guard-violation"
    assert decision.inputs[key] == -0.01


def test_shrinking_identity_margin_lowers_intensify() -> None:
    margins = [0.2, 0.05, 0.04, 0.02, 0.01, 0.0]
    rows = [
        _probabilities({"attention": 0.9, "stress": 0.2, "identity_margin": m}) for m in margins
    ]
    intensify = [r["intensify"] for r in rows]
    assert intensify[0] == intensify[1]  # at or above margin_ref: no pressure
    assert np.all(np.diff(intensify[1:]) < 0)


@pytest.mark.parametrize(
    ("state", "named"),
    [
        ({"attention": 1.5}, "attention"),
        ({"stress": -0.1}, "stress"),
        ({"stress": "high"}, "stress"),
        ({"identity_margin": float("nan")}, "identity_margin"),
    ],
)
def test_bad_state_names_the_key(state: dict, named: str) -> None:
    with pytest.raises(ResolverError, match=named):
        score_options(state)


def test_rounding_just_outside_the_unit_interval_is_clipped() -> None:
    assert score_options({"attention": 1.0 + 1e-12}).inputs["attention"] == 1.0
