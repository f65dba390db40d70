"""``kintsugi verify DIR [OTHER]``: does a session reproduce (its replay, or another run)?"""

from __future__ import annotations

import argparse
import shutil
import socket
import tempfile
from pathlib import Path

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check that a session reproduces: same features, controls and decisions",
        description=(
            "With one session directory: replay it through the whole pipeline (flat out, "
            "--speed 0, into a temporary directory) and compare the replay with the "
            "original. With two: compare them (DIR is the reference, e.g. the original, "
            "OTHER e.g. `kintsugi replay DIR --record OTHER`). Compared: features (kind, "
            "sample_index, time_s, level, valid, reason), controls (seq, mode, intensity, "
            "gentle, rule, safe, trigger, time_s) and decisions (all but latency_ms), "
            "record by record; wall-clock stamps are not. OTHER may go on after DIR's end "
            "(a session stopped with Ctrl-C leaves its last chunks unprocessed; a replay "
            "plays them): that part is listed, not compared."
        ),
        epilog=(
            "Exit status: 0 the runs match, 1 they differ (the first difference is printed "
            "with its data time and both values), 2 bad arguments or session, 130 stopped "
            "by Ctrl-C."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="the reference session directory")
    parser.add_argument("other", metavar="OTHER", nargs="?", default=None,
                        help="a second session directory (default: replay DIR and compare)")
    parser.add_argument("--speed", type=float, default=0.0, metavar="K",
                        help="replay speed when re-running DIR (×real time; 0 = flat out)")
    parser.add_argument("--keep", default=None, metavar="OUT",
                        help="keep the re-run's recording in OUT (a new directory)")
    parser.add_argument("--publish-endpoint", default=None,
                        help="the re-run's bus (default: a free loopback port)")
    parser.add_argument("--subscribe-endpoint", default=None,
                        help="the re-run's bus (default: a free loopback port)")
    parser.set_defaults(handler=_handle)


def _free_loopback_endpoint() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def _handle(args: argparse.Namespace) -> int:
    from drivers import set_brainflow_logging
    from runtime.lab import check_speed, compare_sessions, replay_session
    from runtime.recorder import read_metadata

    reference = Path(args.directory)
    read_metadata(reference)  # a SessionError (exit 2) before anything runs
    if args.other is not None:
        comparison = compare_sessions(reference, args.other)
        names = (str(reference), str(args.other))
    else:
        speed = check_speed(args.speed)
        set_brainflow_logging(args.verbose >= 2)
        workdir = Path(tempfile.mkdtemp(prefix="kintsugi-verify-"))
        out = Path(args.keep) if args.keep else workdir / "replay"
        try:
            result = replay_session(
                reference,
                speed=speed,
                record=out,
                bus_overrides={
                    "publish_endpoint": args.publish_endpoint or _free_loopback_endpoint(),
                    "subscribe_endpoint": args.subscribe_endpoint or _free_loopback_endpoint(),
                },
            )
            if result.signal:
                return _exit.INTERRUPTED
            comparison = compare_sessions(reference, out)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        names = (str(reference), f"its replay (--speed {speed:g})")
        print(f"kintsugi verify: replayed {result.samples} of {result.total} samples in "
              f"{result.wall_s:.1f} s" + (f"; kept in {out}" if args.keep else ""))
    for line in comparison.summary(names):
        print(f"kintsugi verify: {line}")
    return _exit.OK if comparison.matched else _exit.FOUND
