"""Fast replay: how many times faster than real time data runs through the whole pipeline.

Run: ``python -m bench.bench_replay [--quick]``. Target: ``replay_factor_16ch_250hz`` ≥ 60
(an hour of data in a minute).

1. **The real path, 16 channels at 250 Hz.** A sim/ scenario rendered in the synthetic
   board's layout with all-zero timestamps (``sim.render_session(..., speed=0)``), replayed
   by BrainFlow's playback board through the whole daemon (driver → broker → features,
   EEG and PPG → controller). Factor = data seconds up to the last attention estimate /
   wall seconds from the daemon's start (bus bound, board open, stages ready) until that
   estimate reaches a subscriber.
2. **Channels × rates** (8/16/64/256 channels at 250/500/1000 Hz). No BrainFlow board the
   playback board can imitate has these layouts, so chunks are injected where the driver
   publishes (see ``bench/_pipeline.py``); EEG only. Each runs for a fixed wall budget,
   flow-controlled so nothing piles up on the bus. Beside each: the same estimator alone
   on the same data with no bus (the compute floor), so the bus's share is visible.
"""

from __future__ import annotations

import logging
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import loopback_bus, module_main, print_table
from bench._pipeline import (
    EstimateLog,
    InjectedPipeline,
    InjectionPlan,
    eeg_channel_names,
    observe_attention,
    synthetic_eeg,
)

logger = logging.getLogger("bench")

TARGET_FACTOR = 60.0
CHANNELS = (8, 16, 64, 256)
RATES_HZ = (250, 500, 1000)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def replay_playback(scenario: str, duration_s: float | None) -> dict[str, Any]:
    """The real path: a rendered scenario through the playback board and the daemon."""
    import sim
    from runtime.bus import BusSubscriber
    from runtime.config import config_from_mapping
    from runtime.daemon import Daemon
    from runtime.messages import AttentionFeature, StressFeature
    from runtime.scenario import sim_layout_for

    layout = sim_layout_for("synthetic")
    fs = layout.sampling_rate
    directory = Path(tempfile.mkdtemp(prefix="kintsugi-bench-"))
    try:
        recording = sim.render_session(
            sim.load_scenario(scenario), layout, speed=0.0, duration_s=duration_s
        )
        written = recording.write(directory / f"{scenario}.csv")
        n_samples = int(recording.data.shape[1])
        bus = loopback_bus()
        config = config_from_mapping(
            {
                "bus": {**bus, "hwm": 100_000},
                "source": {
                    "board": "playback",
                    "master_board": "synthetic",
                    "file": str(written.data),
                    "heart_signal": "ppg",
                },
            },
            origin="bench",
        )
        # Connected before the daemon binds, so no estimate is missed.
        subscriber = BusSubscriber(bus["subscribe_endpoint"], ("features",), hwm=100_000)
        log = EstimateLog(fs)
        stress = 0
        try:
            with Daemon(config) as daemon:
                cpu0, t0 = _cpu_s(), time.perf_counter()
                end = time.monotonic() + max(120.0, n_samples / fs / 5.0)
                target = None
                while time.monotonic() < end:
                    message = subscriber.recv(timeout_s=0.5)
                    if message is None:
                        continue
                    if isinstance(message.data, StressFeature):
                        stress += 1
                        continue
                    if not isinstance(message.data, AttentionFeature):
                        continue
                    log.add(message.data, time.perf_counter(), time.time())
                    target = target or log.expected_last_end(n_samples)
                    if target is not None and log.ends[-1] >= target:
                        break
                cpu1 = _cpu_s()
                health = daemon.health()
        finally:
            subscriber.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if not log.ends:
        raise RuntimeError("fast replay: no attention estimate arrived")
    wall_s = log.arrivals[-1] - t0
    data_s = log.ends[-1] / fs
    restarts = sum(int(stage["restarts"]) for stage in health.values())
    return {
        "channels": len(layout.eeg_rows),
        "fs": fs,
        "data_s": data_s,
        "wall_s": wall_s,
        "factor": data_s / wall_s,
        "complete": log.ends[-1] >= (log.expected_last_end(n_samples) or n_samples),
        "attention_estimates": len(log.ends),
        "attention_missing": log.missing(),
        "stress_estimates": stress,
        "cores_used": (cpu1 - cpu0) / wall_s,
        "stage_restarts": restarts,
    }


def replay_injected(channels: int, fs: float, budget_s: float, chunk_s: float = 0.5) -> dict:
    """Channels × rate through the pipeline from the driver's publish on, flat out."""
    names = eeg_channel_names(channels)
    chunk_n = int(round(chunk_s * fs))
    plan = InjectionPlan(
        data=synthetic_eeg(channels, fs),
        fs=fs,
        chunk_n=chunk_n,
        paced=False,
        max_n=10**12,
        max_ahead_n=int(round(4.0 * fs)) + chunk_n,  # one window plus one chunk
        names=names,
    )
    log = EstimateLog(fs)
    with InjectedPipeline(plan) as pipeline:
        subscriber = pipeline.subscriber(("features.attention",))
        try:
            time.sleep(0.2)  # let the subscription reach the broker
            pipeline.start_injector()
            cpu0 = _cpu_s()
            started = time.monotonic()

            def finished(log: EstimateLog) -> bool:
                if time.monotonic() - started >= budget_s:
                    plan.stop_publishing.set()
                if not plan.stop_publishing.is_set() or not plan.done.is_set():
                    return False
                target = log.expected_last_end(plan.published_n)
                return target is not None and bool(log.ends) and log.ends[-1] >= target

            complete = observe_attention(
                subscriber,
                log,
                until=finished,
                timeout_s=budget_s + 120.0,
                on_estimate=plan.note_estimate,
            )
            cpu1 = _cpu_s()
        finally:
            plan.stop_publishing.set()
            subscriber.close()
    if not log.ends or plan.first_publish_wall is None:
        raise RuntimeError(f"{channels} ch at {fs:g} Hz: no attention estimate arrived")
    wall_s = log.arrivals[-1] - plan.first_publish_wall
    return {
        "channels": channels,
        "fs": fs,
        "data_s": log.ends[-1] / fs,
        "wall_s": wall_s,
        "factor": log.ends[-1] / fs / wall_s,
        "complete": complete,
        "attention_estimates": len(log.ends),
        "attention_missing": log.missing(),
        "mean_quality": float(np.mean(log.quality)),
        "cores_used": (cpu1 - cpu0) / wall_s,
        "stage_failures": list(pipeline.failures),
    }


def estimator_alone(channels: int, fs: float, budget_s: float) -> float:
    """Replay factor of the AttentionEstimator alone on the injected data (no bus)."""
    from runtime.features import AttentionEstimator

    data = synthetic_eeg(channels, fs).astype(np.float64)
    estimator = AttentionEstimator(fs, eeg_channel_names(channels))
    estimator.push(data[:, : int(4 * fs)])  # fill the first window
    pushed = 0
    start = time.perf_counter()
    chunk = int(fs)
    while time.perf_counter() - start < budget_s or pushed == 0:
        offset = pushed % (data.shape[1] - chunk)
        estimator.push(data[:, offset : offset + chunk])
        pushed += chunk
    return pushed / fs / (time.perf_counter() - start)


def run(quick: bool, smoke: bool = False) -> dict[str, Any]:
    """Measure and print; keys ``replay_factor_{n}ch_{fs}hz`` (see the module docstring)."""
    if smoke:
        scenario, duration, budget, grid = "ci_short", 30.0, 1.0, [(16, 250), (64, 1000)]
    else:
        scenario, duration = "focus_then_stress", (300.0 if quick else None)
        budget = 2.0 if quick else 10.0
        grid = [(c, r) for c in CHANNELS for r in RATES_HZ]
    results: dict[str, Any] = {}
    playback = replay_playback(scenario, duration)
    results["playback_16ch_250hz"] = playback
    results["replay_factor_16ch_250hz"] = playback["factor"]
    rows: list[list[object]] = [
        [
            "16 ch 250 Hz, playback board (EEG+PPG)",
            playback["data_s"],
            playback["wall_s"],
            playback["factor"],
            None,
            playback["cores_used"],
            playback["attention_missing"],
        ]
    ]
    injected: dict[str, Any] = {}
    for channels, fs in grid:
        cell = replay_injected(channels, fs, budget)
        cell["estimator_alone_factor"] = estimator_alone(channels, fs, min(budget / 2, 2.0))
        name = f"{channels}ch_{fs}hz"
        injected[name] = cell
        key = f"replay_factor_{name}" + ("_injected" if name == "16ch_250hz" else "")
        results[key] = cell["factor"]
        rows.append(
            [
                f"{channels} ch {fs} Hz, injected (EEG)",
                cell["data_s"],
                cell["wall_s"],
                cell["factor"],
                cell["estimator_alone_factor"],
                cell["cores_used"],
                cell["attention_missing"],
            ]
        )
    results["injected"] = injected
    keeping_up = [(c["channels"], c["fs"]) for c in injected.values() if c["factor"] >= 1.0]
    results["largest_real_time_layouts"] = [f"{c}ch_{int(f)}hz" for c, f in keeping_up]
    results["target_factor"] = TARGET_FACTOR
    print_table(
        "fast replay: data seconds / wall seconds until the last attention estimate "
        "(× real time; ≥ 1 keeps up)",
        ["layout", "data s", "wall s", "× real time", "estimator alone ×", "cores", "missing"],
        rows,
    )
    verdict = "meets" if playback["factor"] >= TARGET_FACTOR else "MISSES"
    print(
        f"target replay_factor_16ch_250hz ≥ {TARGET_FACTOR:.0f}: {verdict} "
        f"({playback['factor']:.1f}×)\n",
        flush=True,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    return module_main(
        run,
        __doc__,
        argv,
        quick_help="5 min of data, 2 s per layout",
        smoke_help="tiny run (tests)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
