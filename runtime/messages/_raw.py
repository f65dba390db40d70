"""Raw data headers: the body of ``raw.eeg``/``raw.ppg``/``raw.ecg`` and ``raw.board.*``.

The samples themselves travel as the message's array payload (channels × samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.messages._base import Body
from runtime.messages._fields import FieldReader
from runtime.messages._person import person_problem

__all__ = ["RAW_TOPICS", "RawBoardChunk", "RawChunk", "person_id_problem"]

#: The signal topics the driver publishes, one per kind of signal.
RAW_TOPICS = ("raw.eeg", "raw.ppg", "raw.ecg")

def person_id_problem(person: str) -> str:
    """Why ``person`` is not a valid pseudonymous id ('' when it is): the one rule of
    :func:`runtime.messages._person.person_problem`, shared with features and controls."""
    return person_problem(person)


@dataclass(frozen=True)
class RawChunk(Body):
    """One chunk of one signal: ``channels`` name the payload's rows, sampled at ``fs`` Hz.

    ``first_index`` is the board's running sample index of the chunk's first column (so a
    reader sees samples lost on the bus as a jump), ``dropped`` the samples the board itself
    lost just before this chunk (its package counter), ``t_first``/``t_last`` the board
    clock (BrainFlow timestamp, s) of the first and last sample. ``read_time`` is the wall
    clock (``time.time()``, s) when the driver read the chunk from BrainFlow's buffer (None
    from an older driver), so a reader can tell the board's buffering and the
    poll interval (``t_last`` → ``read_time``) from the driver's own work before publishing.
    ``person`` is the pseudonymous id of the person the board is on (``[source] person``;
    None when the config names nobody), so a hub fed by several sensor hosts can tell
    their streams apart.
    """

    TOPIC = "raw.*"

    preset: str
    fs: float
    channels: tuple[str, ...]
    first_index: int
    dropped: int = 0
    t_first: float | None = None
    t_last: float | None = None
    read_time: float | None = None
    person: str | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "preset": reader.string("preset"),
            "fs": _rate(reader),
            "channels": reader.strings("channels"),
            "first_index": reader.integer("first_index", low=0),
            "dropped": reader.integer("dropped", 0, low=0),
            "t_first": reader.number("t_first", None, optional=True),
            "t_last": reader.number("t_last", None, optional=True),
            "read_time": reader.number("read_time", None, optional=True),
            "person": _person(reader),
        }


@dataclass(frozen=True)
class RawBoardChunk(Body):
    """Every BrainFlow row of one preset's chunk (``raw.board.<preset>``, for recording):
    ``layout`` says which row holds what (the driver's ``PresetLayout.to_dict()``);
    ``person`` as in :class:`RawChunk`."""

    TOPIC = "raw.board.*"

    preset: str
    fs: float
    num_rows: int
    first_index: int
    dropped: int = 0
    layout: dict[str, Any] | None = None
    person: str | None = None

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        return {
            "preset": reader.string("preset"),
            "fs": _rate(reader),
            "num_rows": reader.integer("num_rows", low=1),
            "first_index": reader.integer("first_index", low=0),
            "dropped": reader.integer("dropped", 0, low=0),
            "layout": reader.mapping("layout", None, optional=True),
            "person": _person(reader),
        }


def _rate(reader: FieldReader) -> float:
    fs = reader.number("fs", low=0.0, high=1e5)
    if fs <= 0:
        reader.fail("fs", fs, "a sampling rate in (0, 100000] Hz")
    return fs


def _person(reader: FieldReader) -> str | None:
    person = reader.string("person", None, optional=True)
    if person is not None:
        problem = person_id_problem(person)
        if problem:
            reader.fail("person", person, f"a pseudonymous id such as P01 ({problem})")
    return person
