"""``kintsugi bench`` / ``python -m bench``: every benchmark module, one table, one JSON.

Each module runs in a fresh subprocess (``bench/_runner.py``) one after the other, so their
figures never share a process or a core. The JSON holds the headline keys of the issue at
the top level (``None`` when the module that makes one failed or was not run), each
target with its verdict, the machine it ran on, and every module's full result.

This module is the registry of modules (what each is, how its result feeds the top level)
and the run; the targets, their verdicts and the summary table are ``bench/_summary.py``'s,
re-exported here so ``from bench._suite import TARGETS, markdown_summary, ...`` still works.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import REPO, json_ready, machine_info
from bench._summary import (
    NOISE_FLAGS,
    SUMMARY_HEADER,
    SUMMARY_KEYS,
    TARGETS,
    evaluate_targets,
    markdown_summary,
    print_summary,
    summary_rows,
)
from runtime.cli._bench_options import DESCRIPTION, add_bench_arguments
from runtime.cli._exit import FOUND, OK, STARTUP_FAILURE, USAGE_ERROR

#: What ``bench._suite`` offers its importers (the CLI, bench/render.py, the tests), the
#: summary's names from ``bench/_summary.py`` among them.
__all__ = [
    "HEADLINES",
    "MODULES",
    "MODULE_NAMES",
    "NOISE_FLAGS",
    "REQUIRED_KEYS",
    "SUMMARY_HEADER",
    "SUMMARY_KEYS",
    "TARGETS",
    "ModuleSpec",
    "evaluate_targets",
    "main",
    "markdown_summary",
    "plan_modules",
    "print_summary",
    "run_and_report",
    "run_module",
    "run_suite",
    "select_modules",
    "summary_rows",
]


@dataclass(frozen=True)
class ModuleSpec:
    """One benchmark module: what it is called here and how to run it."""

    name: str
    module: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    has_smoke: bool = False
    #: For modules whose run() prints nothing: their own print function, or "keys".
    print_with: str | None = None
    #: Part of a --quick run (otherwise only of a full run, or when --only names it).
    in_quick: bool = True
    timeout_quick_s: float = 240.0
    timeout_full_s: float = 1800.0


MODULES: tuple[ModuleSpec, ...] = (
    ModuleSpec("startup", "bench.bench_startup", has_smoke=True),
    ModuleSpec("features", "bench.bench_features", has_smoke=True),
    ModuleSpec("replay", "bench.bench_replay", has_smoke=True),
    ModuleSpec("cpu", "bench.bench_cpu", has_smoke=True),
    ModuleSpec("e2e", "bench.bench_e2e", kwargs={"load": True}, print_with="print_table"),
    ModuleSpec("applied", "bench.bench_applied", has_smoke=True),
    # The Cyton emulator on a pty → BrainFlow's Cyton driver → daemon → client (≈ 35 s quick).
    ModuleSpec(
        "device",
        "bench.bench_device",
        kwargs={"load": True},
        has_smoke=True,
        print_with="print_table",
    ),
    ModuleSpec("resolver", "bench.bench_resolver"),
    # Interleaved process-CPU A/B pairs: ≈ 2–4.5 min in its quick form under load.
    ModuleSpec(
        "training", "bench.bench_training", print_with="print_result", timeout_quick_s=420.0
    ),
    ModuleSpec("priority", "bench.bench_priority", has_smoke=True, in_quick=False),
    # ≈ 60–68 s wall in its quick form (2 seeds, 200 steps) at load average 1.5–6 here.
    ModuleSpec("repair", "bench.bench_repair", print_with="print_result", timeout_quick_s=180.0),
    # One hub, 8 sensor hosts beside one: ≈ 3 min (2 × (60 s + warm-up)); full runs only.
    ModuleSpec("multi", "bench.bench_multi", has_smoke=True, in_quick=False),
)
MODULE_NAMES = tuple(spec.name for spec in MODULES)


def _copy(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: {k: r.get(k) for k in keys}


def _training(r: dict[str, Any]) -> dict[str, Any]:
    # The client_overhead_pct: client (its receive thread included) plus GoldenRepair
    # checking every forward, process CPU of the training job, A/B against a plain step,
    # median over interleaved pairs with their spread (bench/_training_cpu.py).
    return {
        "client_overhead_pct": r.get("client_overhead_pct"),
        "client_overhead_pct_spread": r.get("client_overhead_pct_spread"),
        "client_overhead_pct_pairs": r.get("client_overhead_pct_pairs"),
        "client_overhead_noise_bound": r.get("client_overhead_noise_bound"),
        "client_overhead_verdict": r.get("client_overhead_verdict"),
        "client_overhead_aa_pct": r.get("client_overhead_aa_pct"),
        "client_overhead_aa_spread": r.get("client_overhead_aa_spread"),
        "client_only_overhead_pct": r.get("cpu_client_overhead_pct"),
        "actuator_overhead_pct": r.get("cpu_actuator_overhead_pct"),
        # GoldenRepair(check_every=8) instead of every forward, and the floor of any exact
        # check (a bare aminmax hook on the same layers), both beside the default.
        "client_overhead_sampled_pct": r.get("cpu_sampled_client_plus_actuator_overhead_pct"),
        "client_overhead_sampled_pct_spread": r.get("client_overhead_sampled_pct_spread"),
        "client_overhead_sampled_noise_bound": r.get("client_overhead_sampled_noise_bound"),
        "client_overhead_check_floor_pct": r.get("cpu_range_check_floor_pct"),
        "client_overhead_wall_pct": r.get("client_plus_actuator_overhead_pct"),
        "client_overhead_sampled_wall_pct": r.get("sampled_client_plus_actuator_overhead_pct"),
        "client_overhead_inside_pct": r.get("inside_exact_pct"),
        "client_overhead_sampled_inside_pct": r.get("inside_sampled_pct"),
        "training_step_ms": r.get("client_overhead_floor_step_ms"),
        "training_step_wall_ms": r.get("step_ms"),
        "distributed_overhead_pct": r.get("distributed_overhead_pct"),
    }


def _prefixed(prefix: str, *, skip: str = "_detail") -> Callable[[dict[str, Any]], dict]:
    return lambda r: {k: v for k, v in r.items() if k.startswith(prefix) and skip not in k}


def _features(r: dict[str, Any]) -> dict[str, Any]:
    return {
        f"features_{k}": v
        for k, v in r.items()
        if k.startswith(("eeg_", "ppg_", "ecg_")) and k.endswith(("_ms", "_ratio"))
    }


#: How each module's result feeds the top level of the JSON.
HEADLINES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "startup": _copy(
        "startup_first_control_s",
        "startup_first_feature_control_s",
        "startup_floor_board_first_sample_s",
        "cli_help_s",
    ),
    "features": _features,
    "replay": _prefixed("replay_factor_"),
    "cpu": _prefixed("cpu_pct_"),
    "e2e": lambda r: {
        **_copy("e2e_p50_ms", "e2e_p99_ms", "floor_p50_ms", "floor_p99_ms")(r),
        **_copy("board_to_control_p50_ms", "board_to_control_p99_ms")(r),
        **_prefixed("peer_")(r),
        **{k: v for k, v in r.items() if k.startswith("stage_") and k.endswith("_ms")},
    },
    "applied": lambda r: {
        **_copy(
            "sample_to_applied_p50_ms",
            "sample_to_applied_p99_ms",
            "sample_to_received_p50_ms",
            "sample_to_received_p99_ms",
            "board_to_applied_p50_ms",
            "board_to_applied_p99_ms",
        )(r),
        # The applied run's breakdown, beside bench_e2e's (which has no client_to_applied).
        **{f"applied_{k}": v for k, v in r.items() if k.startswith("stage_") and k.endswith("_ms")},
    },
    "device": lambda r: {
        **{
            k: v
            for k, v in r.items()
            if k.startswith("device_") and k.endswith(("_p50_ms", "_p99_ms"))
        },
        **_copy("device_to_control_n", "device_mapping_ok")(r),
    },
    "resolver": _copy("resolver_p50_ms", "resolver_p99_ms", "idle_resolver_p99_ms"),
    "training": _training,
    "priority": lambda r: {k: v for k, v in r.items() if k.endswith(("_p50_ms", "_p99_ms"))},
    "repair": _prefixed("repair_"),
    "multi": lambda r: {
        k: v
        for k, v in r.items()
        if k.startswith(("multi_", "single_")) and not k.endswith("_detail")
    },
}

#: Keys the JSON always holds (None when not measured), by the module that makes them.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "startup": ("startup_first_control_s", "startup_floor_board_first_sample_s"),
    "features": (
        "features_eeg_ours_ms",
        "features_eeg_brainflow_ratio",
        "features_eeg_mne_ratio",
        "features_eeg_neurokit2_ratio",
        "features_ppg_ours_ms",
        "features_ppg_neurokit2_ratio",
        "features_ppg_heartpy_ratio",
    ),
    "replay": ("replay_factor_16ch_250hz",),
    "cpu": ("cpu_pct_64ch_1000hz",),
    "e2e": (
        "e2e_p50_ms",
        "e2e_p99_ms",
        "floor_p50_ms",
        "floor_p99_ms",
        "board_to_control_p50_ms",
        "board_to_control_p99_ms",
        "peer_lsl_sample_to_pull_p50_ms",
        "peer_lsl_sample_to_pull_p99_ms",
    ),
    "applied": (
        "sample_to_applied_p50_ms",
        "sample_to_applied_p99_ms",
        "board_to_applied_p50_ms",
        "board_to_applied_p99_ms",
    ),
    "device": (
        "device_to_control_p50_ms",
        "device_to_control_p99_ms",
        "device_peer_plain_read_p50_ms",
    ),
    "resolver": ("resolver_p50_ms", "resolver_p99_ms"),
    "training": ("client_overhead_pct",),
    "repair": (
        "repair_clean_false_positive_rate",
        "repair_clean_quality_delta_pct",
        "repair_rescue_rate",
        "repair_rescue_rate_without",
        "repair_spikes_left",
    ),
}


def select_modules(only: str | None) -> list[ModuleSpec]:
    """The modules ``--only`` names (all when None); ValueError names an unknown one."""
    if not only:
        return list(MODULES)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODULE_NAMES]
    if unknown or not names:
        raise ValueError(
            f"--only {only!r}: unknown module(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(MODULE_NAMES)}"
        )
    return [spec for spec in MODULES if spec.name in names]


def plan_modules(*, quick: bool, smoke: bool, only: str | None) -> list[ModuleSpec]:
    """What a run does: ``--only``'s modules (or all); in smoke mode only those that have
    one; in a quick run without ``--only`` only those that are part of quick runs."""
    specs = select_modules(only)
    if smoke:
        specs = [s for s in specs if s.has_smoke]
    if quick and not only:
        specs = [s for s in specs if s.in_quick]
    return specs


def run_module(spec: ModuleSpec, quick: bool, smoke: bool) -> dict[str, Any]:
    """Run one module in a subprocess; ``{"result", "error", "wall_s"}``."""
    timeout = 120.0 if smoke else (spec.timeout_quick_s if quick else spec.timeout_full_s)
    print(f"── {spec.name} ({spec.module}) " + "─" * 40, flush=True)
    with tempfile.TemporaryDirectory(prefix="kintsugi-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench._runner",
            spec.module,
            "--out",
            str(out),
            "--kwargs",
            json.dumps(spec.kwargs),
        ]
        command += ["--quick"] if quick or smoke else []
        command += ["--smoke"] if smoke else []
        command += ["--print-with", spec.print_with] if spec.print_with else []
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        start = time.perf_counter()
        error = None
        try:
            process = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
            code = process.wait(timeout=timeout)
            if code != 0:
                error = f"exited with code {code}"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            error = f"timed out after {timeout:.0f} s"
        wall = time.perf_counter() - start
        result = json.loads(out.read_text()) if error is None and out.exists() else {}
    if error:
        print(f"{spec.name}: FAILED ({error})", flush=True)
    return {"result": result, "error": error, "wall_s": wall}


def run_suite(*, quick: bool, smoke: bool = False, only: str | None = None) -> dict[str, Any]:
    """Run the selected modules and build the report (the JSON's content)."""
    specs = plan_modules(quick=quick, smoke=smoke, only=only)
    report: dict[str, Any] = {
        "quick": quick,
        "smoke": smoke,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }
    for keys in REQUIRED_KEYS.values():
        report.update(dict.fromkeys(keys))
    modules: dict[str, Any] = {}
    start = time.perf_counter()
    for spec in specs:
        outcome = run_module(spec, quick, smoke)
        modules[spec.name] = outcome
        if outcome["result"]:
            report.update(HEADLINES[spec.name](outcome["result"]))
    report["total_s"] = time.perf_counter() - start
    report["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
    report["targets"] = evaluate_targets(report)
    report["modules"] = modules
    return json_ready(report)


def run_and_report(
    *, quick: bool, json_path: str | None, smoke: bool = False, only: str | None = None
) -> int:
    """Run, print the summary, write the JSON; returns the exit code.

    3 if a module failed, 1 if a target was missed (not judged in smoke mode), else 0.
    """
    report = run_suite(quick=quick, smoke=smoke, only=only)
    print_summary(report)
    if json_path:
        path = Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {path}")
    if any(m["error"] for m in report["modules"].values()):
        return STARTUP_FAILURE
    missed = [k for k, t in report["targets"].items() if t["met"] is False]
    return FOUND if missed and not smoke else OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench``: parse the options ``kintsugi bench`` takes and run the suite."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_bench_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_and_report(
            quick=args.quick, json_path=args.json, smoke=args.smoke, only=args.only
        )
    except ValueError as exc:
        parser.error(str(exc))
        return USAGE_ERROR  # not reached: parser.error exits
