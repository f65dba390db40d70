"""The clock topics' bodies: which type each topic carries, and what they refuse."""

from __future__ import annotations

import pytest

from runtime.clock import ClockMap, ClockMaps, UnknownSensorClockError
from runtime.messages import (
    ClockRequest,
    ClockResponse,
    ClockStatus,
    MessageFieldError,
    SensorClock,
    body_type,
    parse_body,
)

ENTRY = SensorClock(offset_ms=250.0, drift_ppm=50.0, uncertainty_ms=0.3, samples=40,
                    last_rtt_ms=0.7, at_time=1000.0)


def test_the_clock_topics_carry_their_types():
    assert body_type("clock.request") is ClockRequest
    assert body_type("clock.response") is ClockResponse
    assert body_type("status.clock") is ClockStatus
    status = ClockStatus(component="clock", state="running", sensors={"P01": ENTRY})
    assert parse_body("status.clock", status.to_dict()) == status


def test_an_answer_sent_before_its_request_arrived_is_refused():
    wire = ClockResponse(sensor="P01", responder="r", requester="h", seq=1, t1=10.0,
                         t2=10.25, t3=10.2501).to_dict()
    wire["t3"] = 10.2499
    with pytest.raises(MessageFieldError) as info:
        ClockResponse.from_dict(wire)
    assert (info.value.topic, info.value.field) == ("clock.response", "t3")
    assert "a time ≥ t2 (10.25)" in str(info.value)


def test_a_bad_sensor_entry_is_refused_naming_its_path():
    wire = ClockStatus(component="clock", state="running", sensors={"P01": ENTRY}).to_dict()
    wire["sensors"]["P01"]["uncertainty_ms"] = -0.1
    with pytest.raises(MessageFieldError) as info:
        ClockStatus.from_dict(wire)
    assert info.value.field == "sensors.P01.uncertainty_ms"


def test_a_status_entry_maps_sensor_times_onto_the_hubs_clock():
    maps = ClockMaps()
    with pytest.raises(UnknownSensorClockError, match="no clock estimate for sensor 'P01'"):
        maps.to_hub("P01", 1000.25)
    maps.update(ClockStatus(component="clock", state="running", sensors={"P01": ENTRY}))
    # At at_time the sensor reads 250 ms ahead; 100 s later 250 + 5 ms (50 ppm).
    assert maps.to_hub("P01", 1000.25) == pytest.approx(1000.0, abs=1e-9)
    assert maps.to_hub("P01", 1100.255) == pytest.approx(1100.0, abs=1e-9)
    clock_map = maps.get("P01")
    assert isinstance(clock_map, ClockMap) and clock_map.at_time == 1000.0
    assert (clock_map.offset_s, clock_map.drift, clock_map.uncertainty_s) == pytest.approx(
        (0.25, 50e-6, 0.3e-3), rel=1e-12)
    assert clock_map.to_sensor(1100.0) == pytest.approx(1100.255, abs=1e-9)
    assert maps.get("P02") is None
