"""The benchmark suite: its plumbing, the injected EEG, and a smoke run of every module.

Speed targets are not asserted here (they live in the bench output); these tests check that
each benchmark runs, produces every key it promises with finite values, and that the
helpers it rests on are right.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from bench._common import REPO, is_finite_number, json_ready, percentile
from bench._pipeline import EstimateLog, eeg_channel_names, synthetic_eeg
from bench._suite import (
    MODULE_NAMES,
    REQUIRED_KEYS,
    TARGETS,
    evaluate_targets,
    plan_modules,
    select_modules,
)
from bench._suite import main as bench_main
from runtime.cli import build_parser, main
from runtime.cli._bench_options import add_bench_arguments
from runtime.features import AttentionEstimator, EegFeatureSettings
from runtime.messages import AttentionFeature


def _options(parser: argparse.ArgumentParser) -> dict[str, tuple]:
    return {
        a.dest: (tuple(a.option_strings), a.default, a.metavar, a.help)
        for a in parser._actions
        if a.dest not in ("help", "handler")
    }


def _bench_subparser() -> argparse.ArgumentParser:
    subparsers = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    return subparsers.choices["bench"]


def test_kintsugi_bench_takes_the_same_options_as_python_m_bench(monkeypatch):
    ours = argparse.ArgumentParser()
    add_bench_arguments(ours)
    assert _options(_bench_subparser()) == _options(ours)
    # python -m bench builds its parser with the same function: capture what it parses.
    seen = {}

    def fake_run_and_report(**kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("bench._suite.run_and_report", fake_run_and_report)
    assert bench_main(["--quick", "--json", "x.json", "--smoke", "--only", "cpu"]) == 0
    assert seen == {"quick": True, "json_path": "x.json", "smoke": True, "only": "cpu"}
    # Every flag keeps its name and default (scripts and the docs use them).
    assert {opts: default for opts, default, _, _ in _options(ours).values()} == {
        ("--quick",): False,
        ("--json",): None,
        ("--smoke",): False,
        ("--only",): None,
    }


def test_the_only_help_names_every_module_of_the_suite():
    only = next(a for a in _bench_subparser()._actions if a.dest == "only")
    listed = only.help.split("(")[1].split(")")[0].split(", ")
    assert tuple(listed) == MODULE_NAMES


def test_an_unknown_module_is_a_usage_error_naming_it_and_the_choices(capsys):
    assert main(["bench", "--only", "replay,warp"]) == 2
    err = capsys.readouterr().err
    assert "warp" in err and all(name in err for name in MODULE_NAMES)


def test_select_modules_keeps_the_suite_order():
    names = [s.name for s in select_modules("training,replay")]
    assert names == [n for n in MODULE_NAMES if n in ("training", "replay")]
    assert [s.name for s in select_modules(None)] == list(MODULE_NAMES)


def test_quick_runs_leave_out_long_only_modules_unless_named_and_smoke_needs_a_smoke_mode():
    quick = [s.name for s in plan_modules(quick=True, smoke=False, only=None)]
    full = [s.name for s in plan_modules(quick=False, smoke=False, only=None)]
    assert "priority" in full and "priority" not in quick and set(quick) < set(full)
    assert [s.name for s in plan_modules(quick=True, smoke=False, only="priority")] == [
        "priority"
    ]
    smoke = plan_modules(quick=False, smoke=True, only=None)
    assert smoke and all(s.has_smoke for s in smoke)
    # Every module the keys come from is in a quick run.
    assert set(REQUIRED_KEYS) <= set(quick)


def test_targets_are_judged_in_their_direction_and_unmeasured_ones_are_open():
    values = {key: target for key, _, target in TARGETS}  # exactly on target: met
    assert all(t["met"] for t in evaluate_targets(values).values())
    worse = {  # a zero target (spikes left) is missed by any positive count
        key: (target * 1.5 or 1.0) if op == "<=" else target * 0.5 for key, op, target in TARGETS
    }
    assert not any(t["met"] for t in evaluate_targets(worse).values())
    assert all(t["met"] is None for t in evaluate_targets({}).values())
    nan = evaluate_targets({"e2e_p50_ms": float("nan")})
    assert nan["e2e_p50_ms"]["met"] is None


def test_json_ready_makes_valid_json():
    data = {"a": float("nan"), "b": [np.float32(1.5), np.int64(3)], "c": {"d": math.inf}}
    text = json.dumps(json_ready(data), allow_nan=False)
    assert json.loads(text) == {"a": None, "b": [1.5, 3], "c": {"d": None}}


def test_percentile_matches_numpy_and_is_nan_when_empty():
    values = [5.0, 1.0, 9.0, 3.0]
    assert percentile(values, 50) == np.median(values)
    assert math.isnan(percentile([], 99))


def _estimate(sample_index: int) -> AttentionFeature:
    return AttentionFeature(
        sample_index=sample_index, time_s=sample_index / 256.0, window_s=4.0, hop_s=0.25,
        valid=False, calibrated=False, reason="calibrating", quality=1.0,
    )


def test_expected_last_end_counts_whole_hops_after_the_first_window():
    log = EstimateLog(fs=256.0)
    log.add(_estimate(1024), 0.0, 0.0)
    assert (log.window_n, log.hop_n) == (1024, 64)
    assert log.expected_last_end(1024 + 5 * 64 + 10) == 1024 + 5 * 64
    assert log.expected_last_end(1023) is None
    for end in (1088, 1152, 1280):  # one estimate (1216) lost on the way
        log.add(_estimate(end), 0.0, 0.0)
    assert log.missing() == 1


def test_injected_eeg_loops_without_a_seam_and_has_its_alpha_peak():
    fs = 250.0
    x = synthetic_eeg(4, fs, seconds=8.0, seed=3).astype(float)
    assert x.shape == (4, 2000) and x.dtype == np.float64
    np.testing.assert_allclose(x.std(axis=1), 15.0, rtol=1e-3)
    # Periodic: the step across the loop point is no larger than steps inside the signal.
    seam = np.abs(x[:, 0] - x[:, -1])
    assert np.all(seam <= np.abs(np.diff(x, axis=1)).max(axis=1))
    freqs, psd = welch(x, fs=fs, nperseg=int(2 * fs))
    band = (freqs >= 7) & (freqs <= 14)
    assert np.all(np.abs(freqs[band][np.argmax(psd[:, band], axis=1)] - 10.0) <= 1.0)


def test_injected_eeg_passes_the_feature_stage_quality_checks():
    """White noise would be rejected as EMG; the injected EEG must be used like real EEG."""
    fs, n_channels = 500.0, 6
    names = eeg_channel_names(n_channels)
    assert names[:2] == ["Fp1", "Fp2"] and len(set(names)) == n_channels
    settings = EegFeatureSettings(baseline_s=6.0)
    estimator = AttentionEstimator(fs, names, settings)
    data = synthetic_eeg(n_channels, fs, seconds=12.0)
    estimates = estimator.push(data.astype(float))
    assert len(estimates) > 20
    assert all(e.quality == 1.0 for e in estimates), {e.reason for e in estimates}
    assert estimates[-1].valid and estimates[-1].calibrated


def _run_bench(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _check_report(path: Path, modules: tuple[str, ...]) -> dict:
    report = json.loads(path.read_text())
    for name, keys in REQUIRED_KEYS.items():
        for key in keys:
            assert key in report, key  # always present, None when not measured
            if name in modules:
                assert is_finite_number(report[key]), (key, report[key])
    for name in modules:
        assert report["modules"][name]["error"] is None
    machine = report["machine"]
    assert machine["cpus_usable"] >= 1 and machine["versions"]["numpy"] == np.__version__
    assert set(report["targets"]) == {key for key, _, _ in TARGETS}
    return report


def test_smoke_run_of_features_replay_and_cpu_writes_every_key(tmp_path):
    out = tmp_path / "smoke.json"
    done = _run_bench("--smoke", "--only", "features,replay,cpu", "--json", str(out),
                      timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "kintsugi bench: summary" in done.stdout
    report = _check_report(out, ("features", "replay", "cpu"))
    assert report["smoke"] is True
    # Every channels × rate cell the smoke run measured kept its estimates in order.
    replay = report["modules"]["replay"]["result"]
    assert replay["playback_16ch_250hz"]["complete"]
    assert all(cell["attention_missing"] == 0 for cell in replay["injected"].values())
    # Same windows for every peer: MNE with the same Welch settings agrees with ours.
    assert report["modules"]["features"]["result"]["eeg_mne_engagement_rel_diff"] < 1e-6


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_smoke_run_of_startup_applied_and_priority_writes_every_key(tmp_path):
    out = tmp_path / "smoke.json"
    done = _run_bench("--smoke", "--only", "startup,applied,priority", "--json", str(out),
                      timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = _check_report(out, ("startup", "applied"))
    applied = report["modules"]["applied"]["result"]
    for part in ("raw_to_features", "features_to_control", "control_to_client"):
        assert is_finite_number(applied[f"split_{part}_p50_ms"])
    for setup in ("2t_nice0", "2t_nice10", "1t_nice0"):
        assert is_finite_number(report[f"priority_{setup}_e2e_p50_ms"])
    startup = report["modules"]["startup"]["result"]
    assert startup["daemon_imports_heavy"] == ""  # the daemon imports neither torch nor qiskit
    assert startup["startup_first_feature_control_s"] > startup["startup_eeg_window_s"]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", ["e2e", "resolver", "training"])
def test_quick_run_of_the_other_modules_gives_finite_keys(tmp_path, name):
    out = tmp_path / f"{name}.json"
    done = _run_bench("--quick", "--only", name, "--json", str(out), timeout=850)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    _check_report(out, (name,))


def test_free_tcp_port_never_hands_out_a_port_twice():
    """A publish and a subscribe endpoint asked for in a row once got the same port (the
    kernel reuses a just-closed probe's port), and the daemon could not bind."""
    from bench._common import free_tcp_port

    ports = [free_tcp_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p <= 65535 for p in ports)


def test_the_markdown_summary_is_the_runs_own_figures_with_verdicts(tmp_path, capsys):
    from bench._suite import evaluate_targets, markdown_summary
    from bench.render import main as render_main

    values = {"e2e_p50_ms": 7.25, "floor_p50_ms": 0.5, "repair_spikes_left": 0}
    report = {
        **values,
        "targets": evaluate_targets(values),
        "modules": {"e2e": {"error": None}, "repair": {"error": "timed out after 180 s"}},
        "machine": {"cpu_model": "CPU X", "cpus_usable": 2, "load_avg_1_5_15": [0.1, 0.2, 0.3]},
        "load_avg_end": [1.0, 0.5, 0.2],
        "total_s": 61.0,
    }
    text = markdown_summary(report)
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines()
            if line.startswith("| `")}
    assert set(rows) == {"e2e_p50_ms", "repair_spikes_left"}  # only what the run measured
    assert rows["e2e_p50_ms"] == (
        "| `e2e_p50_ms` | 7.25 | raw pyzmq, same hops 0.50 | <= 5 | MISSED |")
    assert rows["repair_spikes_left"].endswith("| <= 0 | ok |")
    assert "modules that failed: repair." in text
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    assert render_main([str(path)]) == 0 and capsys.readouterr().out == text
    path.write_text("{}")
    assert render_main([str(path)]) == 2


def test_a_noise_bound_overhead_is_neither_met_nor_missed():
    from bench._suite import summary_rows

    values = {"client_overhead_pct": 0.4, "client_overhead_noise_bound": True,
              "client_overhead_pct_spread": 6.0, "training_step_ms": 3.5}
    judged = evaluate_targets(values)["client_overhead_pct"]
    assert judged["met"] is None and judged["noise_bound"] is True
    report = {**values, "targets": evaluate_targets(values), "modules": {}}
    (row,) = summary_rows(report)
    assert row[-1] == "noise-bound" and "±6.00 pts" in row[2]
    tight = {**values, "client_overhead_noise_bound": False}
    assert evaluate_targets(tight)["client_overhead_pct"]["met"] is True
    assert evaluate_targets({**tight, "client_overhead_pct": 1.4})["client_overhead_pct"][
        "met"] is False
