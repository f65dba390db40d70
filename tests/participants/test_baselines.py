"""Saved baselines: versions and the current one, saved from a recorded session's own
calibration, refused when made under other settings, and a session that starts from one
has valid estimates from its first full window (no calibration wait)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.bus import BusPublisher, BusSubscriber
from runtime.cli import main
from runtime.config import FeaturesConfig, SourceConfig
from runtime.errors import ConfigError
from runtime.features import (
    AttentionEstimator,
    EegFeatureSettings,
    HeartFeatureSettings,
    StressEstimator,
)
from runtime.lab._replay import prepare_replay
from runtime.messages import AttentionFeature, RawChunk
from runtime.participants import BaselineStore, SessionBaseline
from runtime.recorder import load_session
from runtime.stages import FeatureStage, StageContext, SupervisedStage
from tests.features._synth import heart_signal, pink_noise
from tests.stages._helpers import PROBE_TOPIC, connect

FS = 250.0
NAMES = tuple(f"E{i + 1}" for i in range(8))
EEG = EegFeatureSettings(window_s=2.0, hop_s=0.5, baseline_s=2.0)


def _noise(seed: int, seconds: float) -> np.ndarray:
    """Pink-noise EEG (white noise would read as muscle artifact on every channel)."""
    return 10.0 * pink_noise(np.random.default_rng(seed), (len(NAMES), int(seconds * FS)), FS)


def _attention_section(settings: EegFeatureSettings = EEG) -> dict:
    estimator = AttentionEstimator(FS, NAMES, settings)
    estimator.push(_noise(1, 6.0))
    assert estimator.baseline.calibrated
    return estimator.baseline.to_dict()


def test_versions_current_and_use(tmp_path):
    store = BaselineStore(tmp_path)
    section = _attention_section()
    first = store.save("P01", {"attention": section}, {"file": "a.json"})
    second = store.save("P01", {"attention": section}, {"file": "b.json"})
    assert (first.version, second.version) == (1, 2)
    assert store.get("P01").version == 2  # the newest save is current
    assert store.use("P01", "v1").current
    assert store.get("P01", "current").version == 1
    assert [b.current for b in store.versions("P01")] == [True, False]
    kept = store.save("P01", {"attention": section}, {"file": "c.json"}, make_current=False)
    assert kept.version == 3 and store.get("P01").version == 1
    assert store.get("P01", 3).covers == ("attention",)
    assert store.get("P01", 3).settings("attention")["channels"] == list(NAMES)
    with pytest.raises(ConfigError, match="no baseline version '7'; saved versions: 1, 2, 3"):
        store.get("P01", "7")
    with pytest.raises(ConfigError, match="baseline save P02 --from"):
        store.get("P02")


def test_saved_from_a_session_it_is_the_live_stage_calibration(recorded_p01, tmp_path, capsys):
    root = tmp_path / "root"
    assert main(["baseline", "save", "P01", "--from", str(recorded_p01), "--root", str(root)]) == 0
    saved = BaselineStore(root).get("P01")
    assert saved.covers == ("attention",)  # 4 s is too short for a 60 s heart window
    assert saved.source == {"session": str(recorded_p01.resolve())}
    settings = saved.settings("attention")
    assert (settings["fs"], settings["window_s"], len(settings["channels"])) == (250.0, 2.0, 16)
    # Independent truth: the live stage's own calibrating windows, as recorded.
    calibrating = [
        r.data.log_engagement for r in load_session(recorded_p01, raw=False).features
        if isinstance(r.data, AttentionFeature) and r.data.reason.startswith("calibrating")
    ]
    median = saved.content["attention"]["stats"]["log_engagement"]["median"]
    assert len(calibrating) >= 3
    assert median == pytest.approx(statistics.median(calibrating), abs=1e-4)
    assert main(["baseline", "list", "P01", "--root", str(root)]) == 0
    assert "P01" in capsys.readouterr().out
    # A session is saved only under its own participant.
    assert main(["baseline", "save", "P02", "--from", str(recorded_p01), "--root", str(root)]) == 2
    assert "participant 'P01'" in capsys.readouterr().err


def test_a_baseline_made_under_other_settings_is_refused_naming_them(tmp_path):
    path = BaselineStore(tmp_path).save("P01", {"attention": _attention_section()}, {}).path
    heart = HeartFeatureSettings()
    SessionBaseline(path, EEG.model_copy(update={"baseline_s": 120.0}), heart, "ppg")  # fine
    other = EEG.model_copy(update={"window_s": 3.0, "overlap": 0.25})
    with pytest.raises(ConfigError) as info:
        SessionBaseline(path, other, heart, "ppg")
    message = str(info.value)
    assert "window_s = 2.0 there, 3.0 here" in message
    assert "overlap = 0.5 there, 0.25 here" in message
    assert "calibrate afresh" in message
    # The rate and channels are known from the data: checked when the estimator loads it.
    start = SessionBaseline(path, EEG, heart, "ppg")
    with pytest.raises(ConfigError, match="fs = 250.0 there, 200.0 here"):
        start.start(AttentionEstimator(200.0, NAMES, EEG), "attention")
    # A run refuses it before anything starts (exit 3, the settings named).
    config = tmp_path / "c.toml"
    config.write_text('[features.eeg]\nwindow_s = 3.0\n')
    assert main(["run", "-c", str(config), "--participant", "P01", "--baseline", "current",
                 "--root", str(tmp_path)]) == 3
    with pytest.raises(ConfigError, match="give --participant ID too"):
        from runtime.participants import resolve_baseline_choice

        resolve_baseline_choice("current", None, tmp_path)


def _first_estimate(
    broker,
    baseline: str | None,
    person: str | None = None,
    baseline_person: str | None = None,
) -> AttentionFeature:
    """The first attention estimate of a feature stage on the real bus, fed 3 s of EEG of
    ``person``, the stage holding ``baseline_person``'s ``baseline``."""
    features = FeaturesConfig(eeg=EEG.model_copy(update={"baseline_s": 120.0}))
    stop = threading.Event()
    context = StageContext("features", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    stage = SupervisedStage(
        context,
        FeatureStage(features, SourceConfig(heart_signal="none"), 0.1, baseline=baseline,
                     baseline_person=baseline_person),
    )
    listener = BusSubscriber(broker.subscribe_endpoint, ("features.attention", PROBE_TOPIC))
    driver = BusPublisher(broker.publish_endpoint, "driver")
    stage.start()
    try:
        assert context.ready.wait(30), "feature stage did not start"
        connect(driver, listener)
        data = _noise(2, 3.0).astype(np.float32)
        chunk = RawChunk(preset="default", fs=FS, channels=NAMES, first_index=0, dropped=0,
                         t_first=0.0, t_last=(data.shape[1] - 1) / FS, person=person)
        driver.publish("raw.eeg", chunk, array=data)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            message = listener.recv(timeout_s=0.2)
            if message is not None and isinstance(message.data, AttentionFeature):
                return message.data
        raise AssertionError("no attention estimate")
    finally:
        stop.set()
        stage.join(5)
        listener.close()
        driver.close()


def test_a_session_from_a_saved_baseline_is_valid_from_its_first_window(broker, tmp_path):
    path = BaselineStore(tmp_path).save("P01", {"attention": _attention_section()}, {}).path
    started = _first_estimate(broker, str(path))
    assert (started.sample_index, started.valid, started.calibrated) == (500, True, True), (
        started.reason)
    assert started.attention is not None and 0.0 < started.attention < 1.0
    fresh = _first_estimate(broker, None)  # without it: calibrating for baseline_s = 120 s
    assert (fresh.sample_index, fresh.valid, fresh.calibrated) == (500, False, False)
    assert fresh.reason.startswith("calibrating")


def test_in_a_group_only_the_baselines_own_person_starts_from_it(broker, tmp_path):
    """[session] participant's baseline is theirs alone: P01 is valid from the first window,
    P02 on the same hub calibrates on their own data."""
    path = str(BaselineStore(tmp_path).save("P01", {"attention": _attention_section()}, {}).path)
    own = _first_estimate(broker, path, person="P01", baseline_person="P01")
    assert (own.person, own.valid, own.calibrated) == ("P01", True, True), own.reason
    other = _first_estimate(broker, path, person="P02", baseline_person="P01")
    assert (other.person, other.valid, other.calibrated) == ("P02", False, False)
    assert other.reason.startswith("calibrating")


def test_stress_starts_from_the_baseline_only_when_it_covers_stress(tmp_path):
    heart = HeartFeatureSettings(window_s=20.0, hop_s=5.0, baseline_s=20.0)
    ppg, _ = heart_signal(4, 100.0, "ppg", [(40.0, 800.0, 30.0, 10.0)])
    calibrating = StressEstimator(100.0, "ppg", heart)
    calibrating.push(ppg)
    assert calibrating.baseline.calibrated
    store = BaselineStore(tmp_path)
    both = store.save("P01", {"attention": _attention_section(),
                              "stress": calibrating.baseline.to_dict()}, {})
    attention_only = store.save("P01", {"attention": _attention_section()}, {})
    assert both.covers == ("attention", "stress")
    for saved, valid in ((both, True), (attention_only, False)):
        estimator = StressEstimator(100.0, "ppg", heart)
        SessionBaseline(saved.path, EEG, heart, "ppg").start(estimator, "stress")
        first = estimator.push(ppg[: int(20 * 100)])[0]
        assert (first.time_s, first.valid, first.calibrated) == (20.0, valid, valid)
    with pytest.raises(ConfigError, match="signal = 'ppg' there, 'ecg' here"):
        SessionBaseline(both.path, EEG, heart, "ecg")


def test_a_replay_keeps_the_participant(recorded_p01, tmp_path):
    plan = prepare_replay(recorded_p01, tmp_path)
    assert plan.config.session.participant == "P01"
    assert json.loads((recorded_p01 / "session.json").read_text())["participant"] == "P01"


def test_run_sets_the_session_from_the_flags(tmp_path):
    from runtime.config import Config
    from runtime.participants import apply_session_choice

    saved = BaselineStore(tmp_path).save("P01", {"attention": _attention_section()}, {})
    config = Config.model_validate({"features": {"eeg": EEG.model_dump()}})
    chosen = apply_session_choice(config, participant="P01", baseline="current", root=tmp_path)
    assert chosen.session.participant == "P01"
    assert chosen.session.baseline == str(Path(saved.path).resolve())
    with pytest.raises(ConfigError, match="is the baseline of participant 'P01', not of 'P02'"):
        apply_session_choice(config, participant="P02", baseline=str(saved.path), root=tmp_path)
