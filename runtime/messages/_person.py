"""The ``person`` fields of features, controls and decisions: a pseudonymous id or None.

The rule is :func:`runtime.participants.check_participant_id`'s (not imported: that package
loads numpy, and the message types load only the standard library). None is the
single-person case; it is left off the wire, so a single-person session's bodies are the
same as before the field existed.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from runtime.messages._fields import FieldReader

__all__ = ["person_problem", "read_person", "write_person"]

#: Longest accepted person id (runtime.participants.MAX_ID_LENGTH: the same rule).
MAX_PERSON_LENGTH = 64


def person_problem(person: str) -> str:
    """Why ``person`` is not a valid pseudonymous id ('' when it is): not empty, no leading
    or trailing whitespace, no path separator, no leading dot, no control character, at
    most 64 characters."""
    if not person.strip():
        return "it is empty"
    if person != person.strip():
        return "it has leading or trailing whitespace"
    if "/" in person or "\\" in person:
        return "it contains a path separator"
    if person.startswith("."):
        return "it starts with a dot"
    if any(unicodedata.category(c).startswith("C") for c in person):
        return "it contains a control character"
    if len(person) > MAX_PERSON_LENGTH:
        return f"it is longer than {MAX_PERSON_LENGTH} characters"
    return ""


def read_person(reader: FieldReader, name: str) -> str | None:
    """Field ``name``: a pseudonymous id such as ``P01``, or None when absent or null."""
    person = reader.string(name, None, optional=True)
    if person is not None:
        problem = person_problem(person)
        if problem:
            reader.fail(name, person, f"a pseudonymous id such as P01 ({problem})")
    return person


def write_person(out: dict[str, Any], name: str) -> dict[str, Any]:
    """``out`` without field ``name`` when it is None (the single-person case)."""
    if out.get(name, "") is None:
        del out[name]
    return out
