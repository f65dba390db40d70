"""``kintsugi watch``: print decoded bus messages (one JSON object per line with --json)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runtime.cli import _exit
from runtime.cli._common import add_bus_arguments, bus_keys, subscribe_endpoint


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="print messages from the bus",
        description=(
            "Subscribe to TOPIC (a prefix: 'control', 'features', 'status.', '' for all) and "
            "print each decoded message. Array payloads are summarised (dtype, shape)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("topic", nargs="?", default="", help="topic prefix")
    parser.add_argument("--count", type=int, default=None, help="exit after N messages")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--timeout", type=float, default=None, help="exit 1 after S s of silence")
    add_bus_arguments(parser)
    parser.set_defaults(handler=_handle)


def message_to_dict(message: Any) -> dict[str, Any]:
    """A decoded message as printed by ``watch --json`` (the body verbatim, as received)."""
    out: dict[str, Any] = {
        "topic": message.topic,
        "publisher": message.publisher,
        "seq": message.seq,
        "source_time": message.source_time,
        "publish_time": message.publish_time,
        "body": message.body,
    }
    if message.array is not None:
        out["array"] = {"dtype": message.array.dtype.str, "shape": list(message.array.shape)}
    return out


def _summary(message: Any) -> str:
    """One line for ``message``: a control's state, a feature's level, else the body; a
    person's id first (``[P01]``: whose feature, whose features triggered the control,
    whose samples or device)."""
    from runtime.messages import (
        Control,
        Decision,
        DriverStatus,
        Feature,
        RawBoardChunk,
        RawChunk,
    )

    data = message.data
    person = None
    if isinstance(data, Feature | RawChunk | RawBoardChunk | DriverStatus):
        person = data.person
    elif isinstance(data, Control | Decision):
        person = data.trigger_person
    prefix = "" if person is None else f"[{person}] "
    if isinstance(data, Control):
        return prefix + (
            f"intensity={data.intensity:.3f} gentle={data.gentle} "
            f"mode={data.mode} rule={data.rule!r}"
        )
    if isinstance(data, Feature):
        level = "n/a" if data.level is None else f"{data.level:.3f}"
        reason = "" if data.valid else f" reason={data.reason!r}"
        return prefix + f"{data.kind}={level} valid={data.valid} time_s={data.time_s:.3f}{reason}"
    if message.array is not None:
        return prefix + f"array {message.array.dtype} {tuple(message.array.shape)}"
    text = json.dumps(message.body, default=str)  # printed as received, not read
    text = text if len(text) < 160 else text[:157] + "..."
    return prefix + text


def _handle(args: argparse.Namespace) -> int:
    from runtime.bus import BusSubscriber
    from runtime.errors import ConfigError

    if args.count is not None and args.count < 1:
        raise ConfigError(f"--count must be a positive integer; {args.count} is invalid")
    subscriber = BusSubscriber(subscribe_endpoint(args), (args.topic,), curve=bus_keys(args))
    seen = 0
    try:
        while args.count is None or seen < args.count:
            message = subscriber.recv(timeout_s=args.timeout)
            if message is None:
                print(
                    f"kintsugi watch: nothing on {args.topic!r} for {args.timeout} s",
                    file=sys.stderr,
                )
                return _exit.FOUND
            seen += 1
            if args.json:
                print(json.dumps(message_to_dict(message), default=str), flush=True)
            else:
                print(f"{message.topic:<18} #{message.seq:<6} {_summary(message)}", flush=True)
    except BrokenPipeError:
        return _exit.OK
    finally:
        subscriber.close()
    return _exit.OK
