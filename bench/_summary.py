"""The suite's verdict table: which headline figures it shows, their targets, and what
stands beside each.

``bench/_suite.py`` runs the modules and gathers their figures into one report; this module
only reads such a report: it judges each target (``evaluate_targets``), and prints the
summary (``print_summary``) or renders it as Markdown (``markdown_summary``, for
``python -m bench.render`` and the docs' results table). Kept apart from the runner so the
table can be read, tested and rendered from a stored JSON without the run machinery.
"""

from __future__ import annotations

from typing import Any

from bench._common import format_value, is_finite_number, print_table

#: (key, comparison, target) on this 2-core machine, from the issue.
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("e2e_p50_ms", "<=", 5.0),
    ("e2e_p99_ms", "<=", 25.0),
    ("board_to_control_p50_ms", "<=", 5.0),
    ("board_to_control_p99_ms", "<=", 15.0),
    ("board_to_applied_p99_ms", "<=", 30.0),
    ("replay_factor_16ch_250hz", ">=", 60.0),
    ("cpu_pct_64ch_1000hz", "<=", 25.0),
    ("client_overhead_pct", "<=", 1.0),
    ("client_overhead_sampled_pct", "<=", 1.0),  # the same target, GoldenRepair sampled
    ("resolver_p99_ms", "<=", 10.0),
    ("repair_clean_false_positive_rate", "<=", 0.001),
    ("repair_spikes_left", "<=", 0.0),  # injected spikes still beyond the band after repair
    # Several people on one hub (full runs): every person's control as fast as one person's,
    # the hub's CPU no worse than linear in people, and half a core for 8 people at most.
    ("multi_board_to_control_p99_ms", "<=", 15.0),
    ("multi_hub_cpu_pct", "<=", 50.0),
    ("multi_hub_cpu_scaling", "<=", 1.0),
)


def _beside(key: str, values: dict[str, Any], modules: dict[str, Any]) -> str:
    """The floor or peer shown beside a headline figure."""

    def get(module: str, k: str) -> Any:
        return (modules.get(module) or {}).get("result", {}).get(k)

    def fmt(label: str, value: Any, unit: str = "") -> str:
        return f"{label} {format_value(value)}{unit}" if value is not None else "–"

    if key in ("e2e_p50_ms", "e2e_p99_ms"):
        return fmt("raw pyzmq, same hops", values.get(key.replace("e2e", "floor")))
    if key.startswith("board_to_control"):
        return fmt(
            "LSL outlet → inlet",
            values.get(key.replace("board_to_control", "peer_lsl_sample_to_pull")),
        )
    if key.startswith("device_to_control"):
        peer = key.replace("device_to_control", "device_peer_plain_read")
        return fmt("bytes → plain os.read", values.get(peer))
    if key.startswith("board_to_applied"):
        return fmt("received by a subscriber", get("applied", key.replace("applied", "received")))
    if key.startswith("sample_to_applied"):
        return fmt("received by a subscriber", values.get(key.replace("applied", "received")))
    if key == "replay_factor_16ch_250hz":
        alone = (get("replay", "injected") or {}).get("16ch_250hz", {})
        return fmt("estimator alone, no bus", alone.get("estimator_alone_factor"), "×")
    if key == "cpu_pct_64ch_1000hz":
        floor = values.get("cpu_pct_64ch_1000hz_floor")
        return fmt("bare playback board + broker + decode", floor, " %")
    if key in ("client_overhead_pct", "client_overhead_sampled_pct"):
        spread = values.get(f"{key}_spread")
        step = values.get("training_step_ms")
        if spread is None or step is None:
            return "–"
        return f"plain step {format_value(step)} ms; spread of pairs ±{format_value(spread)} pts"
    if key == "repair_rescue_rate":
        return fmt("without repair", values.get("repair_rescue_rate_without"))
    if key == "repair_clean_quality_delta_pct":
        spread = _largest(values, "repair_clean_quality_spread_pct_")
        return fmt("seed spread (largest)", spread, " %")
    if key == "repair_spikes_left":
        return fmt("injected and checked", values.get("repair_spikes_audited"))
    if key == "resolver_p99_ms":
        return fmt("idle machine", get("resolver", "idle_resolver_p99_ms"))
    if key == "startup_first_control_s":
        floor = values.get("startup_floor_board_first_sample_s")
        return fmt("imports + board → first sample", floor, " s")
    if key.startswith("multi_board_to_control") or key == "multi_hub_cpu_pct":
        single = values.get(key.replace("multi_", "single_", 1))
        return fmt("one person on the hub", single, " %" if key.endswith("pct") else "")
    if key == "multi_hub_cpu_scaling":
        per, single = values.get("multi_hub_cpu_per_person_pct"), values.get("single_hub_cpu_pct")
        if per is None or single is None:
            return "–"
        return f"per person {format_value(per)} % beside one person's {format_value(single)} %"
    if key == "multi_worst_person_board_to_control_p99_ms":
        return fmt("best person", values.get("multi_best_person_board_to_control_p99_ms"))
    if key.startswith("priority_"):
        same = "priority_2t_nice0_" + key.split("_", 3)[3]
        return fmt("2 threads at nice 0", values.get(same))
    if key.startswith("features_") and key.endswith("_ratio"):
        kind = key.split("_")[1]
        return fmt("ours", values.get(f"features_{kind}_ours_ms"), " ms")
    return ""


def _largest(values: dict[str, Any], prefix: str) -> float | None:
    found = [v for k, v in values.items() if k.startswith(prefix) and is_finite_number(v)]
    return max(found) if found else None


SUMMARY_KEYS = (
    "e2e_p50_ms",
    "e2e_p99_ms",
    "priority_2t_nice10_e2e_p50_ms",
    "priority_2t_nice10_e2e_p99_ms",
    "priority_1t_nice0_e2e_p50_ms",
    "priority_1t_nice0_e2e_p99_ms",
    "sample_to_applied_p50_ms",
    "sample_to_applied_p99_ms",
    "board_to_control_p50_ms",
    "board_to_control_p99_ms",
    "board_to_applied_p50_ms",
    "board_to_applied_p99_ms",
    "device_to_control_p50_ms",
    "device_to_control_p99_ms",
    "multi_board_to_control_p50_ms",
    "multi_board_to_control_p99_ms",
    "multi_worst_person_board_to_control_p99_ms",
    "multi_hub_cpu_pct",
    "multi_hub_cpu_scaling",
    "replay_factor_16ch_250hz",
    "cpu_pct_64ch_1000hz",
    "client_overhead_pct",
    "client_overhead_sampled_pct",
    "resolver_p99_ms",
    "repair_clean_false_positive_rate",
    "repair_clean_quality_delta_pct",
    "repair_rescue_rate",
    "repair_spikes_left",
    "startup_first_control_s",
    "features_eeg_brainflow_ratio",
    "features_eeg_mne_ratio",
    "features_eeg_neurokit2_ratio",
    "features_ppg_neurokit2_ratio",
    "features_ppg_heartpy_ratio",
)


#: Targets whose figure says when its own spread is wider than the target: then it is
#: "noise-bound", neither met nor missed (a pass or a fail would be luck).
NOISE_FLAGS: dict[str, str] = {
    "client_overhead_pct": "client_overhead_noise_bound",
    "client_overhead_sampled_pct": "client_overhead_sampled_noise_bound",
}


def evaluate_targets(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target: its value, comparison and whether it is met (None: not measured, or
    noise-bound, which ``noise_bound`` says)."""
    out = {}
    for key, op, target in TARGETS:
        value = values.get(key)
        met = None
        noise_bound = values.get(NOISE_FLAGS.get(key, "")) is True
        if is_finite_number(value) and not noise_bound:
            met = value <= target if op == "<=" else value >= target
        out[key] = {"value": value, "op": op, "target": target, "met": met,
                    "noise_bound": noise_bound}
    return out


SUMMARY_HEADER = ("figure", "value", "beside it (same run)", "target", "verdict")


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The summary's rows: each headline figure, its floor or peer, target and verdict."""
    targets = report["targets"]
    rows = []
    for key in SUMMARY_KEYS:
        if key not in report:
            continue
        t = targets.get(key)
        verdict = "" if t is None else {None: "–", True: "ok", False: "MISSED"}[t["met"]]
        if t is not None and t.get("noise_bound"):
            verdict = "noise-bound"
        rows.append(
            [
                key,
                report.get(key),
                _beside(key, report, report["modules"]),
                "" if t is None else f"{t['op']} {t['target']:g}",
                verdict,
            ]
        )
    return rows


def markdown_summary(report: dict[str, Any]) -> str:
    """The summary as a Markdown table with the run's machine and load, for the docs: the
    docs' results table is this output of one run's JSON, not numbers copied by hand."""
    lines = ["| " + " | ".join(SUMMARY_HEADER) + " |", "| --- | ---: | --- | --- | --- |"]
    for row in summary_rows(report):
        cells = [f"`{row[0]}`", format_value(row[1]), *(str(c) for c in row[2:])]
        lines.append("| " + " | ".join(cells) + " |")
    machine = report["machine"]
    lines.append("")
    lines.append(
        f"{machine['cpu_model']}, {machine['cpus_usable']} cores; load average at start "
        f"{machine['load_avg_1_5_15']}, at end {report['load_avg_end']}; total "
        f"{report['total_s']:.0f} s; modules that failed: "
        f"{', '.join(n for n, m in report['modules'].items() if m['error']) or 'none'}."
    )
    return "\n".join(lines) + "\n"


def print_summary(report: dict[str, Any]) -> None:
    """The headline figures, each beside its floor or peer, with its target and verdict."""
    rows = summary_rows(report)
    print_table("═══ kintsugi bench: summary ═══", list(SUMMARY_HEADER), rows)
    failed = [n for n, m in report["modules"].items() if m["error"]]
    if failed:
        print(f"modules that failed: {', '.join(failed)}")
    machine = report["machine"]
    print(
        f"{machine['cpu_model']}, {machine['cpus_usable']} cores; load average at start "
        f"{machine['load_avg_1_5_15']}, at end {report['load_avg_end']}; "
        f"total {report['total_s']:.0f} s",
        flush=True,
    )
