"""Scores to probabilities: a softmax with a temperature, and exact zeros for forbidden options."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from runtime.resolver._errors import ResolverError
from runtime.resolver._types import GENTLENESS_ORDER, Conflict


def compute_probabilities(
    scores: Sequence[float] | np.ndarray,
    temperature: float,
    forbidden_mask: Sequence[bool] | np.ndarray | None = None,
) -> np.ndarray:
    """Probabilities ``softmax(scores / temperature)`` over the allowed options.

    ``forbidden_mask[i]`` true gives option ``i`` probability exactly ``0.0`` (not a small
    number: it is left out of the softmax), and the allowed probabilities sum to 1. A low
    temperature sharpens the choice towards the best score, a high one flattens it towards
    uniform. Raises :class:`ResolverError` for non-finite scores, a temperature that is not a
    positive finite number, a mask of the wrong length or a mask that forbids every option.
    """
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ResolverError(
            f"The argument 'scores' must be a non-empty 1-D sequence; got shape {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ResolverError(
            f"The argument 'scores' must be finite numbers; got {values.tolist()}. "
            "Forbid an option instead of giving it -inf."
        )
    if not isinstance(temperature, int | float) or not (
        math.isfinite(temperature) and temperature > 0
    ):
        raise ResolverError(
            f"The argument 'temperature' must be a positive finite number; {temperature!r} is "
            "invalid. Use 1.0 for plain softmax."
        )
    if forbidden_mask is None:
        mask = np.zeros(values.size, dtype=bool)
    else:
        mask = np.asarray(forbidden_mask, dtype=bool)
        if mask.shape != values.shape:
            raise ResolverError(
                f"The argument 'forbidden_mask' must have one entry per score ({values.size}); "
                f"got shape {mask.shape}."
            )
    if mask.all():
        raise ResolverError(
            "The argument 'forbidden_mask' forbids every option; at least one must stay allowed."
        )
    allowed = ~mask
    logits = values[allowed] / float(temperature)
    weights = np.exp(logits - logits.max())
    probabilities = np.zeros(values.size, dtype=float)
    probabilities[allowed] = weights / weights.sum()
    return probabilities


def check_conflict(conflict: Conflict, max_options: int | None = None) -> np.ndarray:
    """Validate ``conflict`` and return its forbidden mask (one bool per option).

    Checks that options are unique non-empty strings, that there is one score per option,
    that every forbidden name is one of the options (a misspelt name would silently allow
    what was meant to be forbidden) and, when given, that there are at most ``max_options``.
    """
    options = conflict.options
    if not isinstance(options, tuple | list) or len(options) < 1:
        raise ResolverError(
            f"Conflict {conflict.kind!r}: 'options' must be a non-empty tuple of names; "
            f"got {options!r}."
        )
    if not all(isinstance(o, str) and o for o in options) or len(set(options)) != len(options):
        raise ResolverError(
            f"Conflict {conflict.kind!r}: 'options' must be unique non-empty strings; "
            f"got {options!r}."
        )
    if len(conflict.scores) != len(options):
        raise ResolverError(
            f"Conflict {conflict.kind!r}: 'scores' must have one entry per option "
            f"({len(options)}); got {len(conflict.scores)}."
        )
    unknown = set(conflict.forbidden) - set(options)
    if unknown:
        raise ResolverError(
            f"Conflict {conflict.kind!r}: 'forbidden' names {sorted(unknown)} that are not "
            f"options {list(options)}; fix the spelling or add the option."
        )
    if max_options is not None and len(options) > max_options:
        raise ResolverError(
            f"Conflict {conflict.kind!r} has {len(options)} options but the resolver was built "
            f"for max_options={max_options}; build it with max_options={len(options)}."
        )
    return np.array([o in conflict.forbidden for o in options], dtype=bool)


def gentleness_rank(option: str) -> int:
    """Position of ``option`` in :data:`GENTLENESS_ORDER`; unknown names rank last."""
    try:
        return GENTLENESS_ORDER.index(option)
    except ValueError:
        return len(GENTLENESS_ORDER)
