"""The daemon's CPU keeping up in real time, as % of one core.

Run: ``python -m bench.bench_cpu [--quick]``. Target: ``cpu_pct_64ch_1000hz`` ≤ 25.

Each case runs in a fresh subprocess for a fixed wall window (30 s quick, 60 s full) after a
warm-up (the first window filled, calibration done and the first estimates out). The
clock is the **process CPU time of that subprocess** (``resource.getrusage``: user + system
time of all its threads: the stages, the broker, ZeroMQ's I/O threads and BrainFlow's own
reader thread) minus the CPU time of the thread that observes the estimates
(``time.thread_time``). Each case also checks that the pipeline keeps up: every estimate
due arrives, the samples arrive at the board's rate, and the feature latency (raw chunk
published → estimate received) stays far below the 250 ms hop.

* ``playback`` (the headline, ``cpu_pct_64ch_1000hz``): the whole daemon (``Daemon``:
  broker, driver stage, feature stage, controller, status) with BrainFlow's
  PLAYBACK_FILE_BOARD replaying a 64-channel 1000 Hz file through the real driver
  (drivers/ and ``runtime/stages/_driver.py``). No BrainFlow board describes 64 EEG
  channels at 1000 Hz, so the file has the rows of the nearest real one, ANT Neuro's eego
  EE-211 (64 EEG; its descriptor's default rate is 2000 Hz, and BrainFlow's driver sets
  the amplifier to 1000 Hz with ``sampling_rate:1000``): ``bench/_playback.py``;
* ``playback_floor`` (``cpu_pct_64ch_1000hz_floor``): the same file on a bare BrainFlow
  playback board read every 20 ms, its EEG rows published as ``raw.eeg`` through the
  broker to one subscriber that decodes every chunk and does nothing else. The daemon's
  own cost is the difference (``cpu_pct_64ch_1000hz_ours``), and the ratio is printed;
* ``injected`` (``cpu_pct_<n>ch_<fs>hz_injected``): broker + feature + controller stages
  fed 20 ms chunks in real time by an injector in the driver's place
  (``bench/_pipeline.py``), for layouts no board has (256 channels) and beside the
  playback case at 64 ch 1000 Hz, so the two methods can be compared;
* ``bus_only`` (``cpu_pct_<n>ch_<fs>hz_bus_only``, full runs): the injector's floor, the
  same injector and broker and one subscriber that only decodes;
* ``board`` (``cpu_pct_16ch_250hz_synthetic_board``, full runs): the real daemon on
  BrainFlow's synthetic board (16 ch EEG at 250 Hz plus PPG).

Every case runs the same feature settings: a 4 s window, a 0.25 s hop and a 4 s
calibration (so the measured window is after calibration, as in a session).

This module plans the cases, spawns them and reports; what each case runs inside its
subprocess, and the clock, is ``bench/_cpu_cases.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._common import REPO, json_ready, print_table
from bench._cpu_cases import (
    child_board,
    child_bus_only,
    child_injected,
    child_playback,
    child_playback_floor,
)

TARGET_PCT = 25.0
#: Seconds of measurement (after the warm-up) in quick and full runs, and in a smoke run.
SECONDS_QUICK, SECONDS_FULL, SECONDS_SMOKE = 30.0, 60.0, 2.0
#: Warm-up: the 4 s window, the 4 s calibration, the first estimates out.
WARMUP_S, WARMUP_FLOOR_S, WARMUP_SMOKE_S = 9.0, 3.0, 4.5
#: What the playback case's file is, for the result and the docs.
PLAYBACK_LAYOUT = (
    "BrainFlow PLAYBACK_FILE_BOARD, master ANT_NEURO_EE_211_BOARD rows (70 rows, 64 EEG) "
    "recorded at 1000 Hz (the descriptor's default: 2000 Hz)"
)


def _spawn(case: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "bench.bench_cpu", "--child", json.dumps(case)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench_cpu child {case} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


#: Result key of each case, by mode: ``name`` is ``<channels>ch_<fs>hz``.
KEYS = {
    "playback": "cpu_pct_{name}",
    "playback_floor": "cpu_pct_{name}_floor",
    "injected": "cpu_pct_{name}_injected",
    "bus_only": "cpu_pct_{name}_bus_only",
    "board": "cpu_pct_{name}_synthetic_board",
}
LABELS = {
    "playback": "daemon, real driver, playback board (EE-211 rows)",
    "playback_floor": "floor: bare playback board + broker + decode",
    "injected": "daemon stages, chunks injected",
    "bus_only": "floor: injector + broker + decode",
    "board": "daemon, real driver, synthetic board",
}


def plan_cases(quick: bool, smoke: bool) -> tuple[list[tuple[str, int, int]], float]:
    """The cases (mode, channels, fs) of a run and the seconds each is measured for."""
    if smoke:
        return [("playback", 64, 1000)], SECONDS_SMOKE
    cases = [("playback", 64, 1000), ("playback_floor", 64, 1000), ("injected", 64, 1000)]
    if quick:
        return cases, SECONDS_QUICK
    cases += [
        ("bus_only", 64, 1000),
        ("board", 16, 250),
        ("injected", 16, 250),
        ("injected", 256, 250),
        ("injected", 256, 1000),
        ("bus_only", 256, 1000),
    ]
    return cases, SECONDS_FULL


def run(quick: bool, smoke: bool = False) -> dict[str, Any]:
    """Measure and print; ``cpu_pct_64ch_1000hz`` is the playback case (the real driver)."""
    from bench._playback import write_ee211_file

    cases, seconds = plan_cases(quick, smoke)
    results: dict[str, Any] = {"cpu_playback_layout": PLAYBACK_LAYOUT}
    rows = []
    with tempfile.TemporaryDirectory(prefix="kintsugi-bench-cpu-") as tmp:
        file = str(write_ee211_file(Path(tmp) / "ee211-64ch-1000hz.csv", fs=1000.0))
        for mode, channels, fs in cases:
            warmup = WARMUP_SMOKE_S if smoke else (WARMUP_FLOOR_S if "floor" in mode else WARMUP_S)
            case = {
                "mode": mode,
                "channels": channels,
                "fs": fs,
                "warmup_s": warmup,
                "seconds": seconds,
                "file": file,
            }
            result = _spawn(case, timeout_s=warmup + seconds + 90)
            key = KEYS[mode].format(name=f"{channels}ch_{fs}hz")
            results[key] = result["cpu_pct"]
            results[f"{key}_detail"] = result
            rows.append(
                [
                    f"{channels} ch {fs} Hz, {LABELS[mode]}",
                    result["cpu_pct"],
                    result.get("samples_per_s"),
                    result.get("feature_latency_p50_ms"),
                    result.get("feature_latency_p99_ms"),
                    result["keeps_up"],
                ]
            )
    results.update(compare_to_floor(results))
    results["target_pct"] = TARGET_PCT
    print_table(
        f"daemon CPU in real time ({seconds:.0f} s per case after the warm-up; % of one core, "
        "process CPU time)",
        ["case", "CPU %", "samples/s", "feature p50 ms", "feature p99 ms", "keeps up"],
        rows,
    )
    value = results["cpu_pct_64ch_1000hz"]
    verdict = "meets" if value <= TARGET_PCT else "MISSES"
    print(f"target cpu_pct_64ch_1000hz ≤ {TARGET_PCT:.0f}: {verdict} ({value:.1f} %)", flush=True)
    floor = results.get("cpu_pct_64ch_1000hz_floor")
    if floor is not None:
        print(
            f"  floor (bare board + broker + decode) {floor:.1f} %: ours "
            f"{results['cpu_pct_64ch_1000hz_ours']:.1f} % above it, "
            f"{results['cpu_pct_64ch_1000hz_floor_ratio']:.2f}× the floor; injected in the "
            f"driver's place {results['cpu_pct_64ch_1000hz_injected']:.1f} %",
            flush=True,
        )
    print(flush=True)
    return results


def compare_to_floor(results: dict[str, Any], name: str = "64ch_1000hz") -> dict[str, float]:
    """``cpu_pct_<name>_ours`` (daemon − floor, points of one core) and ``_floor_ratio``
    (daemon / floor) when both were measured."""
    daemon, floor = results.get(f"cpu_pct_{name}"), results.get(f"cpu_pct_{name}_floor")
    if daemon is None or floor is None:
        return {}
    return {
        f"cpu_pct_{name}_ours": daemon - floor,
        f"cpu_pct_{name}_floor_ratio": daemon / floor if floor > 0 else float("nan"),
    }


def _child(spec: str) -> int:
    case = json.loads(spec)
    mode = case["mode"]
    if mode == "playback":
        result = child_playback(case["fs"], case["file"], case["warmup_s"], case["seconds"])
    elif mode == "playback_floor":
        result = child_playback_floor(case["fs"], case["file"], case["warmup_s"], case["seconds"])
    elif mode == "injected":
        result = child_injected(case["channels"], case["fs"], case["warmup_s"], case["seconds"])
    elif mode == "bus_only":
        result = child_bus_only(case["channels"], case["fs"], case["warmup_s"], case["seconds"])
    elif mode == "board":
        result = child_board(case["warmup_s"], case["seconds"])
    else:
        raise SystemExit(f"bench_cpu --child: unknown mode {mode!r}")
    print(json.dumps(json_ready(result)), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.bench_cpu``: run and print the cases, or one case (``--child``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s per case, three cases")
    parser.add_argument("--smoke", action="store_true", help="tiny run (tests)")
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child)
    result = run(args.quick, smoke=args.smoke)
    if args.json:
        args.json.write_text(json.dumps(json_ready(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
