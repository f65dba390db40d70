"""The LSL bridge: a real daemon's streams resolved and read with real pylsl inlets, and the
EEG samples compared with what the driver published on the bus."""

from __future__ import annotations

import time

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from runtime.bus import BusSubscriber  # noqa: E402
from runtime.lab import mark  # noqa: E402
from runtime.lsl import CONTROL_CHANNELS, FEATURE_CHANNELS, LslBridgeStage  # noqa: E402
from tests.lab._helpers import fast_config, running_daemon  # noqa: E402


def _resolve(source_id: str) -> object:
    streams = pylsl.resolve_byprop("source_id", source_id, minimum=1, timeout=10.0)
    assert streams, f"no LSL stream with source_id {source_id!r}"
    return streams[0]


def _labels(info: object) -> list[str]:
    labels = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty():
        labels.append(channel.child_value("label"))
        channel = channel.next_sibling()
    return labels


def test_lsl_outlets_carry_the_daemons_streams(tmp_path):
    _, config = fast_config(tmp_path)
    bridge = LslBridgeStage(config)
    with running_daemon(config, {"lsl": bridge}) as daemon:
        bus = BusSubscriber(daemon.subscribe_endpoint, ("raw.eeg",))
        eeg_info = _resolve(bridge.source_id("eeg"))
        assert eeg_info.type() == "EEG" and eeg_info.name() == "kintsugi EEG"
        # As LabRecorder finds it: by type and name (XPath predicate), with a timeout.
        found = pylsl.resolve_bypred(
            f"type='EEG' and name='kintsugi EEG' and source_id='{bridge.source_id('eeg')}'",
            minimum=1, timeout=5.0)
        assert [s.source_id() for s in found] == [bridge.source_id("eeg")]
        assert eeg_info.channel_count() == 16 and eeg_info.nominal_srate() == 250.0
        eeg = pylsl.StreamInlet(eeg_info)
        eeg.open_stream(timeout=5.0)
        assert _labels(eeg.info(timeout=5.0))[:3] == ["Fz", "C3", "Cz"]
        control = pylsl.StreamInlet(_resolve(bridge.source_id("control")))
        features = pylsl.StreamInlet(_resolve(bridge.source_id("features")))
        markers = pylsl.StreamInlet(_resolve(bridge.source_id("markers")))
        for inlet in (control, features, markers):
            inlet.open_stream(timeout=5.0)
        published: list[np.ndarray] = []
        lsl_samples: list[list[float]] = []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            message = bus.recv(timeout_s=0.05)
            if message is not None and message.array is not None:
                published.append(np.array(message.array).T)
            chunk, _ = eeg.pull_chunk(timeout=0.0)
            lsl_samples.extend(chunk)
        event = mark("lsl marker", publish_endpoint=daemon.publish_endpoint,
                     subscribe_endpoint=daemon.subscribe_endpoint)
        label, _ = markers.pull_sample(timeout=5.0)
        control_sample, _ = control.pull_sample(timeout=5.0)
        time.sleep(0.5)
        feature_samples, _ = features.pull_chunk(timeout=1.0)
        bus.close()
    assert label == [event.label]
    assert len(control_sample) == len(CONTROL_CHANNELS) and 0 < control_sample[0] < 10
    assert feature_samples and all(len(f) == len(FEATURE_CHANNELS) for f in feature_samples)
    attention = np.array([f[0] for f in feature_samples])
    valid = np.array([f[1] for f in feature_samples]) == 1.0
    assert valid.any(), "no valid attention estimate reached LSL"
    assert np.all((attention[valid] >= 0) & (attention[valid] <= 1))
    # The EEG samples read through LSL are the driver's samples, in order, none lost.
    assert len(lsl_samples) > 250
    bus_samples = np.vstack(published)
    got = np.array(lsl_samples, dtype=np.float32)
    matches = np.flatnonzero(np.all(bus_samples == got[0], axis=1))
    assert matches.size == 1, "the first LSL sample is not one the driver published"
    start = int(matches[0])
    n = min(len(got), len(bus_samples) - start)
    assert n > 200
    np.testing.assert_array_equal(got[:n], bus_samples[start:start + n])


def test_two_bridges_have_distinct_source_ids(tmp_path):
    _, config = fast_config(tmp_path)
    a, b = LslBridgeStage(config), LslBridgeStage(config)
    assert a.source_id("eeg") != b.source_id("eeg")
    assert a.source_id("eeg").startswith("kintsugi-") and a.source_id("eeg").endswith("-eeg")
