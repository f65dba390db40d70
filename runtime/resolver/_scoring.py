"""Scores of the standard options from the state: attention, stress, validity, guard margins.

The options are ``intensify, hold, gentle, pause``. ``hold`` (keep the current control) is
the reference with score 0; the others are log-odds against it, so at temperature 1 an
option scored ``+1`` is e (about 2.7) times as likely as ``hold``. With ``a`` the attention and
``s`` the stress (each replaced by the neutral 0.5 when invalid or missing), ``c`` the
confidence (the fraction of the two that are valid: 0, 0.5 or 1) and ``g`` the guard pressure
(0 when the model's guards have room, rising to 1 as a margin shrinks to 0)::

    intensify = k * c * (a - s)              - k_guard * g
    hold      = 0
    gentle    = k * c * (s - 0.5) + k_unsure * (1 - c) + k_guard * g / 2
    pause     = k * 2 * c * (s - pause_stress) - 1

With the default weights (``k = 4``): focused and calm (a = 0.9, s = 0.1) gives intensify
about 95 %; stressed (s = 0.9) gives mostly gentle, with pause rising as stress nears 1;
no valid signal gives gentle about 2/3, hold 1/4, pause the rest.

Guard pressure ``g = max(clip(1 - margin / margin_ref, 0, 1))`` over the margins the model
reported: ``identity_margin`` (cosine similarity of repaired vs original minus its floor;
``margin_ref`` 0.05) and ``entropy_margin`` (repair entropy limit minus the repair entropy,
nats; ``margin_ref`` 0.5). A missing margin adds no pressure (the model has not reported).

Forbidden: ``intensify`` when either guard is violated (a margin below 0: strengthening
repairs that already erase too much of the model's identity is not an option) and when no
signal is valid (intensifying on no evidence is not an option). ``gentle``, ``hold`` and
``pause`` are never forbidden here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.resolver._errors import ResolverError
from runtime.resolver._types import Conflict

#: How far outside [0, 1] attention or stress may stray by rounding before it is an error.
_UNIT_SLACK = 1e-6

#: The options :func:`score_options` scores, in this order.
STANDARD_OPTIONS: tuple[str, ...] = ("intensify", "hold", "gentle", "pause")


@dataclass(frozen=True)
class ScoringWeights:
    """The constants of :func:`score_options` (see the module docstring for the formulas)."""

    k: float = 4.0
    k_unsure: float = 1.0
    k_guard: float = 4.0
    pause_stress: float = 0.85
    identity_margin_ref: float = 0.05
    entropy_margin_ref: float = 0.5


@dataclass(frozen=True)
class ScoredOptions:
    """Options, their scores and the forbidden set, ready to become a :class:`Conflict`.

    ``inputs`` is the state as read (floats, bools or None), for the audit trail.
    """

    options: tuple[str, ...]
    scores: tuple[float, ...]
    forbidden: frozenset[str]
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def to_conflict(self, kind: str) -> Conflict:
        """A :class:`Conflict` of ``kind`` carrying these scores and the state as inputs."""
        return Conflict(
            kind=kind,
            options=self.options,
            scores=self.scores,
            forbidden=self.forbidden,
            inputs=dict(self.inputs),
        )


def _read_unit(state: Mapping[str, Any], key: str) -> float | None:
    value = state.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResolverError(f"State key {key!r} must be a number in [0, 1] or None; got {value!r}.")
    value = float(value)
    if math.isnan(value):
        return None
    if -_UNIT_SLACK <= value < 0.0 or 1.0 < value <= 1.0 + _UNIT_SLACK:  # rounding of a smoother
        value = min(1.0, max(0.0, value))
    if not 0.0 <= value <= 1.0:
        raise ResolverError(
            f"State key {key!r} must be in [0, 1]; got {value}. Pass the normalised index, "
            "not a raw feature."
        )
    return value


def _read_margin(state: Mapping[str, Any], key: str) -> float | None:
    value = state.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ResolverError(f"State key {key!r} must be a finite number or None; got {value!r}.")
    return float(value)


def _guard_pressure(margin: float | None, reference: float) -> float:
    if margin is None:
        return 0.0
    return min(1.0, max(0.0, 1.0 - margin / reference))


def score_options(state: Mapping[str, Any], weights: ScoringWeights | None = None) -> ScoredOptions:
    """Score ``intensify, hold, gentle, pause`` from the controller's state.

    ``state`` keys (all optional): ``attention`` and ``stress`` (in [0, 1] or None),
    ``attention_valid`` and ``stress_valid`` (bools; default: the value is not None),
    ``identity_margin`` and ``entropy_margin`` (the model's guard margins; negative means the
    guard is violated). Other keys are kept in ``inputs`` for the audit but not scored. The
    formulas and the forbidden rules are in the module docstring. Raises
    :class:`ResolverError` for a value out of range.
    """
    w = weights or ScoringWeights()
    attention = _read_unit(state, "attention")
    stress = _read_unit(state, "stress")
    attention_valid = bool(state.get("attention_valid", attention is not None)) and (
        attention is not None
    )
    stress_valid = bool(state.get("stress_valid", stress is not None)) and stress is not None
    identity_margin = _read_margin(state, "identity_margin")
    entropy_margin = _read_margin(state, "entropy_margin")

    a = attention if attention_valid and attention is not None else 0.5
    s = stress if stress_valid and stress is not None else 0.5
    confidence = (float(attention_valid) + float(stress_valid)) / 2.0
    pressure = max(
        _guard_pressure(identity_margin, w.identity_margin_ref),
        _guard_pressure(entropy_margin, w.entropy_margin_ref),
    )
    scores = (
        w.k * confidence * (a - s) - w.k_guard * pressure,
        0.0,
        w.k * confidence * (s - 0.5) + w.k_unsure * (1.0 - confidence) + w.k_guard * pressure / 2,
        w.k * 2.0 * confidence * (s - w.pause_stress) - 1.0,
    )
    guard_violated = any(m is not None and m < 0 for m in (identity_margin, entropy_margin))
    forbidden = frozenset({"intensify"}) if guard_violated or confidence == 0.0 else frozenset()
    inputs = dict(state)
    inputs.update(
        attention=attention,
        stress=stress,
        attention_valid=attention_valid,
        stress_valid=stress_valid,
        identity_margin=identity_margin,
        entropy_margin=entropy_margin,
    )
    return ScoredOptions(STANDARD_OPTIONS, scores, forbidden, inputs)
