"""The board-clock breakdown: its parts are the same sample's stamps, and sum to the whole."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from bench._latency import (
    STAGES,
    ControlStamps,
    StampLog,
    stage_parts_ms,
    summarise_stages,
    whole_ms,
)
from runtime.messages import AttentionFeature, Control, Trace

# One sample's trip, wall-clock s: board 0, read +2.1 ms, published +0.1, estimate +1.7,
# control +0.7, received +0.4, applied +3.3 ms.
STAMPS = ControlStamps(
    board=1000.0,
    driver_read=1000.0021,
    driver_publish=1000.0022,
    features_publish=1000.0039,
    control_publish=1000.0046,
    client_receive=1000.0050,
)


def test_each_stage_is_the_difference_of_its_own_two_stamps():
    parts = stage_parts_ms(STAMPS)
    assert list(parts) == [s[0] for s in STAGES[:-1]]  # not applied yet: no last stage
    expected = {
        "board_buffer_poll": 2.1,
        "driver_to_bus": 0.1,
        "features": 1.7,
        "controller": 0.7,
        "bus_to_client": 0.4,
    }
    assert parts == pytest.approx(expected, abs=1e-6)
    assert sum(parts.values()) == pytest.approx(whole_ms(STAMPS), abs=1e-9)
    assert whole_ms(STAMPS) == pytest.approx(5.0, abs=1e-6)


def test_the_parts_of_an_applied_control_sum_to_board_to_applied():
    applied = STAMPS.with_applied(1000.0083)
    parts = stage_parts_ms(applied)
    assert parts["client_to_applied"] == pytest.approx(3.3, abs=1e-6)
    assert sum(parts.values()) == pytest.approx(whole_ms(applied), abs=1e-9)
    assert whole_ms(applied) == pytest.approx(8.3, abs=1e-6)


def test_percentiles_are_taken_per_stage_after_the_per_sample_sum_is_checked():
    rows = [
        ControlStamps(
            board=t,
            driver_read=t + 0.001 * (1 + i % 3),
            driver_publish=t + 0.004,
            features_publish=t + 0.006 + 0.001 * (i % 5),
            control_publish=t + 0.012,
            client_receive=t + 0.013,
            applied=t + 0.013 + 0.0005 * i,
        )
        for i, t in enumerate(1000.0 + 0.25 * k for k in range(40))
    ]
    out = summarise_stages(rows, applied=True)
    assert out["stage_sum_max_error_ms"] < 1e-6
    assert out["stage_board_buffer_poll_p50_ms"] == pytest.approx(2.0, abs=1e-6)
    assert out["stage_bus_to_client_p99_ms"] == pytest.approx(1.0, abs=1e-6)
    assert set(out) == {f"stage_{s[0]}_{q}_ms" for s in STAGES for q in ("p50", "p99")} | {
        "stage_sum_max_error_ms"
    }
    e2e_only = summarise_stages(rows, applied=False)
    assert "stage_client_to_applied_p50_ms" not in e2e_only
    assert math.isnan(summarise_stages([], applied=False)["stage_sum_max_error_ms"])


def _feature(trace, index):
    return AttentionFeature(
        sample_index=index, time_s=index * 0.25, window_s=4.0, hop_s=0.25, valid=True,
        calibrated=True, reason="", quality=1.0, trace=trace,
    )


def _message(data, publish_time):
    return SimpleNamespace(data=data, publish_time=publish_time)


def test_the_stamp_log_joins_a_control_to_the_estimate_of_its_own_chunk_once():
    trace = Trace(
        raw_publish_time=STAMPS.driver_publish, raw_publisher="driver-1", raw_seq=7,
        raw_source_time=STAMPS.board, raw_read_time=STAMPS.driver_read,
    )
    other = Trace(raw_publish_time=1.0, raw_publisher="driver-1", raw_seq=6,
                  raw_source_time=0.9, raw_read_time=0.95)
    log = StampLog()
    feature, older = _feature(trace, 1), _feature(other, 0)
    assert log.observe(_message(older, 999.0), 999.0) is None
    assert log.observe(_message(feature, STAMPS.features_publish), 0.0) is None
    control = Control(trigger="feature", trace=trace, sample_time=trace.raw_publish_time)
    row = log.observe(_message(control, STAMPS.control_publish), STAMPS.client_receive)
    assert row == STAMPS
    # A second control on the same chunk (or a timer hop) does not count it twice.
    assert log.observe(_message(control, 2000.0), 2000.1) is None
    timer = Control(trigger="timer", trace=other)
    assert log.observe(_message(timer, 2000.0), 2000.1) is None
    # No read time (an older driver): counted as incomplete, never guessed.
    old = Trace(raw_publish_time=3.0, raw_publisher="driver-1", raw_seq=9, raw_source_time=2.9)
    log.observe(_message(_feature(old, 2), 3.1), 3.1)
    assert log.observe(_message(Control(trigger="feature", trace=old), 3.2), 3.3) is None
    assert log.rows == [STAMPS] and log.incomplete == 1
