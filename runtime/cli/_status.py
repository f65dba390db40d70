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
    """The daemon's endpoints, the latest status of each component (``components``:
    name → :class:`~runtime.messages.ComponentStatus`; each person's driver apart, as
    ``driver-P01``) and the newest control (``control``, the broker keeps it; None before
    the first), or None if the daemon never answered."""
    from runtime.bus import BusSubscriber
    from runtime.messages import ComponentStatus, Control, DaemonStatus, status_component

    subscriber = BusSubscriber(endpoint, ("status.", "control"), curve=keys)
    components: dict[str, ComponentStatus] = {}
    control: Control | None = None
    end = time.monotonic() + timeout_s
    settle: float | None = None
    try:
        while time.monotonic() < end and (settle is None or time.monotonic() < settle):
            message = subscriber.recv(timeout_s=0.1)
            if message is not None and isinstance(message.data, Control):
                control = message.data
            if message is None or not isinstance(message.data, ComponentStatus):
                continue
            components[status_component(message.topic, message.data)] = message.data
            if isinstance(components.get("daemon"), DaemonStatus) and settle is None:
                settle = time.monotonic() + 0.3  # the cache replays the rest right after
    finally:
        subscriber.close()
    daemon = components.get("daemon")
    if not isinstance(daemon, DaemonStatus):
        return None
    return {
        "publish_endpoint": daemon.publish_endpoint,
        "subscribe_endpoint": daemon.subscribe_endpoint,
        "daemon": daemon,
        "components": components,
        "control": control,
    }


def clock_lines(body: Any) -> list[str]:
    """Under the hub's ``clock`` component: each sensor host's clock offset (sensor minus
    hub) with its uncertainty, drift and round trip (docs/clocks.md); none for others."""
    from runtime.messages import ClockStatus

    if not isinstance(body, ClockStatus):
        return []
    return [
        f"    {sensor:<10} offset {clock.offset_ms:+.3f} ms ± {clock.uncertainty_ms:.3f}  "
        f"drift {clock.drift_ppm:+.1f} ppm  rtt {clock.last_rtt_ms:.2f} ms  n={clock.samples}"
        for sensor, clock in sorted(body.sensors.items())
    ]


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
    components = status["components"]
    if args.json:
        shown = {
            "publish_endpoint": status["publish_endpoint"],
            "subscribe_endpoint": status["subscribe_endpoint"],
            "components": {name: body.to_dict() for name, body in components.items()},
            "control": None if status["control"] is None else status["control"].to_dict(),
        }
        print(json.dumps(shown, indent=2, default=str))
        return _exit.OK
    print(f"publish_endpoint   {status['publish_endpoint']}")
    print(f"subscribe_endpoint {status['subscribe_endpoint']}")
    stages = status["daemon"].stages
    for name, body in sorted(components.items()):
        health = stages.get(name) or stages.get(body.component)
        extra = f" restarts={health.restarts}" if health is not None and health.restarts else ""
        print(f"  {name:<12} {body.state:<12}{extra}{driver_detail(body)}")
        for line in clock_lines(body):
            print(line)
    control = status["control"]
    if control is not None:
        print(f"control            {describe_control(control)}")
    return _exit.OK


def driver_detail(body: Any) -> str:
    """After a driver's state: whose device it is and which board (nothing for another
    component, nor for a driver that names neither)."""
    from runtime.messages import DriverStatus

    if not isinstance(body, DriverStatus):
        return ""
    parts = [] if body.person is None else [f"person={body.person}"]
    if body.board is not None:
        parts.append(f"board={body.board}")
    return "".join(f" {part}" for part in parts)


def describe_control(control: Any) -> str:
    """A control in one line: mode, intensity, gentle, who triggered it (a group's person)
    and the rule."""
    person = "" if control.trigger_person is None else f" person={control.trigger_person}"
    return (f"mode={control.mode} intensity={control.intensity:.3f} gentle={control.gentle}"
            f"{person} rule={control.rule!r}")
