"""The driver's read time: carried by RawChunk and Trace, optional for older senders."""

from __future__ import annotations

import pytest

from runtime.messages import Control, MessageFieldError, RawChunk, Trace


def test_raw_chunk_read_time_round_trips_and_an_old_chunk_without_it_validates():
    chunk = RawChunk(
        preset="default", fs=250.0, channels=("Fz",), first_index=5, t_first=10.0,
        t_last=10.016, read_time=10.019,
    )
    assert RawChunk.from_dict(chunk.to_dict(), "raw.eeg") == chunk
    old = chunk.to_dict()
    del old["read_time"]
    assert RawChunk.from_dict(old, "raw.eeg").read_time is None


def test_trace_read_time_round_trips_inside_a_control_and_an_old_trace_validates():
    trace = Trace(
        raw_publish_time=10.0201, raw_publisher="driver-1", raw_seq=3, raw_source_time=10.016,
        raw_read_time=10.019,
    )
    control = Control(trigger="feature", trace=trace, sample_time=10.0201, source_time=10.016)
    assert Control.from_dict(control.to_dict()).trace == trace
    old = control.to_dict()
    del old["trace"]["raw_read_time"]
    assert Control.from_dict(old).trace.raw_read_time is None


def test_a_read_time_that_is_not_a_number_is_rejected_naming_the_field():
    body = Trace(raw_read_time=1.0).to_dict() | {"raw_read_time": "soon"}
    with pytest.raises(MessageFieldError, match="raw_read_time"):
        Trace.from_dict(body, "control")
