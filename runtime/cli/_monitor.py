"""``kintsugi monitor``: a live terminal view of a running daemon."""

from __future__ import annotations

import argparse

from runtime.cli import _exit
from runtime.cli._common import add_bus_arguments, bus_keys, subscribe_endpoint


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="live view of a running daemon in the terminal",
        description=(
            "Attach to a running daemon's bus and show, live: per-channel quality and "
            "amplitude, attention and stress with validity, control mode, intensity and the "
            "rule that set it, decisions and markers, drops, latency, device and stage state. "
            "Works over SSH in any terminal; quit with Ctrl-C. --once prints one snapshot."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--refresh", type=float, default=4.0, metavar="HZ",
                        help="redraws per second")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="exit after S seconds")
    parser.add_argument("--once", action="store_true",
                        help="listen for --timeout seconds, print one snapshot and exit "
                        "(exit 1 if no daemon answered)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds --once listens")
    parser.add_argument("--no-screen", action="store_true",
                        help="draw in the normal screen, not the terminal's alternate screen")
    add_bus_arguments(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from rich.console import Console

    from runtime.errors import ConfigError
    from runtime.monitor import render_monitor, run_monitor, snapshot

    if not args.refresh > 0:
        raise ConfigError(f"--refresh must be > 0 redraws per second; {args.refresh} is invalid")
    endpoint = subscribe_endpoint(args)
    keys = bus_keys(args)
    if args.once:
        state = snapshot(endpoint, keys=keys, seconds=args.timeout)
        Console().print(render_monitor(state))
        return _exit.OK if "daemon" in state.components else _exit.FOUND
    run_monitor(endpoint, keys=keys, refresh_hz=args.refresh, duration_s=args.duration,
                screen=not args.no_screen)
    return _exit.OK
