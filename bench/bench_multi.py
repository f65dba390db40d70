"""Scale: several people streaming into one hub, beside one person, in the same run.

Run: ``python -m bench.bench_multi [--quick] [--people 8]``; in the suite, full runs only
(``kintsugi bench``, or ``--only multi``). Issue 21, point 6.

Two cases, one after the other, each on a fresh hub:

* ``single``: one sensor host (BrainFlow's synthetic board, 16 EEG channels at 250 Hz)
  streaming into one hub;
* ``multi``: ``people`` (8) sensor hosts, each the same board, into one hub.

Everything is the runtime's own path: each sensor host is a real sensor ``Daemon`` in a
process of its own (``[bus] connect`` to the hub, ``[daemon] stages = ["driver"]``,
``[source] person = "P01"`` …), so its real driver stage reads a real BrainFlow synthetic
board (told apart by ``serial_number``) and publishes through the
:class:`~runtime.bus.UplinkPublisher` that stamps ``person`` on every raw chunk; its clock
responder answers the hub. The hub is a real hub ``Daemon`` in a process of its own
(``[daemon] stages = ["features", "controller"]``: broker, feature stage with one set of
estimators per person, controller with the group policy, clock requester, status). The
bench's process is the client: one subscriber on the hub's broker, as a training job's
``ControlClient`` is. All processes share this machine's two cores, which separate
sensor hosts would not.

**Clocks.** ``*_hub_cpu_pct`` is the hub process's CPU time (user + system, all its
threads: the stages, the broker, ZeroMQ's I/O threads; ``/proc/<pid>/stat``) over a fixed
wall window after the warm-up, as % of one core; the sensor hosts and the client are other
processes, so none of their work is in it. ``*_board_to_control_*`` starts at the
BrainFlow timestamp of the newest sample a control rests on (``trace.raw_source_time``,
the board's own ``time.time()`` stamp on the sensor host; on the hub's clock by the
hub's estimate of that sensor's clock, which on one machine is the same clock) and ends
when the client receives the control: bench_e2e's ``board_to_control``, with the same
breakdown (``*_stage_*``, ``bench/_latency.py``). Every feature-triggered control counts;
the person a control rests on is the person of the estimate its trace names (each
person's driver has its own publisher id).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench._common import (
    REPO,
    json_ready,
    loopback_bus,
    percentile,
    print_table,
    process_cpu_s,
    summarise_ms,
)
from bench._latency import STAGES, StampLog, summarise_stages

#: People in the multi case (the issue's 8) and in a smoke run (the tests).
PEOPLE_FULL, PEOPLE_SMOKE = 8, 2
#: Seconds measured per case after the warm-up.
SECONDS_QUICK, SECONDS_FULL, SECONDS_SMOKE = 30.0, 60.0, 3.0
#: Warm-up: the 4 s window filled, the 4 s calibration done, estimates flowing.
WARMUP_S, WARMUP_SMOKE_S = 9.0, 5.0
#: Feature settings of both cases (a 4 s calibration, as bench_cpu and bench_e2e).
FEATURES = {"baseline_s": 4.0}
HOP_S = 0.25
#: The board every sensor host streams: BrainFlow's synthetic board.
BOARD = "synthetic (16 EEG channels at 250 Hz; its PPG goes to the hub too, unused)"
#: Targets (docs/benchmarks.md, "Scale: several people on one hub").
TARGET_P99_MS = 15.0
TARGET_CPU_PCT = 50.0
TARGET_SCALING = 1.0
#: Seconds a child process has to say it is ready, and to stop.
START_TIMEOUT_S, STOP_TIMEOUT_S = 60.0, 20.0


def person_id(i: int) -> str:
    """The pseudonymous id of the ``i``-th person (0 → P01)."""
    return f"P{i + 1:02d}"


def hub_config(bus: dict[str, str]) -> dict[str, Any]:
    """The hub's config mapping: configs/hub.toml's stages on ``bus``, EEG only."""
    return {
        "bus": {**bus, "hwm": 10_000},
        "daemon": {"stages": ["features", "controller"]},
        "source": {"heart_signal": "none"},
        "features": {"eeg": FEATURES},
        "controller": {"require_stress": False},
    }


def sensor_config(bus: dict[str, str], person: str) -> dict[str, Any]:
    """A sensor host's config mapping: the synthetic board, its raw chunks to the hub."""
    return {
        "bus": {
            "connect": bus["publish_endpoint"],
            "subscribe_endpoint": bus["subscribe_endpoint"],
            "hwm": 10_000,
        },
        "daemon": {"stages": ["driver"]},
        # Two synthetic boards with the same parameters are one board to BrainFlow.
        "source": {
            "board": "synthetic",
            "serial_number": person,
            "person": person,
            "heart_signal": "none",
        },
    }


def _child(role: str, spec: str) -> int:
    """A hub or a sensor host: start the daemon, say so, run until stdin closes."""
    import logging

    from runtime.config import config_from_mapping
    from runtime.daemon import Daemon

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    config = config_from_mapping(json.loads(spec), origin=f"bench_multi {role}")
    daemon = Daemon(config)
    daemon.start()
    try:
        print("ready", flush=True)
        sys.stdin.read()  # the bench closes our stdin to stop us
    finally:
        cut_short = daemon.stop()
        failures = [f"{s.name}: {f}" for s in daemon.stages for f in s.failures]
        print(json.dumps({"cut_short": cut_short, "failures": failures}), flush=True)
    return 0


class _Child:
    """One child process (hub or sensor host), started ready and stopped by closing stdin."""

    def __init__(self, role: str, config: dict[str, Any]) -> None:
        self.role = role
        # A file, not a pipe, which could fill and block the child; closed by stop().
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "bench.bench_multi", f"--{role}",
             json.dumps(config)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,
        )
        self.report: dict[str, Any] = {}

    def wait_ready(self) -> None:
        """Return once the child's daemon has started; RuntimeError with its stderr if it
        exits or says nothing within START_TIMEOUT_S."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT_S)
        line = self.process.stdout.readline().strip() if ready else ""
        if line != "ready":
            self.stop()
            raise RuntimeError(
                f"bench_multi {self.role} did not start: {self.report.get('failures')}"
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-2000:]

    def stop(self) -> None:
        """Close stdin (the child stops its daemon), wait; kill after the deadline."""
        process = self.process
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # a child that died has a broken pipe
                process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        out = process.stdout.read() if process.stdout is not None else ""
        if process.stdout is not None:
            process.stdout.close()
        lines = [line for line in (out or "").splitlines() if line.startswith("{")]
        self.report = json.loads(lines[-1]) if lines else {}
        if process.returncode != 0:
            self.report.setdefault("failures", []).append(
                f"{self.role} exited with {process.returncode}: {self.stderr_tail()}"
            )
        self._stderr.close()


class _Observation:
    """What the client saw in the measured window: stamps of every feature-triggered
    control, whose each one was, and the estimates of each person."""

    def __init__(self) -> None:
        self.log = StampLog(keep=4096)
        self.person_of: dict[str | None, str | None] = {}  # raw publisher → person
        self.rows_by_person: dict[str | None, list] = defaultdict(list)
        self.estimates: dict[str | None, int] = defaultdict(int)
        self.unattributed = 0

    def take(self, message: Any, received: float, measuring: bool) -> None:
        from runtime.messages import AttentionFeature, Control

        data = message.data
        if isinstance(data, AttentionFeature) and data.trace is not None:
            self.person_of[data.trace.raw_publisher] = data.person
            if measuring:
                self.estimates[data.person] += 1
        n_rows = len(self.log.rows)
        row = self.log.observe(message, received)
        if not measuring:
            del self.log.rows[n_rows:]  # warm-up: only the feature's publish time is kept
            return
        if row is not None and isinstance(data, Control) and data.trace is not None:
            publisher = data.trace.raw_publisher
            if publisher not in self.person_of:
                self.unattributed += 1
            self.rows_by_person[self.person_of.get(publisher)].append(row)


def measure_case(people: int, warmup_s: float, seconds: float) -> dict[str, Any]:
    """One hub, ``people`` sensor hosts: hub CPU and board → control, see the module."""
    from runtime.bus import BusSubscriber

    bus = loopback_bus()
    hub = _Child("hub", hub_config(bus))
    sensors: list[_Child] = []
    subscriber = None
    try:
        hub.wait_ready()
        subscriber = BusSubscriber(bus["subscribe_endpoint"], ("control", "features"))
        time.sleep(0.3)  # subscribed before the first sample is published
        sensors = [_Child("sensor", sensor_config(bus, person_id(i))) for i in range(people)]
        for sensor in sensors:
            sensor.wait_ready()
        seen = _Observation()
        end_warmup = time.monotonic() + warmup_s
        while time.monotonic() < end_warmup:
            message = subscriber.recv(timeout_s=0.1)
            if message is not None:
                seen.take(message, time.time(), measuring=False)
        seen.log.incomplete = 0  # counted from the measured window on, as the rows are
        cpu0, t0 = process_cpu_s(hub.pid), time.perf_counter()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            message = subscriber.recv(timeout_s=0.1)
            if message is not None:
                seen.take(message, time.time(), measuring=True)
        cpu, wall = process_cpu_s(hub.pid) - cpu0, time.perf_counter() - t0
    finally:
        if subscriber is not None:
            subscriber.close()
        for child in sensors:
            child.stop()
        hub.stop()
    return _case_result(people, cpu, wall, seen, hub, sensors)


def _case_result(
    people: int, cpu: float, wall: float, seen: _Observation, hub: _Child, sensors: list[_Child]
) -> dict[str, Any]:
    rows = seen.log.rows
    whole = [(r.client_receive - r.board) * 1e3 for r in rows]
    expected = wall / HOP_S
    persons = sorted(p for p in seen.rows_by_person if p is not None)
    by_person = {
        p: percentile([(r.client_receive - r.board) * 1e3 for r in seen.rows_by_person[p]], 99)
        for p in persons
    }
    controls = {p: len(seen.rows_by_person[p]) for p in persons}
    estimates = {str(p): n for p, n in sorted(seen.estimates.items(), key=lambda kv: str(kv[0]))}
    worst = max(by_person, key=lambda p: by_person[p]) if by_person else None
    failures = list(hub.report.get("failures", []))
    for sensor in sensors:
        failures += sensor.report.get("failures", [])
    return {
        "people": people,
        "hub_cpu_pct": cpu / wall * 100,
        "hub_cpu_per_person_pct": cpu / wall * 100 / people,
        "wall_s": wall,
        **summarise_ms(whole, "board_to_control"),
        **summarise_stages(rows, applied=False),
        "stage_incomplete_n": seen.log.incomplete,
        "person_board_to_control_p99_ms": by_person,
        "worst_person": worst,
        "worst_person_board_to_control_p99_ms": by_person[worst] if worst else float("nan"),
        "best_person_board_to_control_p99_ms": min(by_person.values(), default=float("nan")),
        "persons_with_controls": len(persons),
        "controls_by_person": controls,
        "controls_unattributed": seen.unattributed,
        "estimates_by_person": estimates,
        "estimates_expected_per_person": expected,
        # Every person's estimates arrived (one per hop of data) and reached control.
        "keeps_up": bool(
            len(persons) == people
            and all(seen.estimates.get(p, 0) >= 0.95 * expected - 1 for p in persons)
        ),
        "stage_failures": failures,
        "cut_short": hub.report.get("cut_short"),
    }


#: Keys copied from each case's result to the top level, as ``single_<key>``/``multi_<key>``.
CASE_KEYS = (
    "people",
    "hub_cpu_pct",
    "hub_cpu_per_person_pct",
    "board_to_control_p50_ms",
    "board_to_control_p99_ms",
    "board_to_control_max_ms",
    "board_to_control_n",
    *(f"stage_{name}_{q}_ms" for name, *_ in STAGES[:-1] for q in ("p50", "p99")),
    "stage_sum_max_error_ms",
    "stage_incomplete_n",
    "worst_person",
    "worst_person_board_to_control_p99_ms",
    "best_person_board_to_control_p99_ms",
    "persons_with_controls",
    "keeps_up",
)


def compare(single: dict[str, Any], multi: dict[str, Any]) -> dict[str, Any]:
    """The multi case over the single one: CPU and latency ratios, and how CPU scales
    (``multi_hub_cpu_scaling`` = multi / (people × single): 1 is linear, below is better)."""

    def ratio(a: Any, b: Any) -> float:
        ok = isinstance(a, int | float) and isinstance(b, int | float) and b > 0
        return a / b if ok else float("nan")

    return {
        "multi_single_hub_cpu_ratio": ratio(multi["hub_cpu_pct"], single["hub_cpu_pct"]),
        "multi_hub_cpu_scaling": ratio(
            multi["hub_cpu_pct"], multi["people"] * single["hub_cpu_pct"]
        ),
        "multi_single_board_to_control_p50_ratio": ratio(
            multi["board_to_control_p50_ms"], single["board_to_control_p50_ms"]
        ),
        "multi_single_board_to_control_p99_ratio": ratio(
            multi["board_to_control_p99_ms"], single["board_to_control_p99_ms"]
        ),
    }


def run(quick: bool = False, smoke: bool = False, people: int | None = None) -> dict[str, Any]:
    """Measure both cases and print the table; the keys are ``single_*``, ``multi_*``."""
    people = people or (PEOPLE_SMOKE if smoke else PEOPLE_FULL)
    if people < 2:
        raise ValueError(f"people must be at least 2 for a multi case; got {people}")
    seconds = SECONDS_SMOKE if smoke else (SECONDS_QUICK if quick else SECONDS_FULL)
    warmup = WARMUP_SMOKE_S if smoke else WARMUP_S
    single = measure_case(1, warmup, seconds)
    multi = measure_case(people, warmup, seconds)
    result: dict[str, Any] = {"multi_board": BOARD, "multi_seconds": seconds}
    for prefix, case in (("single", single), ("multi", multi)):
        result.update({f"{prefix}_{k}": case[k] for k in CASE_KEYS})
        result[f"{prefix}_detail"] = case
    result.update(compare(single, multi))
    result["multi_person_board_to_control_p99_ms"] = multi["person_board_to_control_p99_ms"]
    result["multi_controls_by_person"] = multi["controls_by_person"]
    print_result(result)
    return result


def print_result(r: dict[str, Any]) -> None:
    """Both cases side by side, with the ratios and the per-person spread."""
    people = r["multi_people"]
    rows = [
        ["people", r["single_people"], people, ""],
        ["hub CPU, % of one core", r["single_hub_cpu_pct"], r["multi_hub_cpu_pct"],
         r["multi_single_hub_cpu_ratio"]],
        ["hub CPU per person, %", r["single_hub_cpu_per_person_pct"],
         r["multi_hub_cpu_per_person_pct"], r["multi_hub_cpu_scaling"]],
        ["board → control p50 ms", r["single_board_to_control_p50_ms"],
         r["multi_board_to_control_p50_ms"], r["multi_single_board_to_control_p50_ratio"]],
        ["board → control p99 ms", r["single_board_to_control_p99_ms"],
         r["multi_board_to_control_p99_ms"], r["multi_single_board_to_control_p99_ratio"]],
    ]
    for name, label, *_ in STAGES[:-1]:
        for q in ("p50", "p99"):
            rows.append([f"  {label} {q}", r[f"single_stage_{name}_{q}_ms"],
                         r[f"multi_stage_{name}_{q}_ms"], ""])
    rows += [
        ["worst person's p99 ms", r["single_worst_person_board_to_control_p99_ms"],
         r["multi_worst_person_board_to_control_p99_ms"], r["multi_worst_person"]],
        ["best person's p99 ms", r["single_best_person_board_to_control_p99_ms"],
         r["multi_best_person_board_to_control_p99_ms"], ""],
        ["controls (n)", r["single_board_to_control_n"], r["multi_board_to_control_n"], ""],
        ["persons with controls", r["single_persons_with_controls"],
         r["multi_persons_with_controls"], ""],
        ["keeps up", r["single_keeps_up"], r["multi_keeps_up"], ""],
    ]
    print_table(
        f"one hub, {people} people × 16 ch @ 250 Hz beside one person "
        f"({r['multi_seconds']:.0f} s per case after the warm-up; ratio = multi / single, "
        "per-person row: multi / (people × single))",
        ["figure", "single", "multi", "ratio"],
        rows,
    )
    print(
        f"targets: multi p99 ≤ {TARGET_P99_MS:g} ms, hub CPU ≤ {TARGET_CPU_PCT:g} % of a "
        f"core, scaling ≤ {TARGET_SCALING:g} (no worse than linear in people)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s per case instead of 60")
    parser.add_argument("--smoke", action="store_true", help="tiny run (tests): 2 people, 3 s")
    parser.add_argument("--people", type=int, default=None, help="people in the multi case")
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    parser.add_argument("--hub", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sensor", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hub:
        return _child("hub", args.hub)
    if args.sensor:
        return _child("sensor", args.sensor)
    result = run(args.quick, smoke=args.smoke, people=args.people)
    if args.json:
        args.json.write_text(json.dumps(json_ready(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
