"""Estimates as bus bodies: ``to_message`` carries every value of the estimate, typed."""

from __future__ import annotations

import json

import pytest

from runtime.features import (
    AttentionEstimator,
    EegFeatureSettings,
    HeartFeatureSettings,
    StressEstimator,
)
from runtime.messages import AttentionFeature, StressFeature, Trace
from tests.features._synth import eeg_with_gains, heart_signal

FS = 250.0
TRACE = Trace(raw_publish_time=1.5, raw_publisher="driver-1", raw_seq=4, raw_source_time=2.5)


def _same_as_dict(message, estimate, kind: str) -> None:
    """The message's JSON is the estimate's own dict plus its kind and trace."""
    wire = json.loads(json.dumps(message.to_dict(), allow_nan=False))
    assert wire == {**estimate.to_dict(), "kind": kind, "trace": TRACE.to_dict()}
    assert type(message).from_dict(wire) == message


def test_attention_estimates_become_attention_features():
    settings = EegFeatureSettings(window_s=2.0, hop_s=0.5, baseline_s=4.0)
    eeg = eeg_with_gains(1, FS, [(8.0, 4.0, 8.0, 3.0), (4.0, 4.0, 4.0, 6.0)])
    estimates = AttentionEstimator(FS, [f"E{i}" for i in range(8)], settings).push(eeg)
    valid = [e for e in estimates if e.valid]
    assert valid and any(not e.valid for e in estimates)  # both kinds are converted
    for estimate in estimates:
        message = estimate.to_message(TRACE)
        assert isinstance(message, AttentionFeature) and message.trace == TRACE
        assert message.level == estimate.attention and message.valid == estimate.valid
        _same_as_dict(message, estimate, "attention")


def test_stress_estimates_become_stress_features_with_their_hrv():
    settings = HeartFeatureSettings(baseline_s=0)
    ppg, _ = heart_signal(2, FS, "ppg", [(130.0, 800.0, 30.0, 10.0)])
    estimates = StressEstimator(FS, "ppg", settings).push(ppg)
    assert any(e.hrv is not None for e in estimates)
    for estimate in estimates:
        message = estimate.to_message(TRACE)
        assert isinstance(message, StressFeature) and message.signal == "ppg"
        assert message.level == estimate.stress
        if estimate.hrv is not None:
            assert message.rmssd_ms == pytest.approx(estimate.hrv.rmssd_ms)
            assert message.n_rr == estimate.hrv.n_rr
        _same_as_dict(message, estimate, "stress")
