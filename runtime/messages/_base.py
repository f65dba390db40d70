"""The base of every typed message body: JSON out, validated JSON in, extra fields kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from runtime.messages._fields import FieldReader

__all__ = ["Body"]

B = TypeVar("B", bound="Body")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Body):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Body:
    """A message body. Subclasses are frozen dataclasses with a ``TOPIC`` and a ``read``.

    ``extra`` holds fields this version does not know (a newer minor version sent them):
    they are kept and written back by :meth:`to_dict`, never interpreted. ``from_dict``
    raises :class:`~runtime.messages.MessageFieldError` for a known field of the wrong type
    or range, naming the topic, the field, the value and what was expected.
    """

    #: The topic (or topic family, e.g. ``raw.*``) this body travels on.
    TOPIC: ClassVar[str] = ""

    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (lists, dicts, numbers, strings, null), extra fields included."""
        out = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name != "extra":
                out[f.name] = _jsonable(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls: type[B], body: Mapping[str, Any], topic: str | None = None) -> B:
        """Validate ``body`` (as received on ``topic``) and build the typed body."""
        reader = FieldReader(topic or cls.TOPIC, body)
        values = cls.read(reader)
        return cls(**values, extra=reader.extra())

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        """The constructor arguments, each read and checked through ``reader``."""
        raise NotImplementedError

    @classmethod
    def read_nested(cls: type[B], reader: FieldReader, name: str) -> B | None:
        """The body of this type in field ``name`` of ``reader``'s body (None when absent)."""
        inner = reader.nested(name)
        if inner is None:
            return None
        values = cls.read(inner)
        return cls(**values, extra=inner.extra())
