"""``kintsugi bench``: measure the whole runtime on this machine (the same as ``make bench``).

The benchmarks live in the repository's ``bench/`` directory, which is not part of the
installed package, so this command needs a source checkout (``pip install -e .``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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

    Declared here, not in bench/, because bench/ is not installed with the package and the
    CLI builds its parser without importing it. The module names in ``--only``'s help are
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


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the runtime on this machine, beside its floors and peers",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_bench_arguments(parser)
    parser.set_defaults(handler=_handle)


def bench_root() -> Path:
    """The source checkout holding ``bench/``; ConfigError when there is none."""
    from runtime.errors import ConfigError

    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "_suite.py").is_file():
        raise ConfigError(
            f"kintsugi bench needs the repository's bench/ directory, which is not installed "
            f"with the package; none at {root / 'bench'}. Run it from a source checkout "
            f"installed with `pip install -e .` (or `make bench` there)."
        )
    return root


def _handle(args: argparse.Namespace) -> int:
    from runtime.errors import ConfigError

    root = bench_root()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bench._suite import run_and_report, select_modules

    try:
        select_modules(args.only)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    # run_and_report returns runtime/cli/_exit.py's codes (OK, FOUND, STARTUP_FAILURE).
    return run_and_report(quick=args.quick, json_path=args.json, smoke=args.smoke, only=args.only)
