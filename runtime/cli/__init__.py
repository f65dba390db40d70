"""The ``kintsugi`` command line: one subcommand per module, each light to import.

Each module in ``COMMAND_MODULES`` defines ``add_parser(subparsers)``, which adds its
subcommand and sets ``handler`` (a function taking the parsed namespace and returning an
exit code). Heavy imports (brainflow, torch, qiskit) happen inside handlers, so ``--help``
is instant and the daemon never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from runtime.cli import _exit
from runtime.errors import KintsugiError

#: Subcommand modules, in the order ``kintsugi --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "runtime.cli._run",
    "runtime.cli._watch",
    "runtime.cli._boards",
    "runtime.cli._status",
    "runtime.cli._keys",
    "runtime.cli._resolve",
    "runtime.cli._sim",
    "runtime.cli._hrv",
    "runtime.cli._bands",
    "runtime.cli._emulate",
    "runtime.cli._checkpoint",
    "runtime.cli._check",
    "runtime.cli._monitor",
    "runtime.cli._mark",
    "runtime.cli._replay",
    "runtime.cli._verify",
    "runtime.cli._export",
    "runtime.cli._report",
    "runtime.cli._baseline",
    "runtime.cli._forget",
    "runtime.cli._sessions",
    "runtime.cli._bench",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="kintsugi",
        description="Biofeedback runtime: physiology from BrainFlow boards steers a PyTorch model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kintsugi`` console script; returns the exit code."""
    # brainflow imports pkg_resources, whose deprecation warning means nothing to a user.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except KintsugiError as exc:
        print(f"kintsugi {args.command}: error: {exc}", file=sys.stderr)
        return _exit.STARTUP_FAILURE if args.command == "run" else _exit.USAGE_ERROR
    except KeyboardInterrupt:
        return _exit.INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
