"""What every resolver does around its choice: validation, timing, explanation, fail-safe."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from runtime.resolver._errors import ResolverError
from runtime.resolver._probabilities import check_conflict, compute_probabilities
from runtime.resolver._types import Conflict, Decision

logger = logging.getLogger("runtime.resolver")

#: Where the fail-safe looks after the configured option, gentlest first. ``intensify`` is
#: never a fall-back, whatever the conflict allows.
_FALLBACK_ORDER: tuple[str, ...] = ("pause", "gentle", "hold")


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float, or a :class:`ResolverError` naming the fix."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise ResolverError(
            f"The argument 'temperature' must be a positive number; {temperature!r} is invalid."
        )
    if not (np.isfinite(temperature) and temperature > 0):
        raise ResolverError(
            f"The argument 'temperature' must be a positive finite number; {temperature!r} is "
            "invalid. Use 1.0 for plain softmax."
        )
    return float(temperature)


def check_fail_safe_option(option: str) -> str:
    """``option`` if it can serve as the fail-safe: a non-empty name other than ``intensify``."""
    if not isinstance(option, str) or not option:
        raise ResolverError(
            f"The argument 'fail_safe_option' must be a non-empty option name; {option!r} is "
            "invalid. Use 'gentle'."
        )
    if option == "intensify":
        raise ResolverError(
            "The argument 'fail_safe_option' cannot be 'intensify': a failure must never "
            "strengthen repairs. Use 'gentle' or 'pause'."
        )
    return option


def choose_fail_safe(conflict: Any, fail_safe_option: str) -> tuple[str, int]:
    """The option (and its index) a failed decision falls back to.

    The configured ``fail_safe_option`` if the conflict offers it and does not forbid it;
    otherwise the gentlest allowed of ``pause``, ``gentle``, ``hold``. A conflict that forbids
    or omits all of them (or is too malformed to read) still gets ``fail_safe_option``, with
    index ``-1``: the fail-safe is the controller's safe state (gentle on, baseline intensity),
    which a conflict cannot veto; forbidding it is an error of whoever built the conflict, and
    the explanation says so.
    """
    try:
        options = tuple(conflict.options)
        forbidden = set(conflict.forbidden)
    except Exception:  # a conflict too broken to read: the safe state, by definition
        return fail_safe_option, -1
    for candidate in (fail_safe_option, *_FALLBACK_ORDER):
        if candidate in options and candidate not in forbidden:
            return candidate, options.index(candidate)
    return fail_safe_option, -1


def _format_distribution(options: tuple[str, ...], probabilities: np.ndarray) -> str:
    return ", ".join(f"{o} {p:.3f}" for o, p in zip(options, probabilities, strict=True))


class BaseResolver:
    """Shared ``decide``: validate, compute probabilities, let the subclass choose, explain.

    Subclasses implement ``_next_seed`` (called once per decision, failed ones included, so
    decision ``k`` always has the same seed) and ``_choose``. Any exception raised on the way
    becomes the fail-safe decision, logged on ``runtime.resolver``.
    """

    #: Recorded in :attr:`Decision.resolver`.
    name = "unspecified"
    #: How the explanation names the choosing step.
    _method = "resolver"

    def __init__(
        self, temperature: float, fail_safe_option: str, max_options: int | None = None
    ) -> None:
        self.temperature = check_temperature(temperature)
        self.fail_safe_option = check_fail_safe_option(fail_safe_option)
        self.max_options = max_options
        self._lock = threading.Lock()

    def _next_seed(self) -> int:
        raise NotImplementedError

    def _choose(self, conflict: Conflict, probabilities: np.ndarray, seed: int) -> int:
        raise NotImplementedError

    def decide(self, conflict: Conflict) -> Decision:
        """Settle ``conflict``. Never raises: any failure gives the fail-safe decision."""
        with self._lock:
            start = time.perf_counter()
            seed = 0
            probabilities: np.ndarray | None = None
            try:
                seed = self._next_seed()
                mask = check_conflict(conflict, self.max_options)
                probabilities = compute_probabilities(conflict.scores, self.temperature, mask)
                index = self._choose(conflict, probabilities, seed)
                if not 0 <= index < len(conflict.options) or probabilities[index] <= 0.0:
                    raise ResolverError(
                        f"the draw returned outcome {index}, which has probability 0 "
                        f"(options {list(conflict.options)}); refusing it"
                    )
                return self._decision(conflict, probabilities, index, seed, start)
            except Exception as exc:
                return self._fail_safe(conflict, probabilities, seed, start, exc)

    def _decision(
        self,
        conflict: Conflict,
        probabilities: np.ndarray,
        index: int,
        seed: int,
        start: float,
    ) -> Decision:
        option = conflict.options[index]
        how = self._method.format(seed=seed)
        forbidden = [o for o in conflict.options if o in conflict.forbidden]
        forbidden_text = f"; forbidden: {', '.join(forbidden)}" if forbidden else ""
        explanation = (
            f"On conflict '{conflict.kind}' the {how} chose '{option}', which had probability "
            f"{probabilities[index]:.3f} ({_format_distribution(conflict.options, probabilities)}"
            f"{forbidden_text})."
        )
        decision = Decision(
            option=option,
            index=int(index),
            probabilities=tuple(float(p) for p in probabilities),
            options=tuple(conflict.options),
            seed=int(seed),
            latency_ms=(time.perf_counter() - start) * 1e3,
            explanation=explanation,
            conflict_kind=str(conflict.kind),
            inputs=dict(conflict.inputs),
            resolver=self.name,
        )
        logger.debug("%s: %s", self.name, explanation)
        return decision

    def _fail_safe(
        self,
        conflict: Any,
        probabilities: np.ndarray | None,
        seed: int,
        start: float,
        exc: Exception,
    ) -> Decision:
        option, index = choose_fail_safe(conflict, self.fail_safe_option)
        kind = str(getattr(conflict, "kind", "unknown"))
        try:
            options = tuple(str(o) for o in conflict.options)
        except Exception:
            options = ()
        raw_inputs = getattr(conflict, "inputs", {})
        try:
            inputs = dict(raw_inputs) if isinstance(raw_inputs, Mapping) else None
        except Exception:
            inputs = None
        if inputs is None:
            inputs = {"unreadable_inputs": repr(raw_inputs)}
        overridden = (
            " (the conflict did not allow it; the safe state overrides)" if index < 0 else ""
        )
        explanation = (
            f"The {self.name} resolver failed on conflict '{kind}' "
            f"({type(exc).__name__}: {exc}), so it chose the fail-safe option '{option}'"
            f"{overridden}."
        )
        logger.error(
            "%s: decision on conflict %r failed (%s: %s); fail-safe option %r",
            self.name,
            kind,
            type(exc).__name__,
            exc,
            option,
            exc_info=not isinstance(exc, ResolverError),
        )
        return Decision(
            option=option,
            index=index,
            probabilities=() if probabilities is None else tuple(float(p) for p in probabilities),
            options=options,
            seed=int(seed),
            latency_ms=(time.perf_counter() - start) * 1e3,
            explanation=explanation,
            conflict_kind=kind,
            inputs=inputs,
            failed=True,
            resolver=self.name,
        )
