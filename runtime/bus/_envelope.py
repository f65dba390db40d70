"""The wire format of every bus message: ``[topic, header, payload?]``.

* ``topic``: UTF-8, e.g. ``raw.eeg``, ``features``, ``control``, ``status.driver``.
* ``header``: a JSON object: ``schema`` (what the body means), ``version`` ("MAJOR.MINOR"),
  ``publisher`` (an id unique per publishing component), ``seq`` (per publisher and topic,
  from 0, so a receiver can count drops), ``source_time`` (board clock of the newest sample
  the message rests on, or null), ``publish_time`` (sender wall clock), ``body`` (a JSON
  object) and, when a payload follows, ``array``: ``{"dtype": "<f4", "shape": [8, 25]}``.
* ``payload``: the array's raw bytes, C order. Never pickle.

A decoder accepts any minor version of major :data:`VERSION_MAJOR` and ignores header keys
it does not know, so a newer minor version can add fields without breaking old readers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.errors import MessageError
from runtime.messages import SCHEMA_VERSION, Body, parse_body

VERSION = SCHEMA_VERSION
VERSION_MAJOR, VERSION_MINOR = (int(part) for part in VERSION.split("."))

#: Array element kinds a payload may carry: bool, signed, unsigned, float.
_ALLOWED_DTYPE_KINDS = frozenset("biuf")
MAX_TOPIC_BYTES = 255
MAX_HEADER_BYTES = 1 << 20
MAX_PAYLOAD_BYTES = 1 << 28


@dataclass(frozen=True)
class Message:
    """A decoded bus message. ``array`` is a read-only view of the received frame (no copy).

    ``data`` is the typed body (:mod:`runtime.messages`), already validated; readers use it.
    ``body`` is the JSON object as received, for relays that store or print it verbatim.
    ``data`` is None only on a topic outside the schema.
    """

    topic: str
    schema: str
    version: str
    publisher: str
    seq: int
    source_time: float | None
    publish_time: float
    body: Mapping[str, Any] = field(default_factory=dict)
    array: np.ndarray | None = None
    data: Body | None = None


def encode(
    topic: str,
    body: Mapping[str, Any],
    *,
    publisher: str,
    seq: int,
    schema: str | None = None,
    source_time: float | None = None,
    array: np.ndarray | None = None,
    publish_time: float | None = None,
) -> list[bytes | memoryview]:
    """Frames for one message. An array is sent from its own memory (made C-contiguous)."""
    header: dict[str, Any] = {
        "schema": schema or topic.split(".", 1)[0],
        "version": VERSION,
        "publisher": publisher,
        "seq": seq,
        "source_time": source_time,
        "publish_time": time.time() if publish_time is None else publish_time,
        "body": body,
    }
    frames: list[bytes | memoryview] = [topic.encode()]
    if array is not None:
        array = np.ascontiguousarray(array)
        if array.dtype.kind not in _ALLOWED_DTYPE_KINDS:
            raise MessageError(
                f"array payload of dtype {array.dtype} cannot be sent: use a numeric dtype"
            )
        header["array"] = {"dtype": array.dtype.str, "shape": list(array.shape)}
        frames.append(json.dumps(header, allow_nan=False, default=_json_default).encode())
        frames.append(memoryview(array).cast("B"))
    else:
        frames.append(json.dumps(header, allow_nan=False, default=_json_default).encode())
    return frames


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _frame_bytes(frame: Any) -> memoryview:
    buffer = getattr(frame, "buffer", None)  # zmq.Frame received with copy=False
    return memoryview(buffer if buffer is not None else frame)


def decode(frames: Sequence[Any]) -> Message:
    """Decode and validate frames; raises MessageError saying what is wrong."""
    if len(frames) not in (2, 3):
        raise MessageError(
            f"a message has 2 or 3 frames (topic, header, payload); got {len(frames)}"
        )
    topic_bytes = _frame_bytes(frames[0])
    if len(topic_bytes) > MAX_TOPIC_BYTES:
        raise MessageError(f"topic frame is {len(topic_bytes)} bytes; at most {MAX_TOPIC_BYTES}")
    try:
        topic = bytes(topic_bytes).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageError(f"topic frame is not UTF-8: {bytes(topic_bytes)[:40]!r}") from exc
    header_bytes = _frame_bytes(frames[1])
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise MessageError(f"header of {topic!r} is {len(header_bytes)} bytes; too large")
    try:
        header = json.loads(bytes(header_bytes))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"header of {topic!r} is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise MessageError(f"header of {topic!r} is a JSON {type(header).__name__}, not an object")
    version = header.get("version")
    major = _major(version)
    if major != VERSION_MAJOR:
        raise MessageError(
            f"message on {topic!r} has version {version!r}; this reader understands "
            f"{VERSION_MAJOR}.x: upgrade the reader or the sender so they agree"
        )
    seq = header.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise MessageError(f"header of {topic!r} has seq {seq!r}; expected an integer ≥ 0")
    publisher = header.get("publisher")
    if not isinstance(publisher, str) or not publisher:
        raise MessageError(f"header of {topic!r} has publisher {publisher!r}; expected a name")
    publish_time = _time(header.get("publish_time"), "publish_time", topic, optional=False)
    source_time = _time(header.get("source_time"), "source_time", topic, optional=True)
    body = header.get("body", {})
    if not isinstance(body, dict):
        raise MessageError(f"body of {topic!r} is a JSON {type(body).__name__}, not an object")
    array = _decode_array(header.get("array"), frames, topic)
    data = parse_body(topic, body)  # MessageFieldError names the topic and the field
    return Message(
        topic=topic,
        schema=str(header.get("schema", topic)),
        version=str(version),
        publisher=publisher,
        seq=seq,
        source_time=source_time,
        publish_time=float(publish_time),  # type: ignore[arg-type]
        body=body,
        array=array,
        data=data,
    )


def _major(version: object) -> int | None:
    if not isinstance(version, str):
        return None
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _time(value: object, name: str, topic: str, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MessageError(f"header of {topic!r} has {name} {value!r}; expected a finite number")
    return float(value)


def _decode_array(spec: object, frames: Sequence[Any], topic: str) -> np.ndarray | None:
    if spec is None:
        if len(frames) == 3:
            raise MessageError(f"message on {topic!r} has a payload frame but no 'array' header")
        return None
    if len(frames) != 3:
        raise MessageError(f"header of {topic!r} describes an array but no payload frame came")
    if not isinstance(spec, dict):
        raise MessageError(f"'array' header of {topic!r} is not an object")
    try:
        dtype = np.dtype(str(spec.get("dtype")))
    except TypeError as exc:
        raise MessageError(f"'array.dtype' of {topic!r} is {spec.get('dtype')!r}: {exc}") from exc
    if dtype.kind not in _ALLOWED_DTYPE_KINDS or dtype.hasobject:
        raise MessageError(
            f"'array.dtype' of {topic!r} is {dtype}; only numeric dtypes are allowed"
        )
    shape = spec.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > 8
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise MessageError(f"'array.shape' of {topic!r} is {shape!r}; expected a list of ints ≥ 0")
    payload = _frame_bytes(frames[2])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: exact, and no numpy call
    if expected > MAX_PAYLOAD_BYTES or len(payload) != expected:
        raise MessageError(
            f"payload of {topic!r} is {len(payload)} bytes; shape {shape} of {dtype} "
            f"needs {expected}"
        )
    return np.frombuffer(payload, dtype=dtype).reshape(shape)
