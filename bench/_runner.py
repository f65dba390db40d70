"""Run one benchmark module's ``run()`` in this (fresh) process and write its result as JSON.

``python -m bench._runner bench.bench_replay --quick --out result.json [--smoke]
[--kwargs '{"load": true}'] [--print-with print_table|keys]``. The suite runs every
module this way, so one module's threads, BrainFlow state or torch settings never leak
into the next one's figures, and a module that crashes or hangs costs only its own row.
Keyword arguments the module's ``run()`` does not take are left out (``smoke`` is passed
only to modules that have it). ``--print-with`` is for modules whose ``run()`` prints
nothing: call the module's own function of that name on the result, or (``keys``) list
the result's numbers.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import sys
import warnings
from pathlib import Path

from bench._common import format_value, json_ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="e.g. bench.bench_replay")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--kwargs", default="{}", help="more keyword arguments, as JSON")
    parser.add_argument("--out", type=Path, required=True, help="where to write the result")
    parser.add_argument("--print-with", default=None, help="how to print the result")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    # Stage warnings (end of a playback file, a stalled board) would break up the tables;
    # errors still show.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    module = importlib.import_module(args.module)
    run = module.run
    accepted = inspect.signature(run).parameters
    kwargs = {"quick": args.quick, **json.loads(args.kwargs)}
    if args.smoke:
        kwargs["smoke"] = True
    unknown = sorted(k for k in kwargs if k not in accepted)
    if "smoke" in unknown:
        print(f"{args.module}: run() has no smoke mode", file=sys.stderr)
        return 4
    result = run(**{k: v for k, v in kwargs.items() if k in accepted})
    args.out.write_text(json.dumps(json_ready(result), indent=2))
    if args.print_with == "keys":
        print_keys(args.module, result)
    elif args.print_with:
        getattr(module, args.print_with)(result)
    return 0


def print_keys(title: str, result: dict) -> None:
    """The result's numbers and flags, one per line (for modules that print nothing)."""
    print(title)
    for key, value in result.items():
        if isinstance(value, bool | int | float):
            print(f"  {key:<44} {format_value(value, 3)}")
    print(flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
