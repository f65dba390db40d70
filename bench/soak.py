"""Soak: long scenario data replayed at full speed through the whole daemon.

Prints what a long run must show: no chunk lost end to end (driver → features →
controller), resident memory after warm-up, and whether latency stays stable.

    python -m bench.soak [--minutes 60] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import sim
from runtime.bus import BusSubscriber
from runtime.config import config_from_mapping
from runtime.daemon import Daemon
from runtime.messages import (
    ComponentStatus,
    Control,
    ControllerStatus,
    DriverStatus,
    FeaturesStatus,
)
from runtime.scenario import sim_layout_for

WARM_UP_FRACTION = 0.2
#: How often RSS is read. A short soak at full speed lasts about a second, so it gets only
#: the first and the last reading: read every 0.1 s, its burst (6 min of data queued within
#: a second) showed 10–12 MB of transient growth, which says nothing about a leak; the hour
#: soak (make test-all) is the leak check.
RSS_INTERVAL_S = 1.0


def soak_scenario(minutes: float) -> Any:
    """A long scenario: 2 min calibration, then attention and stress drifting slowly."""
    duration_s = minutes * 60.0
    points = np.linspace(120.0, duration_s, max(3, int(minutes / 5) + 2))
    rng = np.random.default_rng(7)
    return sim.parse_scenario(
        {
            "name": f"soak-{minutes:g}min",
            "duration_s": duration_s,
            "seed": 7,
            "calibration_s": 120.0,
            "attention": [[0.0, 0.5], [120.0, 0.5]]
            + [
                [float(t), float(v)]
                for t, v in zip(points[1:], rng.uniform(0.2, 0.9, points.size - 1), strict=True)
            ],
            "stress": [[0.0, 0.2], [120.0, 0.2]]
            + [
                [float(t), float(v)]
                for t, v in zip(points[1:], rng.uniform(0.1, 0.8, points.size - 1), strict=True)
            ],
        }
    )


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def run(minutes: float = 60.0, speed: float = 0.0) -> dict[str, Any]:
    """Replay ``minutes`` of data at ``speed`` × real time (0: as fast as the playback board
    goes, ≈ ×770, faster than the pipeline: latency then measures the backlog, not the
    pipeline); returns the figures."""
    scenario = soak_scenario(minutes)
    layout = sim_layout_for("synthetic")
    with tempfile.TemporaryDirectory(prefix="kintsugi-soak-") as tmp:
        path = Path(tmp) / "soak.csv"
        t0 = time.monotonic()
        sim.render_session(scenario, layout, speed=speed).write(path)
        render_s = time.monotonic() - t0
        n_samples = int(scenario.duration_s * layout.sampling_rate)
        config = config_from_mapping(
            {
                "bus": {
                    "publish_endpoint": "tcp://127.0.0.1:*",
                    "subscribe_endpoint": "tcp://127.0.0.1:*",
                },
                "source": {"board": "playback", "master_board": "synthetic", "file": str(path)},
                "daemon": {"status_interval_s": 0.5},
            }
        )
        window_n, hop_n = int(4.0 * layout.sampling_rate), int(0.25 * layout.sampling_rate)
        expected_windows = (n_samples - window_n) // hop_n + 1
        rss: list[tuple[float, float]] = []
        latencies: list[tuple[int, float]] = []
        status: dict[str, ComponentStatus] = {}  # the last status.* of each component
        windows = 0
        with Daemon(config) as daemon:
            subscriber = BusSubscriber(
                daemon.subscribe_endpoint,
                ("control", "status.", "features.attention"),
                hwm=1_000_000,
            )
            started = time.monotonic()
            next_rss = last_window_at = started
            while windows < expected_windows and time.monotonic() - started < 3600:
                message = subscriber.recv(timeout_s=0.5)
                now = time.monotonic()
                if now >= next_rss:
                    rss.append((now - started, _rss_mb()))
                    next_rss = now + RSS_INTERVAL_S
                if message is None:
                    last_driver = status.get("driver")
                    ended = last_driver is not None and last_driver.state == "ended"
                    if ended and now - last_window_at > 10.0:
                        break  # the file is done and nothing more comes: windows were lost
                    continue
                if message.topic == "features.attention":
                    windows += 1
                    last_window_at = now
                elif isinstance(message.data, ComponentStatus):
                    status[message.topic.removeprefix("status.")] = message.data
                elif isinstance(message.data, Control) and message.data.trigger == "feature":
                    sample_time = message.data.sample_time
                    if sample_time is not None:
                        latencies.append((windows, (time.time() - sample_time) * 1000.0))
            wall_s = time.monotonic() - started
            rss.append((wall_s, _rss_mb()))  # the end: never no reading after warm-up
            time.sleep(1.5)  # a last round of status messages
            while (message := subscriber.recv(timeout_s=0.1)) is not None:
                if isinstance(message.data, ComponentStatus):
                    status[message.topic.removeprefix("status.")] = message.data
            subscriber.close()
    features = _last_status(status, FeaturesStatus)
    controller = _last_status(status, ControllerStatus)
    driver = _last_status(status, DriverStatus)
    features_dropped = features.bus.dropped if features.bus is not None else 0
    controller_dropped = controller.bus.dropped if controller.bus is not None else 0
    warm = [m for t, m in rss if t >= WARM_UP_FRACTION * wall_s]
    deciles = np.array_split(np.array([ms for _, ms in latencies]), 10) if latencies else []
    decile_p50 = [float(np.median(d)) for d in deciles if d.size]
    return {
        "data_minutes": minutes,
        "speed": speed,
        "render_s": render_s,
        "wall_s": wall_s,
        "replay_factor": scenario.duration_s / wall_s,
        "samples_in_file": n_samples,
        "samples_read": driver.samples.get("default", 0),
        "board_dropped": driver.dropped.get("default", 0),
        "attention_windows_expected": expected_windows,
        "attention_windows_received": windows,
        "bus_dropped_features": features_dropped,
        "bus_dropped_controller": controller_dropped,
        "gap_samples": features.gap_samples,
        "rejected_chunks": features.rejected,
        "lost_chunks_end_to_end": features_dropped
        + controller_dropped
        + (expected_windows - windows),
        "rss_after_warm_up_mb": warm[0] if warm else float("nan"),
        "rss_end_mb": rss[-1][1] if rss else float("nan"),
        "rss_growth_mb": (max(warm) - warm[0]) if warm else float("nan"),
        "latency_p50_by_decile_ms": decile_p50,
        "latency_stable": bool(decile_p50) and decile_p50[-1] <= 2.0 * max(decile_p50[0], 1.0),
    }


S = TypeVar("S", bound=ComponentStatus)


def _last_status(status: dict[str, ComponentStatus], cls: type[S]) -> S:
    """The last ``status.<component>`` of ``cls``'s component; one with no counters (all
    zero, state "") when none arrived."""
    component = cls.TOPIC.removeprefix("status.")
    last = status.get(component)
    return last if isinstance(last, cls) else cls(component=component, state="")


def print_report(result: dict[str, Any]) -> None:
    pace = "full speed" if result["speed"] == 0 else f"paced at ×{result['speed']:g}"
    print(
        f"soak ({pace}): {result['data_minutes']:g} min of data in {result['wall_s']:.1f} s "
        f"(×{result['replay_factor']:.0f} real time; rendering took {result['render_s']:.1f} s)"
    )
    print(
        f"  samples read          {result['samples_read']} of {result['samples_in_file']} "
        f"(board dropped {result['board_dropped']})"
    )
    print(
        f"  attention windows     {result['attention_windows_received']} of "
        f"{result['attention_windows_expected']}"
    )
    print(
        f"  lost chunks e2e       {result['lost_chunks_end_to_end']} (bus drops: features "
        f"{result['bus_dropped_features']}, controller {result['bus_dropped_controller']}; "
        f"gap samples {result['gap_samples']})"
    )
    print(
        f"  RSS                   {result['rss_after_warm_up_mb']:.1f} MB after warm-up → "
        f"{result['rss_end_mb']:.1f} MB at the end (growth {result['rss_growth_mb']:.1f} MB)"
    )
    deciles = ", ".join(f"{v:.0f}" for v in result["latency_p50_by_decile_ms"])
    print(f"  latency p50 by decile {deciles} ms (stable: {result['latency_stable']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="minutes of data")
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        help="replay speed (0 = full); default: both, full speed then ×20",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    speeds = [0.0, 20.0] if args.speed is None else [args.speed]
    results = []
    for speed in speeds:
        results.append(run(args.minutes, speed))
        print_report(results[-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
