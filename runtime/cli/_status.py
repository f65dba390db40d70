"""``kintsugi status``: the running daemon's endpoints, components and their health."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from runtime.cli import _exit
from runtime.cli._common import add_bus_arguments, bus_keys, subscribe_endpoint


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show the daemon's endpoints and component health",
        description=(
            "Ask the bus for the latest status.* messages (the broker keeps them) and print "
            "the endpoints and each component's state. Exits 1 when no daemon answers."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait")
    add_bus_arguments(parser)
    parser.set_defaults(handler=_handle)


def collect_status(endpoint: str, keys: Any, timeout_s: float) -> dict[str, Any] | None:
    """The latest status body of each component, or None if the daemon never answered."""
    from runtime.bus import BusSubscriber

    subscriber = BusSubscriber(endpoint, ("status.",), curve=keys)
    components: dict[str, Any] = {}
    end = time.monotonic() + timeout_s
    settle: float | None = None
    try:
        while time.monotonic() < end and (settle is None or time.monotonic() < settle):
            message = subscriber.recv(timeout_s=0.1)
            if message is None:
                continue
            components[message.topic.removeprefix("status.")] = dict(message.body)
            if "daemon" in components and settle is None:
                settle = time.monotonic() + 0.3  # the cache replays the rest right after
    finally:
        subscriber.close()
    if "daemon" not in components:
        return None
    daemon = components["daemon"]
    return {
        "publish_endpoint": daemon.get("publish_endpoint"),
        "subscribe_endpoint": daemon.get("subscribe_endpoint"),
        "components": components,
    }


def _handle(args: argparse.Namespace) -> int:
    endpoint = subscribe_endpoint(args)
    status = collect_status(endpoint, bus_keys(args), args.timeout)
    if status is None:
        print(
            f"kintsugi status: no daemon answered at {endpoint} within {args.timeout} s "
            "(is `kintsugi run` running, with the same endpoints and --keys?)",
            file=sys.stderr,
        )
        return _exit.FOUND
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return _exit.OK
    print(f"publish_endpoint   {status['publish_endpoint']}")
    print(f"subscribe_endpoint {status['subscribe_endpoint']}")
    stages = status["components"]["daemon"].get("stages", {})
    for name, body in sorted(status["components"].items()):
        health = stages.get(name, {})
        extra = f" restarts={health['restarts']}" if health.get("restarts") else ""
        print(f"  {name:<12} {body.get('state', '?'):<12}{extra}")
    return _exit.OK
