"""``kintsugi mark LABEL``: put a marker into the running session (board marker row and bus)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from runtime.cli import _exit
from runtime.cli._common import (
    add_bus_arguments,
    bus_keys,
    publish_endpoint,
    subscribe_endpoint,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mark",
        help='put a marker (e.g. "eyes closed") into the running session',
        description=(
            "Publish a marker on the bus of a running daemon. The driver writes its value into "
            "the board's marker channel (insert_marker), the recorder keeps label and value, "
            "the LSL bridge forwards the label. The value is a stable code of the label "
            "(1–65535) unless --value is given. Returns once the broker has forwarded it; "
            "exits 1 when no daemon answers."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("label", help='what happened, e.g. "eyes closed"')
    parser.add_argument(
        "--value",
        type=float,
        default=None,
        help="the number written to the marker channel (non-zero)",
    )
    parser.add_argument(
        "--publish-endpoint",
        default=None,
        help="broker publish endpoint (default: [bus] of --config)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the bus")
    parser.add_argument("--json", action="store_true", help="print the marker as JSON")
    add_bus_arguments(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    import sys

    from runtime.errors import BusError
    from runtime.lab import mark

    try:
        event = mark(
            args.label,
            value=args.value,
            publish_endpoint=publish_endpoint(args),
            subscribe_endpoint=subscribe_endpoint(args),
            keys=bus_keys(args),
            timeout_s=args.timeout,
        )
    except BusError as exc:
        print(f"kintsugi mark: {exc}", file=sys.stderr)
        return _exit.FOUND
    if args.json:
        print(json.dumps(event.__dict__))
    else:
        when = datetime.fromtimestamp(event.time).strftime("%H:%M:%S.%f")[:-3]
        print(f"kintsugi mark: {event.label!r} (value {event.value:g}) at {when}")
    return _exit.OK
