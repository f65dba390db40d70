"""Every typed body: JSON round trips, and each bad field refused, named with its topic."""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

import pytest

import runtime.messages as messages
from runtime.messages import (
    AppliedControl,
    AttentionFeature,
    Body,
    BrokerStatus,
    BusCounters,
    ClockRequest,
    ClockResponse,
    ClockStatus,
    ComponentStatus,
    Control,
    ControllerStatus,
    DaemonStatus,
    Decision,
    DriverStatus,
    Feature,
    FeaturesStatus,
    GuardMargins,
    LatencySummary,
    Marker,
    MessageError,
    MessageFieldError,
    ModelStatus,
    Probe,
    RawBoardChunk,
    RawChunk,
    RecorderStatus,
    RepairCounts,
    SensorClock,
    StageHealth,
    StressFeature,
    Trace,
    body_type,
    parse_body,
)

TRACE = Trace(raw_publish_time=1700000000.25, raw_publisher="driver-1a2b", raw_seq=41,
              raw_source_time=12.5, raw_read_time=1700000000.24, clock_offset_s=0.25)
BUS = BusCounters(received=120, rejected=2, dropped=3, duplicates=1, last_error="x: bad")
LATENCY = LatencySummary(p50=12.5, p99=40.0, n=77)

#: A status's last failure: every example sets it, so no field is at its default.
FAILED_ONCE: dict[str, Any] = {"error": "DeviceLostError: no data", "retry_in_s": 0.5}

#: One example of every body type with no field at its default, and the topic it travels on.
EXAMPLES: dict[type[Body], tuple[str, Body]] = {
    BusCounters: ("status.features", BUS),
    Trace: ("features.attention", TRACE),
    Control: ("control", Control(
        intensity=1.5, gentle=False, rule="intensify: attention 0.81 > 0.7", ttl_s=2.0,
        issued_at=100.0, expires_at=102.0, safe=False, seq=9, source_time=12.5,
        sample_time=1700000000.25, mode="intensify", trigger="feature", trace=TRACE,
        time_s=61.25, trigger_person="P02",
    )),
    Decision: ("decision", Decision(
        option="gentle", index=2, probabilities=(0.0, 0.25, 0.5, 0.25),
        options=("intensify", "hold", "gentle", "pause"), seed=7, latency_ms=3.5,
        explanation="stress high", conflict_kind="poor-signal",
        inputs={"attention": 0.4, "detail": "stress invalid"}, failed=True, resolver="qiskit-aer",
        time_s=61.25, trigger_person="P01",
    )),
    AttentionFeature: ("features.attention", AttentionFeature(
        sample_index=1000, time_s=4.0, window_s=4.0, hop_s=0.25, valid=True, calibrated=True,
        reason="", quality=0.75, trace=TRACE, attention=0.62, log_engagement=-0.4,
        engagement_index=0.67, band_powers={"alpha": 12.0, "beta": 4.5},
        channels_used=("Fz", "Cz"), channels_bad={"O1": "flat"}, channels_warn={"Fp1": "blink"},
        person="P01",
    )),
    StressFeature: ("features.stress", StressFeature(
        sample_index=15000, time_s=60.0, window_s=60.0, hop_s=5.0, valid=True,
        calibrated=True, reason="", quality=0.9, trace=TRACE, stress=0.3, signal="ecg",
        hr_bpm=72.0, rmssd_ms=41.0, sdnn_ms=50.0, pnn50_pct=18.0, n_beats=73, n_rr=70,
        baevsky_si=95.0, lf_hf=1.4, person="P02",
    )),
    Marker: ("marker", Marker(label="eyes closed", value=3.0, time=1700000001.0)),
    Probe: ("lab.probe", Probe(component="recorder")),
    AppliedControl: ("model.status", AppliedControl(
        seq=8, intensity=1.25, gentle=False, safe=False, rule="hold", issued_at=99.0,
        source_time=12.0, sample_time=1700000000.0, received_at=1700000000.004,
    )),
    RepairCounts: ("model.status", RepairCounts(
        total=5, per_module={"layer1": 3, "layer2": 2}, nonfinite=1, outliers=4, spikes=2,
    )),
    GuardMargins: ("model.status", GuardMargins(
        identity_floor=0.9, min_similarity=0.93, identity_margin=0.03,
        entropy_margin_bits=-0.1, guard_scaled=2, entropy_limited=1,
    )),
    ModelStatus: ("model.status", ModelStatus(
        step=120, rank=1, world_size=2,
        control=AppliedControl(seq=8, intensity=1.25, gentle=False, safe=False, rule="hold"),
        applied_at=1700000000.04, applied_step=118, published_at=1700000000.5,
        repairs=RepairCounts(total=1, per_module={"fc": 1}), guard=GuardMargins(guard_scaled=1),
        value_weights={"mean": 1.1},
    )),
    RawChunk: ("raw.eeg", RawChunk(
        preset="default", fs=250.0, channels=("Fz", "Cz"), first_index=500, dropped=2,
        t_first=10.0, t_last=10.096, read_time=10.099, person="P01",
    )),
    RawBoardChunk: ("raw.board.default", RawBoardChunk(
        preset="default", fs=250.0, num_rows=32, first_index=500, dropped=2,
        layout={"timestamp_row": 30, "eeg_rows": [1, 2]}, person="P01",
    )),
    ComponentStatus: ("status.resolver", ComponentStatus(
        component="resolver", state="restarting", error="RuntimeError: boom", retry_in_s=0.5,
    )),
    DriverStatus: ("status.driver", DriverStatus(
        component="driver", state="streaming", **FAILED_ONCE, board="synthetic",
        samples={"default": 2500},
        dropped={"default": 3}, since_data_s=0.02, presets={"default": {"marker_row": 31}},
        person="P01",
    )),
    FeaturesStatus: ("status.features", FeaturesStatus(
        component="features", state="running", **FAILED_ONCE, attention=40, stress=2,
        gap_samples=25,
        rejected=1, bus=BUS, people=("P01", "P02"),
    )),
    LatencySummary: ("status.controller", LATENCY),
    ControllerStatus: ("status.controller", ControllerStatus(
        component="controller", state="running", **FAILED_ONCE, mode="hold", bus=BUS,
        applied_latency_ms=LATENCY,
    )),
    BrokerStatus: ("status.broker", BrokerStatus(
        component="broker", state="running", **FAILED_ONCE, forwarded=900, rejected=3,
        subscriptions=6,
        cache_replays=2, last_error="header of 'x' is not JSON",
    )),
    StageHealth: ("status.daemon", StageHealth(alive=False, restarts=2, last_failure="boom")),
    DaemonStatus: ("status.daemon", DaemonStatus(
        component="daemon", state="running", **FAILED_ONCE, publish_endpoint="tcp://127.0.0.1:5555",
        subscribe_endpoint="tcp://127.0.0.1:5556",
        stages={"features": StageHealth(alive=True, restarts=1)},
        broker={"forwarded": 900}, broker_restarts=1,
    )),
    RecorderStatus: ("status.recorder", RecorderStatus(
        component="recorder", state="recording", **FAILED_ONCE, directory="/tmp/session",
        samples={"default": 2500}, lost_samples={"default": 4}, messages=300, bytes=4096,
        bus=BUS, event="gap",
    )),
    ClockRequest: ("clock.request", ClockRequest(
        requester="clock-1a2b", seq=3, t1=1700000000.5, sensor="P01")),
    ClockResponse: ("clock.response", ClockResponse(
        sensor="P01", responder="clock-responder-3c4d", requester="clock-1a2b", seq=3,
        t1=1700000000.5, t2=1700000000.7505, t3=1700000000.7506,
    )),
    SensorClock: ("status.clock", SensorClock(
        offset_ms=250.1, drift_ppm=50.2, uncertainty_ms=0.3, samples=40, last_rtt_ms=0.7,
        at_time=1700000001.0, kept=5, min_rtt_ms=0.4, since_exchange_s=0.1,
    )),
    ClockStatus: ("status.clock", ClockStatus(
        component="clock", state="running", **FAILED_ONCE,
        sensors={"P01": SensorClock(offset_ms=250.1, drift_ppm=50.2, uncertainty_ms=0.3,
                                    samples=40, last_rtt_ms=0.7, at_time=1700000001.0)},
        requests=41, responses=40, late=1, bus=BUS,
    )),
}

#: Base classes that travel only as one of their subclasses.
BASES = {Body, Feature}


def test_every_body_type_has_an_example():
    exported = {
        getattr(messages, name)
        for name in messages.__all__
        if inspect.isclass(getattr(messages, name)) and issubclass(getattr(messages, name), Body)
    }
    assert exported - BASES == set(EXAMPLES)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_a_body_survives_json_and_back(cls: type[Body]):
    topic, body = EXAMPLES[cls]
    fields = [f for f in dataclasses.fields(body) if f.name != "extra"]
    # The example sets every field, so a field the round trip lost would show.
    for f in fields:
        default = f.default_factory() if callable(f.default_factory) else f.default
        assert getattr(body, f.name) != default, f"{cls.__name__}.{f.name} is at its default"
    wire = json.loads(json.dumps(body.to_dict(), allow_nan=False))
    back = cls.from_dict(wire, topic)
    assert back == body and type(back) is cls
    assert back.to_dict() == body.to_dict()
    assert {f.name for f in fields} <= set(wire)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_fields_a_newer_version_adds_are_kept_and_sent_on(cls: type[Body]):
    topic, body = EXAMPLES[cls]
    wire = {**body.to_dict(), "added_later": {"x": [1, 2]}}
    back = cls.from_dict(wire, topic)
    assert back == body and back.extra == {"added_later": {"x": [1, 2]}}
    assert back.to_dict() == wire


def test_topics_map_to_their_types():
    for topic, cls in [
        ("raw.eeg", RawChunk), ("raw.ppg", RawChunk), ("raw.board.aux", RawBoardChunk),
        ("features.attention", AttentionFeature), ("features.stress", StressFeature),
        ("control", Control), ("decision", Decision), ("model.status", ModelStatus),
        ("status.driver", DriverStatus), ("status.new-stage", ComponentStatus),
        ("marker", Marker), ("lab.probe", Probe),
    ]:
        assert body_type(topic) is cls, topic
    assert body_type("test.data") is None and parse_body("test.data", {"a": 1}) is None
    topic, control = EXAMPLES[Control]
    assert parse_body(topic, control.to_dict()) == control


#: Marks a field left out of the body.
LEFT_OUT = object()

#: (type, field, value in the body, the field the error names): one wrong type and one out
#: of range for each type (Probe has no ranged field: a missing one instead).
BAD_FIELDS: list[tuple[type[Body], str, Any, str]] = [
    (BusCounters, "received", "3", "received"),
    (BusCounters, "rejected", -1, "rejected"),
    (Trace, "raw_seq", "41", "raw_seq"),
    (Trace, "raw_seq", -1, "raw_seq"),
    (Control, "gentle", "yes", "gentle"),
    (Control, "intensity", -0.5, "intensity"),
    (Control, "trace", {"raw_seq": 1.5}, "trace.raw_seq"),
    (Decision, "seed", "7", "seed"),
    (Decision, "index", -2, "index"),
    (Decision, "probabilities", [0.5, 0.5], "probabilities"),
    (Decision, "trigger_person", "../P01", "trigger_person"),
    (Control, "trigger_person", 7, "trigger_person"),
    (Control, "trigger_person", " P01", "trigger_person"),
    (AttentionFeature, "person", "", "person"),
    (StressFeature, "person", ".P01", "person"),
    (AttentionFeature, "valid", "true", "valid"),
    (AttentionFeature, "quality", 1.5, "quality"),
    (AttentionFeature, "attention", 1.2, "attention"),
    (AttentionFeature, "kind", "stress", "kind"),
    (StressFeature, "n_beats", 2.5, "n_beats"),
    (StressFeature, "pnn50_pct", 101.0, "pnn50_pct"),
    (StressFeature, "signal", "emg", "signal"),
    (Marker, "label", 5, "label"),
    (Marker, "value", 0, "value"),
    (Probe, "component", 3, "component"),
    (Probe, "component", LEFT_OUT, "component"),
    (AppliedControl, "gentle", 1, "gentle"),
    (AppliedControl, "seq", -2, "seq"),
    (RepairCounts, "per_module", {"fc": "x"}, "per_module.fc"),
    (RepairCounts, "total", -1, "total"),
    (GuardMargins, "identity_margin", "0.1", "identity_margin"),
    (GuardMargins, "guard_scaled", -1, "guard_scaled"),
    (ModelStatus, "step", "1", "step"),
    (ModelStatus, "world_size", 0, "world_size"),
    (ModelStatus, "guard", {"guard_scaled": -1}, "guard.guard_scaled"),
    (RawChunk, "channels", "Fz", "channels"),
    (RawChunk, "fs", 2e5, "fs"),
    (RawChunk, "fs", 0.0, "fs"),
    (RawBoardChunk, "layout", [1], "layout"),
    (RawBoardChunk, "num_rows", 0, "num_rows"),
    (ComponentStatus, "state", 1, "state"),
    (ComponentStatus, "retry_in_s", -1.0, "retry_in_s"),
    (DriverStatus, "samples", {"default": "many"}, "samples.default"),
    (DriverStatus, "since_data_s", -0.1, "since_data_s"),
    (FeaturesStatus, "bus", "x", "bus"),
    (FeaturesStatus, "gap_samples", -1, "gap_samples"),
    (LatencySummary, "n", 1.5, "n"),
    (LatencySummary, "p50", -1.0, "p50"),
    (ControllerStatus, "mode", 3, "mode"),
    (ControllerStatus, "applied_latency_ms", {"p50": 1, "p99": -1, "n": 1},
     "applied_latency_ms.p99"),
    (BrokerStatus, "last_error", None, "last_error"),
    (BrokerStatus, "forwarded", -1, "forwarded"),
    (StageHealth, "alive", "yes", "alive"),
    (StageHealth, "restarts", -1, "restarts"),
    (DaemonStatus, "stages", {"features": {"alive": "no"}}, "stages.features.alive"),
    (DaemonStatus, "broker_restarts", -1, "broker_restarts"),
    (RecorderStatus, "bytes", "1k", "bytes"),
    (RecorderStatus, "messages", -1, "messages"),
]


@pytest.mark.parametrize(
    ("cls", "name", "value", "field"),
    BAD_FIELDS,
    ids=[f"{cls.__name__}.{name}={value!r}" for cls, name, value, _ in BAD_FIELDS],
)
def test_a_bad_field_is_refused_naming_topic_field_and_value(cls, name, value, field):
    topic, body = EXAMPLES[cls]
    wire = body.to_dict()
    if value is LEFT_OUT:
        del wire[name]
    else:
        wire[name] = value
    with pytest.raises(MessageFieldError) as info:
        cls.from_dict(wire, topic)
    error = info.value
    assert isinstance(error, MessageError) and isinstance(error, ValueError)
    assert (error.topic, error.field) == (topic, field)
    text = str(error)
    assert text.startswith(f"{topic}: field {field!r} is ")
    if value is LEFT_OUT:
        assert "missing" in text
    else:
        leaf = value  # the bad value itself, inside a nested object for a dotted field
        for key in field.split(".")[1:]:
            leaf = leaf[key]
        assert error.value == leaf and repr(leaf) in text
    assert error.expected and text.endswith(f"expected {error.expected}")


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(MessageFieldError) as info:
        Control.from_dict([1, 2], "control")  # type: ignore[arg-type]
    assert (info.value.topic, info.value.field) == ("control", "body")


def test_an_old_recordings_gap_event_still_reads_as_a_recorder_status():
    # Before schema 1.1 the recorder's "lost" event wrote the gap's size as "samples".
    old = {"component": "recorder", "state": "recording", "event": "lost", "samples": 12,
           "preset": "default"}
    status = RecorderStatus.from_dict(old, "status.recorder")
    assert status.event == "lost" and status.samples == {}
    assert status.extra == {"preset": "default", "missed_samples": 12}
    with pytest.raises(MessageFieldError) as info:  # elsewhere an int is still wrong
        RecorderStatus.from_dict({**old, "event": "started"}, "status.recorder")
    assert info.value.field == "samples"


@pytest.mark.parametrize("cls", [AttentionFeature, StressFeature, Control, Decision],
                         ids=lambda cls: cls.__name__)
def test_no_person_is_left_off_the_wire_as_before_the_field_existed(cls: type[Body]):
    topic, body = EXAMPLES[cls]
    name = "person" if issubclass(cls, Feature) else "trigger_person"
    single = dataclasses.replace(body, **{name: None})
    wire = single.to_dict()
    assert name not in wire and name in body.to_dict()
    assert cls.from_dict(wire, topic) == single
    assert cls.from_dict({**wire, name: None}, topic) == single  # null reads as absent


def test_a_trace_of_one_hosts_clock_leaves_the_offset_off_the_wire():
    """A single-host trace's body is what it was before hubs existed; a mapped one says by
    how much its times were moved."""
    local = Trace(raw_publish_time=1.5, raw_source_time=1.0)
    assert "clock_offset_s" not in local.to_dict()
    mapped = Trace(raw_source_time=1.0, clock_offset_s=0.25)
    assert mapped.to_dict()["clock_offset_s"] == 0.25
    assert Trace.from_dict(mapped.to_dict()) == mapped
