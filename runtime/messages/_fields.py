"""Field readers that validate one message body and name what is wrong.

A body is read through a :class:`FieldReader`: each typed accessor checks one field and
raises :class:`MessageFieldError` naming the topic, the field, the bad value and what was
expected. Fields the reader was not asked for are the body's *extra* fields (sent by a
newer minor version): they are kept and passed on unread, never interpreted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from runtime.errors import MessageError

__all__ = ["MISSING", "FieldReader", "MessageFieldError"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: Marks a required field: reading it when absent raises.
MISSING: Any = _Missing()


class MessageFieldError(MessageError):
    """A message body has a field of the wrong type or range (or lacks a required one)."""

    def __init__(self, topic: str, field: str, value: object, expected: str) -> None:
        self.topic = topic
        self.field = field
        self.value = value
        self.expected = expected
        shown = "missing" if value is MISSING else repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{topic}: field {field!r} is {shown}; expected {expected}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FieldReader:
    """Reads and checks the fields of one body; remembers which it read."""

    def __init__(self, topic: str, body: Mapping[str, Any], prefix: str = "") -> None:
        if not isinstance(body, Mapping):
            raise MessageFieldError(topic, prefix.rstrip(".") or "body", body, "a JSON object")
        self.topic = topic
        self.body = body
        self.prefix = prefix
        self._read: set[str] = set()

    def _get(self, name: str, default: Any) -> Any:
        self._read.add(name)
        value = self.body.get(name, MISSING)
        if value is MISSING:
            if default is MISSING:
                self.fail(name, MISSING, "a value (the field is required)")
            return default
        return value

    def fail(self, name: str, value: object, expected: str) -> Any:
        """Raise the error for field ``name``."""
        raise MessageFieldError(self.topic, self.prefix + name, value, expected)

    def number(
        self,
        name: str,
        default: Any = MISSING,
        *,
        low: float | None = None,
        high: float | None = None,
        optional: bool = False,
    ) -> Any:
        """A finite number in [low, high]; None allowed when ``optional``."""
        value = self._get(name, default)
        if value is None and (optional or default is None):
            return None
        expected = _range_text("a finite number", low, high) + (" or null" if optional else "")
        if not _is_number(value) or not math.isfinite(value):
            self.fail(name, value, expected)
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(name, value, expected)
        return float(value)

    def integer(
        self, name: str, default: Any = MISSING, *, low: int | None = None, optional: bool = False
    ) -> Any:
        """An integer ≥ low; None allowed when ``optional``."""
        value = self._get(name, default)
        if value is None and (optional or default is None):
            return None
        expected = _range_text("an integer", low, None) + (" or null" if optional else "")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(name, value, expected)
        if low is not None and value < low:
            self.fail(name, value, expected)
        return int(value)

    def boolean(self, name: str, default: Any = MISSING) -> Any:
        """true or false."""
        value = self._get(name, default)
        if not isinstance(value, bool):
            self.fail(name, value, "true or false")
        return value

    def string(
        self,
        name: str,
        default: Any = MISSING,
        *,
        choices: tuple[str, ...] | None = None,
        optional: bool = False,
    ) -> Any:
        """A string (one of ``choices`` when given); None allowed when ``optional``."""
        value = self._get(name, default)
        if value is None and (optional or default is None):
            return None
        if not isinstance(value, str):
            self.fail(name, value, "a string" + (" or null" if optional else ""))
        if choices is not None and value not in choices:
            self.fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
        return value

    def strings(self, name: str, default: Any = MISSING) -> tuple[str, ...]:
        """A list of strings."""
        value = self._get(name, default)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self.fail(name, value, "a list of strings")
        return tuple(value)

    def numbers(self, name: str, default: Any = MISSING) -> tuple[float, ...]:
        """A list of finite numbers."""
        value = self._get(name, default)
        if not isinstance(value, list | tuple) or not all(
            _is_number(v) and math.isfinite(v) for v in value
        ):
            self.fail(name, value, "a list of finite numbers")
        return tuple(float(v) for v in value)

    def mapping(self, name: str, default: Any = MISSING, *, optional: bool = False) -> Any:
        """A JSON object, copied; None allowed when ``optional``."""
        value = self._get(name, default)
        if value is None and (optional or default is None):
            return None
        if not isinstance(value, Mapping):
            self.fail(name, value, "a JSON object" + (" or null" if optional else ""))
        return dict(value)

    def number_map(self, name: str, default: Any = MISSING) -> dict[str, float]:
        """An object of name → finite number."""
        value = self.mapping(name, default)
        for key, item in value.items():
            if not _is_number(item) or not math.isfinite(item):
                self.fail(f"{name}.{key}", item, "a finite number")
        return {str(k): float(v) for k, v in value.items()}

    def int_map(self, name: str, default: Any = MISSING) -> dict[str, int]:
        """An object of name → integer ≥ 0."""
        value = self.mapping(name, default)
        for key, item in value.items():
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                self.fail(f"{name}.{key}", item, "an integer ≥ 0")
        return {str(k): int(v) for k, v in value.items()}

    def string_map(self, name: str, default: Any = MISSING) -> dict[str, str]:
        """An object of name → string."""
        value = self.mapping(name, default)
        for key, item in value.items():
            if not isinstance(item, str):
                self.fail(f"{name}.{key}", item, "a string")
        return {str(k): v for k, v in value.items()}

    def nested(self, name: str, optional: bool = True) -> FieldReader | None:
        """A reader for the object in field ``name`` (None when absent or null)."""
        value = self._get(name, None if optional else MISSING)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(name, value, "a JSON object")
        return FieldReader(self.topic, value, f"{self.prefix}{name}.")

    def extra(self) -> dict[str, Any]:
        """The fields nobody read: kept verbatim and sent on."""
        return {k: v for k, v in self.body.items() if k not in self._read}


def _range_text(what: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{what} in [{low:g}, {high:g}]"
    if low is not None:
        return f"{what} ≥ {low:g}"
    if high is not None:
        return f"{what} ≤ {high:g}"
    return what
