"""The envelope: round trips, zero-copy arrays, and clear rejection of malformed frames."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.bus import VERSION, decode, encode
from runtime.errors import MessageError
from runtime.messages import Control, MessageFieldError, RawChunk


def _frames(**kwargs):
    return [bytes(f) for f in encode(**kwargs)]


def test_round_trip_keeps_every_field_and_the_array():
    array = np.arange(24, dtype=np.float32).reshape(4, 6)
    chunk = RawChunk(
        preset="default", fs=250.0, channels=("Fz", "Cz", "Pz", "Oz"), first_index=500,
        t_first=123.48, t_last=123.5,
    )
    frames = _frames(
        topic="raw.eeg",
        body=chunk.to_dict(),
        publisher="driver-1",
        seq=7,
        source_time=123.5,
        array=array,
    )
    message = decode(frames)
    assert message.topic == "raw.eeg"
    assert message.schema == "raw"
    assert message.publisher == "driver-1"
    assert message.seq == 7
    assert message.source_time == 123.5
    assert message.version == VERSION
    assert message.body == chunk.to_dict()
    assert message.data == chunk  # the typed body, validated at decode
    np.testing.assert_array_equal(message.array, array)
    assert message.array.dtype == np.float32


def test_array_is_a_view_of_the_received_frame_not_a_copy():
    payload = bytearray(np.arange(4, dtype="<f8").tobytes())
    frames = _frames(topic="t", body={}, publisher="p", seq=0, array=np.zeros(4))
    frames[2] = payload
    message = decode(frames)
    payload[0:8] = np.float64(42.0).tobytes()
    assert message.array[0] == 42.0


def test_non_contiguous_array_is_sent_in_c_order():
    array = np.arange(12, dtype=np.int32).reshape(3, 4).T
    message = decode(_frames(topic="t", body={}, publisher="p", seq=0, array=array))
    np.testing.assert_array_equal(message.array, array)


def _header(**overrides):
    header = {
        "schema": "control",
        "version": "1.0",
        "publisher": "p",
        "seq": 0,
        "source_time": None,
        "publish_time": 1.0,
        "body": Control().to_dict(),
    }
    header.update(overrides)
    return json.dumps(header).encode()


@pytest.mark.parametrize(
    ("frames", "needle"),
    [
        ([b"control"], "2 or 3 frames"),
        ([b"control", b"not json"], "not JSON"),
        ([b"control", b"[1, 2]"], "not an object"),
        ([b"control", _header(version="2.0")], "version '2.0'"),
        ([b"control", _header(version=None)], "version None"),
        ([b"control", _header(seq=-1)], "seq -1"),
        ([b"control", _header(seq="3")], "seq '3'"),
        ([b"control", _header(publisher="")], "publisher"),
        ([b"control", _header(publish_time="now")], "publish_time"),
        ([b"control", _header(body=[1])], "body"),
        ([b"\xff\xfe", _header()], "not UTF-8"),
        ([b"raw", _header(), b"1234"], "payload frame but no 'array'"),
        ([b"raw", _header(array={"dtype": "<f4", "shape": [2]})], "no payload frame"),
        ([b"raw", _header(array={"dtype": "<f4", "shape": [3]}), b"12345678"], "needs 12"),
        # A product past 2**64 is counted exactly (it wrapped to 0 in int64 and matched b"").
        ([b"raw", _header(array={"dtype": "<f4", "shape": [2**32, 2**32]}), b""], "needs 7"),
        ([b"raw", _header(array={"dtype": "|O", "shape": [1]}), b"12345678"], "numeric"),
        ([b"raw", _header(array={"dtype": "<f4", "shape": [-1]}), b""], "ints ≥ 0"),
        ([b"raw", _header(array={"dtype": "nonsense", "shape": [1]}), b"1234"], "array.dtype"),
        ([b"control", _header(body={"gentle": True, "rule": "r"})], "'intensity' is missing"),
        ([b"control", _header(body={**Control().to_dict(), "ttl_s": -1})], "'ttl_s' is -1"),
    ],
)
def test_malformed_frames_are_rejected_with_a_reason(frames, needle):
    with pytest.raises(MessageError, match=None) as info:
        decode(frames)
    assert needle in str(info.value)


def test_newer_minor_version_and_unknown_keys_are_accepted():
    body = {**Control().to_dict(), "added_in_1_7": [1, 2]}
    message = decode([b"control", _header(version="1.7", extra_field={"x": 1}, body=body)])
    assert message.version == "1.7"
    assert message.data == Control() and message.data.extra == {"added_in_1_7": [1, 2]}


def test_a_bad_body_is_a_message_field_error_naming_topic_and_field():
    with pytest.raises(MessageFieldError) as info:
        decode([b"control", _header(body={**Control().to_dict(), "gentle": "yes"})])
    assert (info.value.topic, info.value.field, info.value.value) == ("control", "gentle", "yes")


def test_a_topic_outside_the_schema_has_no_typed_body():
    message = decode(_frames(topic="test.data", body={"anything": 1}, publisher="p", seq=0))
    assert message.data is None and message.body == {"anything": 1}


def test_encoding_refuses_object_arrays_and_nan_in_json():
    with pytest.raises(MessageError):
        encode("t", {}, publisher="p", seq=0, array=np.array([object()]))
    with pytest.raises(ValueError):
        encode("t", {"x": float("nan")}, publisher="p", seq=0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), min_size=0, max_size=4))
def test_decoder_never_fails_other_than_with_message_error(frames):
    with contextlib.suppress(MessageError):
        decode(frames)
