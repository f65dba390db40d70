"""Arguments several commands share: where the bus is and which keys to use."""

from __future__ import annotations

import argparse
from typing import Any


def add_bus_arguments(parser: argparse.ArgumentParser) -> None:
    """``-c/--config``, ``--endpoint``, ``--keys`` and ``--key-name``."""
    parser.add_argument("-c", "--config", default=None, help="take the endpoint from a config")
    parser.add_argument(
        "--endpoint", default=None, help="broker subscribe endpoint (default: [bus] of --config)"
    )
    parser.add_argument(
        "--keys", default=None, metavar="DIR", help="CURVE keys made by `kintsugi keys`"
    )
    parser.add_argument(
        "--key-name", default="client", help="which client certificate in --keys to use"
    )


def subscribe_endpoint(args: argparse.Namespace) -> str:
    """The endpoint from --endpoint, else from --config, else the default."""
    if args.endpoint:
        return str(args.endpoint)
    if args.config:
        from runtime.config import load_config

        return load_config(args.config).bus.subscribe_endpoint
    from runtime.client import DEFAULT_SUBSCRIBE_ENDPOINT

    return DEFAULT_SUBSCRIBE_ENDPOINT


def bus_keys(args: argparse.Namespace) -> Any:
    """Loaded CURVE keys when --keys is given, else None."""
    if not args.keys:
        return None
    from runtime.bus import CurveKeys

    return CurveKeys.load(args.keys, args.key_name)
