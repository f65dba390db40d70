"""End-to-end latency against how the training job shares the two cores.

Run: ``python -m bench.bench_priority [--quick]``. The real daemon on BrainFlow's synthetic
board (as in ``bench/bench_e2e.py``: a chunk leaving the driver → control at a subscriber)
beside a torch training job in three set-ups, interleaved in rounds so slow drift of the
machine's other load hits all alike:

* ``2 threads, nice 0``: the job takes both cores at the daemon's priority (the target's
  set-up, the same load as ``bench_e2e --load``);
* ``2 threads, nice 10``: the same job at a lower priority (``nice -n 10 python train.py``);
* ``1 thread, nice 0``: the job leaves one core free (``torch.set_num_threads(1)``).

Beside each: how many cores the job actually used, so the price of each set-up shows.
"""

from __future__ import annotations

import time
from typing import Any

from bench._common import (
    TrainingLoad,
    loopback_bus,
    module_main,
    print_table,
    summarise_ms,
    synthetic_daemon_config,
)

SETUPS: tuple[tuple[str, int, int], ...] = (
    ("2 threads, nice 0", 2, 0),
    ("2 threads, nice 10", 2, 10),
    ("1 thread, nice 0", 1, 0),
)


def measure(threads: int, nice: int, seconds: float) -> tuple[list[float], float]:
    """E2e latencies (ms) of feature-triggered controls, and cores the job used."""
    from runtime.bus import BusSubscriber
    from runtime.daemon import Daemon
    from runtime.messages import Control

    bus = loopback_bus()
    config = synthetic_daemon_config(bus)
    latencies: list[float] = []
    subscriber = BusSubscriber(bus["subscribe_endpoint"], ("control",))
    try:
        with TrainingLoad(threads=threads, nice=nice) as load, Daemon(config):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                message = subscriber.recv(timeout_s=0.5)
                if message is None:
                    continue
                control = message.data
                if (
                    isinstance(control, Control)
                    and control.trigger == "feature"
                    and control.sample_time is not None
                ):
                    latencies.append((time.time() - control.sample_time) * 1e3)
            cores = load.cores_used()
    finally:
        subscriber.close()
    return latencies, cores


def run(quick: bool, smoke: bool = False) -> dict[str, Any]:
    """Measure and print; keys ``priority_{n}t_nice{k}_e2e_p50_ms`` etc."""
    rounds, seconds = (1, 7.0) if smoke else ((1, 15.0) if quick else (3, 20.0))
    latencies: dict[str, list[float]] = {name: [] for name, _, _ in SETUPS}
    cores: dict[str, list[float]] = {name: [] for name, _, _ in SETUPS}
    for _ in range(rounds):
        for name, threads, nice in SETUPS:
            values, used = measure(threads, nice, seconds)
            latencies[name] += values
            cores[name].append(used)
    results: dict[str, Any] = {}
    rows = []
    for name, threads, nice in SETUPS:
        key = f"priority_{threads}t_nice{nice}"
        summary = summarise_ms(latencies[name], f"{key}_e2e")
        used = sum(cores[name]) / len(cores[name])
        results.update(summary)
        results[f"{key}_cores_used"] = used
        rows.append(
            [
                name,
                summary[f"{key}_e2e_p50_ms"],
                summary[f"{key}_e2e_p99_ms"],
                used,
                summary[f"{key}_e2e_n"],
            ]
        )
    print_table(
        f"end-to-end latency vs the training job's share of the cores ({rounds} × {seconds:.0f} s "
        "per set-up, interleaved)",
        ["training job", "e2e p50 ms", "e2e p99 ms", "job's cores", "n"],
        rows,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    return module_main(
        run,
        __doc__,
        argv,
        quick_help="one round of 15 s per set-up",
        smoke_help="7 s per set-up (tests)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
