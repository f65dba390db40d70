"""Replay: re-timed copies of the raw files, and the whole pipeline on a recording through
the playback board, re-recorded sample for sample."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.cli import main
from runtime.errors import ConfigError
from runtime.lab import prepare_replay, replay_session
from runtime.lab._replay import check_speed, retime_file
from runtime.recorder import load_session, read_board_file
from tests.conftest import free_tcp_port


def _bus() -> dict[str, str]:
    return {"publish_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}",
            "subscribe_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}"}


@pytest.mark.parametrize("speed", [1.0, 4.0, 0.0])
def test_retime_stamps_samples_by_index_and_rate_and_drops_a_torn_line(
    recorded_session, tmp_path, speed
):
    """t' = t0 + i/(fs·K): K × the data's own rate whatever the recorded stamps (a sped-up
    scenario's are compressed), zeros for K = 0; every other value copied exactly."""
    source = recorded_session.directory / "raw.csv"
    torn = tmp_path / "torn.csv"
    torn.write_bytes(source.read_bytes() + b"1.0\t2.0")
    original = read_board_file(source).data
    n = retime_file(torn, tmp_path / "out.csv", timestamp_row=30, num_rows=32, speed=speed,
                    fs=250.0)
    copied = read_board_file(tmp_path / "out.csv").data
    assert n == original.shape[1] == copied.shape[1]
    others = [r for r in range(32) if r != 30]
    np.testing.assert_array_equal(copied[others], original[others])  # exact (%.17g)
    if speed == 0:
        assert np.all(copied[30] == 0)
    else:
        expected = original[30][0] + np.arange(n) / (250.0 * speed)
        np.testing.assert_allclose(copied[30], expected, rtol=0, atol=2e-6)


def test_prepare_replay_points_the_playback_board_at_the_copies(recorded_session, tmp_path):
    plan = prepare_replay(recorded_session.directory, tmp_path, speed=0)
    source = plan.config.source
    assert (source.board, source.master_board) == ("playback", "synthetic")
    assert source.file == str(tmp_path / "raw.csv")
    assert source.file_aux == str(tmp_path / "raw.aux.csv")
    session = load_session(recorded_session.directory)
    assert plan.samples == {p: d.shape[1] for p, d in session.raw.items()}


def test_replay_runs_the_pipeline_and_reproduces_the_samples(recorded_session, tmp_path):
    out = tmp_path / "replayed"
    progress: list[tuple[int, int]] = []
    result = replay_session(recorded_session.directory, speed=0, record=out,
                            bus_overrides=_bus(), on_progress=lambda d, t: progress.append((d, t)))
    original = load_session(recorded_session.directory)
    replayed = load_session(out)
    total = original.raw["default"].shape[1]
    assert result.complete and result.samples == result.total == total
    assert progress[-1] == (total, total)
    assert result.features > 0 and result.controls > 0
    # The playback board re-stamps time (row 30) and keeps its marker row (31) for
    # insert_marker; every other row comes back exactly as recorded.
    rows = list(range(30))
    np.testing.assert_array_equal(replayed.raw["default"][rows], original.raw["default"][rows])
    assert np.count_nonzero(original.raw["default"][31]) == 2
    assert np.count_nonzero(replayed.raw["default"][31]) == 0
    kinds = {r.data.kind for r in replayed.features}
    assert "attention" in kinds
    assert replayed.skipped == []  # the replay's messages validate as they are recorded
    assert sum(result.modes.values()) == result.controls  # each control counted by its mode
    assert set(result.modes) <= {r.data.mode for r in replayed.control}
    assert replayed.metadata["board"] == "playback"
    assert replayed.metadata["master_board"] == "synthetic"


def test_replay_command(recorded_session, capsys):
    bus = _bus()
    code = main(["replay", str(recorded_session.directory), "--speed", "0", "--no-progress",
                 "--publish-endpoint", bus["publish_endpoint"],
                 "--subscribe-endpoint", bus["subscribe_endpoint"]])
    out = capsys.readouterr().out
    assert code == 0, out
    total = load_session(recorded_session.directory).raw["default"].shape[1]
    assert f"{total} of {total} samples" in out


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_speed_is_refused(bad):
    with pytest.raises(ConfigError, match="--speed"):
        check_speed(bad)


def test_replay_of_a_directory_that_is_not_a_session(tmp_path, capsys):
    assert main(["replay", str(tmp_path), "--no-progress"]) == 2
    assert "not a session directory" in capsys.readouterr().err


def test_estimators_give_bit_identical_estimates_whatever_the_chunking():
    """A flat-out replay delivers seconds per chunk, a live board 20 ms: the windows, and so
    every estimate, must be the same to the last bit."""
    from runtime.config import FeaturesConfig
    from runtime.features import AttentionEstimator, StressEstimator
    from tests._recording import _eeg, _ppg

    features = FeaturesConfig.model_validate(
        {"eeg": {"window_s": 2.0, "baseline_s": 4.0},
         "heart": {"window_s": 10.0, "hop_s": 1.0, "baseline_s": 10.0}})
    n = 250 * 24
    eeg = _eeg(8)[:, :n].astype(np.float32).astype(np.float64)
    ppg = _ppg(n).astype(np.float32).astype(np.float64)
    rng = np.random.default_rng(7)

    def run(sizes):
        attention = AttentionEstimator(250.0, [f"C{i}" for i in range(8)], features.eeg)
        stress = StressEstimator(250.0, "ppg", features.heart)
        out, start = [], 0
        for size in sizes:
            out += [e.to_message().to_dict() for e in attention.push(eeg[:, start:start + size])]
            out += [e.to_message().to_dict() for e in stress.push(ppg[start:start + size])]
            start += size
        return sorted(out, key=lambda d: (d["sample_index"], d["kind"]))

    cuts = np.sort(rng.choice(np.arange(1, n), size=5, replace=False))
    large = np.diff(np.concatenate(([0], cuts, [n]))).tolist()
    small = run([5] * (n // 5))
    assert len(small) > 80 and any(d["valid"] for d in small if d["kind"] == "attention")
    assert run(large) == small
    assert run([n]) == small


def test_a_replay_with_another_config_keeps_whose_session_it_is(recorded_session, tmp_path):
    """-c CONFIG replaces thresholds and settings, not the participant or the baseline the
    session was recorded with; without -c the recorded config is used whole."""
    import json
    import shutil

    from runtime.config import config_from_mapping

    copy = tmp_path / "session"
    shutil.copytree(recorded_session.directory, copy)
    metadata = json.loads((copy / "session.json").read_text())
    metadata["config"]["session"] = {"participant": "P09", "baseline": None}
    (copy / "session.json").write_text(json.dumps(metadata))
    other = config_from_mapping({"controller": {"min_dwell_s": 3.0}})
    assert other.session.participant is None
    (tmp_path / "work").mkdir()
    plan = prepare_replay(copy, tmp_path / "work", speed=0, config=other)
    assert plan.config.session.participant == "P09"
    assert plan.config.controller.min_dwell_s == 3.0  # the override itself still applies
