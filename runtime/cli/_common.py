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


def _endpoint(flag_value: str | None, config_path: str | None, key: str, default: str) -> str:
    if flag_value:
        return str(flag_value)
    if config_path:
        from runtime.config import load_config

        return str(getattr(load_config(config_path).bus, key))
    return default


def subscribe_endpoint(args: argparse.Namespace) -> str:
    """The endpoint from --endpoint, else from --config, else the default."""
    from runtime.bus import DEFAULT_SUBSCRIBE_ENDPOINT

    return _endpoint(args.endpoint, args.config, "subscribe_endpoint", DEFAULT_SUBSCRIBE_ENDPOINT)


def publish_endpoint(args: argparse.Namespace) -> str:
    """The endpoint from --publish-endpoint, else from --config, else the default."""
    from runtime.bus import DEFAULT_PUBLISH_ENDPOINT

    return _endpoint(
        getattr(args, "publish_endpoint", None),
        args.config,
        "publish_endpoint",
        DEFAULT_PUBLISH_ENDPOINT,
    )


def bus_keys(args: argparse.Namespace) -> Any:
    """Loaded CURVE keys when --keys is given, else None."""
    if not args.keys:
        return None
    from runtime.bus import CurveKeys

    return CurveKeys.load(args.keys, args.key_name)
