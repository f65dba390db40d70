"""A feature stage that fails and is restarted by its supervisor keeps each person's
finished calibration: the new estimators are calibrated from their first window, with the
very statistics calibration had given, instead of calibrating again (during which the
controller would hold the safe state). A calibration still running when the stage failed
is not kept, and a kept one is not used for another rate or other channels."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import sim
from runtime.bus import BusPublisher, BusSubscriber
from runtime.config import FeaturesConfig, SourceConfig
from runtime.features import (
    AttentionEstimator,
    EegFeatureSettings,
    HeartFeatureSettings,
    RobustBaseline,
    StressEstimator,
)
from runtime.messages import AttentionFeature, FeaturesStatus, RawChunk
from runtime.stages import FeatureStage, StageContext, SupervisedStage
from tests.stages._helpers import PROBE_TOPIC, connect

FS = 250.0
CHUNK = 250  # 1 s
NAMES = tuple(f"E{i + 1}" for i in range(8))
#: Calibration on the first 20 s (the default is 120 s; the rule is the same).
SETTINGS = EegFeatureSettings(baseline_s=20.0)


class FailsOnce(FeatureStage):
    """The real stage, made to raise once at one chunk: a stand-in for a bug that a
    particular chunk triggers (the supervisor and the restart are real)."""

    def __init__(self, fail_at_index: int) -> None:
        super().__init__(FeaturesConfig(eeg=SETTINGS), SourceConfig(heart_signal="none"),
                         status_interval_s=0.1)
        self.fail_at_index = fail_at_index
        self.failed = False

    def _take(self, message, chunk, *args) -> None:
        if chunk.first_index == self.fail_at_index and not self.failed:
            self.failed = True
            raise RuntimeError("injected stage failure")
        super()._take(message, chunk, *args)


def _chunk(first_index: int) -> RawChunk:
    t_first = 1000.0 + first_index / FS
    return RawChunk(preset="default", fs=FS, channels=NAMES, first_index=first_index,
                    dropped=0, t_first=t_first, t_last=t_first + (CHUNK - 1) / FS)


@pytest.fixture(scope="module")
def eeg() -> np.ndarray:
    """60 s of the ci_short scenario's calm rest (8 channels, µV)."""
    rec = sim.render_session(sim.load_scenario("ci_short"), sim.generic_layout(8, FS), speed=0)
    return rec.data[list(rec.layout.eeg_rows), : int(60 * FS)].astype(np.float32)


def _run_across_a_failure(broker, eeg: np.ndarray, fail_at_s: int, resume_s: int):
    """Chunks 0 … fail_at_s−1 s, the chunk that makes the stage fail, then (once the
    restarted stage is up) chunks from ``resume_s`` on; returns the stage and the
    estimates published after the restart."""
    stage_function = FailsOnce(fail_at_index=fail_at_s * CHUNK)
    stop = threading.Event()
    context = StageContext("features", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    stage = SupervisedStage(context, stage_function, backoff_s=0.2)
    listener = BusSubscriber(broker.subscribe_endpoint,
                             ("features.attention", "status.features", PROBE_TOPIC))
    driver = BusPublisher(broker.publish_endpoint, "driver")

    def send(second: int) -> None:
        first = second * CHUNK
        driver.publish("raw.eeg", _chunk(first), array=eeg[:, first : first + CHUNK])
        time.sleep(0.002)

    after: list[AttentionFeature] = []
    stage.start()
    try:
        assert context.ready.wait(30), "feature stage did not start"
        connect(driver, listener)
        for second in range(fail_at_s + 1):
            send(second)
        # A status from another publisher than the failed run's says that the restarted
        # run is subscribed again (each run makes its own sockets).
        end = time.monotonic() + 20
        first_run, up = None, False
        while time.monotonic() < end and not up:
            message = listener.recv(timeout_s=0.1)
            if message is None or not isinstance(message.data, FeaturesStatus):
                continue
            first_run = first_run or message.publisher
            up = context.restarts == 1 and message.publisher != first_run
        assert up, f"the stage was not restarted (restarts: {context.restarts})"
        for second in range(resume_s, eeg.shape[1] // CHUNK):
            send(second)
        expected_n = len(AttentionEstimator(FS, list(NAMES), SETTINGS).push(
            eeg[:, resume_s * CHUNK :]))
        end = time.monotonic() + 30
        while time.monotonic() < end and len(after) < expected_n:
            message = listener.recv(timeout_s=0.2)
            if message is not None and isinstance(message.data, AttentionFeature):
                after.append(message.data)
    finally:
        stop.set()
        assert stage.join(5)
        listener.close()
        driver.close()
    return stage_function, after


def test_a_restarted_stage_keeps_the_calibration_it_had_finished(broker, eeg):
    stage, after = _run_across_a_failure(broker, eeg, fail_at_s=30, resume_s=32)
    # Independent truth: an estimator calibrated on the same first 30 s, and one that
    # starts at 32 s with exactly that calibration.
    before = AttentionEstimator(FS, list(NAMES), SETTINGS)
    estimates = before.push(eeg[:, : 30 * CHUNK])
    assert estimates[-1].calibrated and before.baseline.frozen
    resumed = AttentionEstimator(FS, list(NAMES), SETTINGS)
    resumed.baseline = RobustBaseline(frozen=dict(before.baseline.frozen),
                                      meta=dict(before.baseline.meta))
    expected = resumed.push(eeg[:, 32 * CHUNK :])
    assert [f.sample_index for f in after] == [e.sample_index for e in expected]
    assert [f.attention for f in after] == [e.attention for e in expected]
    # Calibrated from the first window after the restart, and valid levels at calm rest.
    assert all(f.calibrated for f in after)
    assert sum(f.valid for f in after) >= 0.9 * len(after)
    assert stage.kept_calibrations[(None, "attention")].frozen == before.baseline.frozen


def test_a_calibration_still_running_at_the_failure_starts_again(broker, eeg):
    stage, after = _run_across_a_failure(broker, eeg, fail_at_s=10, resume_s=12)
    fresh = AttentionEstimator(FS, list(NAMES), SETTINGS).push(eeg[:, 12 * CHUNK :])
    assert [f.attention for f in after] == [e.attention for e in fresh]
    assert [f.calibrated for f in after] == [e.calibrated for e in fresh]
    assert not after[0].calibrated and after[-1].calibrated  # 20 s of calibration again


def test_a_kept_calibration_is_not_used_for_other_channels_or_rate():
    stage = FeatureStage(FeaturesConfig(eeg=SETTINGS), SourceConfig(heart_signal="none"))
    calibrated = AttentionEstimator(FS, list(NAMES), SETTINGS)
    calibrated.baseline.frozen = {"log_engagement": (0.1, 0.2)}
    stage.kept_calibrations[("P01", "attention")] = calibrated.baseline
    same = AttentionEstimator(FS, list(NAMES), SETTINGS)
    assert stage._resume("P01", "attention", same) and same.baseline.calibrated
    other_rate = AttentionEstimator(500.0, list(NAMES), SETTINGS)
    assert not stage._resume("P01", "attention", other_rate)
    assert not other_rate.baseline.calibrated
    other_channels = AttentionEstimator(FS, list(NAMES[:4]), SETTINGS)
    assert not stage._resume("P01", "attention", other_channels)
    someone_else = AttentionEstimator(FS, list(NAMES), SETTINGS)
    assert not stage._resume("P02", "attention", someone_else)
    heart = StressEstimator(FS, "ppg", HeartFeatureSettings())
    heart.baseline.frozen = {"hr_bpm": (60.0, 3.0)}
    stage.kept_calibrations[("P01", "stress")] = heart.baseline
    assert stage._resume("P01", "stress", StressEstimator(FS, "ppg", HeartFeatureSettings()))
    assert not stage._resume("P01", "stress", StressEstimator(FS, "ecg", HeartFeatureSettings()))
    assert not stage._resume("P01", "stress", StressEstimator(100.0, "ppg", HeartFeatureSettings()))
