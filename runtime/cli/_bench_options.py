"""The options and description of the benchmark suite, shared by ``kintsugi bench``
(runtime/cli/_bench.py) and ``python -m bench`` (bench/_suite.py).

A module of its own so that bench/ can take them without importing the CLI command that
runs bench/ (which would make the two import each other). Declared under runtime/, not in
bench/, because bench/ is not installed with the package and the CLI builds its parser
without importing it.
"""

from __future__ import annotations

import argparse

__all__ = ["DESCRIPTION", "add_bench_arguments"]

#: The benchmark's description, for ``kintsugi bench --help`` and ``python -m bench --help``.
DESCRIPTION = (
    "Run every benchmark (end-to-end latency under a training load with the raw "
    "pyzmq floor, sample → applied, fast replay by channels × rate, daemon CPU in real "
    "time, client overhead, resolver latency, start-up, feature cost beside BrainFlow, "
    "MNE, NeuroKit2 and HeartPy), print one table with each figure beside its floor or "
    "peer and its target, and optionally write the results as JSON. Exit code 1 when "
    "a target is missed, 3 when a benchmark failed. `kintsugi bench` and `python -m bench` "
    "are the same command."
)


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kintsugi bench`` and ``python -m bench`` (bench/_suite.py).

    The module names in ``--only``'s help are
    bench/_suite.py's ``MODULE_NAMES`` (tests/bench/test_suite.py checks they match).
    """
    parser.add_argument("--quick", action="store_true", help="short runs: under 5 minutes")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results here")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny budgets, modules that have a smoke mode only"
    )
    parser.add_argument(
        "--only",
        default=None,
        metavar="NAMES",
        help="comma-separated modules to run (startup, features, replay, cpu, e2e, applied, "
        "device, resolver, training, priority, repair, multi); priority and multi run only "
        "in a full run or when named",
    )
