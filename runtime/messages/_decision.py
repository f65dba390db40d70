"""The ``decision`` body: how one conflict was settled, with what an auditor needs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.messages._base import Body
from runtime.messages._fields import FieldReader
from runtime.messages._person import read_person, write_person

__all__ = ["Decision", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """``value`` in JSON types (numpy scalars and arrays, tuples, sets, mappings turned).

Non-finite floats become None and anything else JSON cannot carry its ``repr``, so an
odd input can never make the audit record unwritable.
"""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=repr)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, without numpy
    if callable(tolist):
        return to_jsonable(tolist())
    return repr(value)


@dataclass(frozen=True)
class Decision(Body):
    """The outcome of one conflict.

    ``index`` is the position of ``option`` in ``options`` (``-1`` when a fail-safe decision
    had to pick an option the conflict did not offer). ``probabilities`` are the designed
    probabilities the draw used, in option order; ``seed`` is the simulator seed of this
    draw (0 for the deterministic rule, which draws nothing); ``latency_ms`` is the wall time
    spent deciding; ``inputs`` the conflict's inputs as JSON. ``time_s`` is the session's data
    clock when the conflict arose (set by the controller; None from a resolver used alone).
    ``trigger_person`` is the person whose features raised the conflict in a group session
    (whose poor signal or high stress; None when the group as a whole or the model did, and
    in a single-person session, where it is left off the wire).
    """

    TOPIC = "decision"

    option: str
    index: int
    probabilities: tuple[float, ...]
    options: tuple[str, ...]
    seed: int
    latency_ms: float
    explanation: str
    conflict_kind: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    failed: bool = False
    resolver: str = "unspecified"
    time_s: float | None = None
    trigger_person: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["inputs"] = to_jsonable(self.inputs)
        return write_person(out, "trigger_person")

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        options = reader.strings("options")
        probabilities = reader.numbers("probabilities")
        if len(probabilities) != len(options):
            expected = f"{len(options)} numbers, one per option"
            reader.fail("probabilities", list(probabilities), expected)
        return {
            "option": reader.string("option"),
            "index": reader.integer("index", low=-1),
            "probabilities": probabilities,
            "options": options,
            "seed": reader.integer("seed", low=0),
            "latency_ms": reader.number("latency_ms", low=0.0),
            "explanation": reader.string("explanation", ""),
            "conflict_kind": reader.string("conflict_kind", ""),
            "inputs": reader.mapping("inputs", {}),
            "failed": reader.boolean("failed", False),
            "resolver": reader.string("resolver", "unspecified"),
            "time_s": reader.number("time_s", None, optional=True),
            "trigger_person": read_person(reader, "trigger_person"),
        }
