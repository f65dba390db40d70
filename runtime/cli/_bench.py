"""``kintsugi bench``: measure the whole runtime on this machine (the same as ``make bench``).

The benchmarks live in the repository's ``bench/`` directory, which is not part of the
installed package, so this command needs a source checkout (``pip install -e .``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtime.cli._bench_options import DESCRIPTION, add_bench_arguments


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
