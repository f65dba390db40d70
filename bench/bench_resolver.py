"""Warm decision latency of the ethics resolver, idle and beside a CPU training job.

Run: ``python -m bench.bench_resolver`` (add ``--quick`` for a short run). It times
``EthicsResolver.decide`` (one bind and one single-shot Aer run per decision) on an idle
machine and while a torch MLP training loop (``torch.set_num_threads(2)``) loads both cores:
the resolver as built (``AerSimulator(max_parallel_threads=1)``, run in the calling thread)
side by side with ``AerSimulator.run`` (Aer's worker thread) with one thread and with Aer's
default threading. Decisions are paced like a controller's (a short sleep between
them), not back to back. It also times the once-per-daemon costs in a fresh process:
importing qiskit/Aer and building + transpiling the circuit. Target: p99 <= 10 ms loaded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import TrainingLoad

REPO = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 10.0
#: Pause between decisions, as a controller's conflicts are sporadic (seconds apart in real
#: use; shorter here to keep the run short).
PACE_S = 0.002


_COLD_START = """
import time
t0 = time.perf_counter()
import runtime.resolver
t1 = time.perf_counter()
import qiskit, qiskit_aer
t2 = time.perf_counter()
runtime.resolver.EthicsResolver(session_seed=0)
t3 = time.perf_counter()
print((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
"""


VARIANTS = ("resolver: threads=1, direct", "threads=1 via run()", "default threads via run()")


def _make_resolvers() -> dict[str, Any]:
    from runtime.resolver import EthicsResolver
    from runtime.resolver._circuit import AerAmplitudeSampler

    resolvers = {name: EthicsResolver(session_seed=1) for name in VARIANTS}
    # The same decide path with Aer run through AerSimulator.run (its worker thread), with one
    # thread and with Aer's default threading, for comparison only.
    resolvers[VARIANTS[1]]._sampler = AerAmplitudeSampler(4, direct=False)
    resolvers[VARIANTS[2]]._sampler = AerAmplitudeSampler(
        4, max_parallel_threads=None, direct=False
    )
    return resolvers


def _time_decisions(resolvers: dict[str, Any], count: int) -> dict[str, np.ndarray]:
    """Warm decide latency (ms) of each resolver, interleaved so they share the conditions."""
    from runtime.resolver import score_options

    conflict = score_options({"attention": 0.85, "stress": 0.75}).to_conflict("bench")
    for resolver in resolvers.values():
        for _ in range(20):
            resolver.decide(conflict)
    latencies_ms = {name: np.empty(count) for name in resolvers}
    for i in range(count):
        for name, resolver in resolvers.items():
            time.sleep(PACE_S)
            start = time.perf_counter()
            decision = resolver.decide(conflict)
            latencies_ms[name][i] = (time.perf_counter() - start) * 1e3
            if decision.failed:
                raise RuntimeError(decision.explanation)
    return latencies_ms


def _cold_start_ms() -> tuple[float, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", _COLD_START],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=120,
    )
    a, b, c = (float(v) for v in out.stdout.split())
    return a, b, c


def run(quick: bool) -> dict[str, float]:
    """Measure and print the table; ``resolver_p50_ms``/``resolver_p99_ms`` are under load."""
    count = 300 if quick else 2000
    resolvers = _make_resolvers()
    background = os.getloadavg()[0]
    idle = _time_decisions(resolvers, count)
    with TrainingLoad() as load:
        loaded = _time_decisions(resolvers, count)
        cores = load.cores_used()
    import_ms, qiskit_ms, build_ms = _cold_start_ms()

    print(
        f"EthicsResolver.decide, warm, {count} decisions per row, paced {PACE_S * 1e3:.0f} ms, "
        f"variants interleaved"
    )
    print(f"{'machine':<18}{'variant':<28}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    results: dict[str, float] = {}
    for machine, table in (("idle", idle), ("training, 2 cores", loaded)):
        for i, (name, lat) in enumerate(table.items()):
            p50, p99 = np.percentile(lat, [50, 99])
            print(f"{machine:<18}{name:<28}{p50:>8.3f}{p99:>8.3f}{lat.max():>8.3f}")
            key = f"{'idle' if machine == 'idle' else 'loaded'}_{('resolver', 'run', 'default')[i]}"
            results[f"{key}_p50_ms"] = float(p50)
            results[f"{key}_p99_ms"] = float(p99)
    print(
        "loaded p99 ratios: "
        f"threads=1 via run() / resolver = "
        f"{results['loaded_run_p99_ms'] / results['loaded_resolver_p99_ms']:.2f}x, "
        f"default threads / threads=1 (both via run()) = "
        f"{results['loaded_default_p99_ms'] / results['loaded_run_p99_ms']:.2f}x"
    )
    print(
        f"training job used {cores:.2f} cores; 1-min load average before the run {background:.2f} "
        f"(other work on the machine shows here)"
    )
    print(
        f"once per daemon: import runtime.resolver {import_ms:.0f} ms (no qiskit), "
        f"import qiskit+aer {qiskit_ms:.0f} ms, build+transpile+probe+warm-up {build_ms:.0f} ms"
    )
    verdict = "meets" if results["loaded_resolver_p99_ms"] <= TARGET_P99_MS else "MISSES"
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms under load: {verdict}")
    results.update(
        resolver_p50_ms=results["loaded_resolver_p50_ms"],
        resolver_p99_ms=results["loaded_resolver_p99_ms"],
        training_cores_used=cores,
        cold_import_qiskit_ms=qiskit_ms,
        cold_build_ms=build_ms,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 decisions per row, not 2000")
    args = parser.parse_args(argv)
    run(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
