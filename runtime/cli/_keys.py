"""``kintsugi keys DIR``: make CURVE certificates for the broker and its clients."""

from __future__ import annotations

import argparse

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="make CURVE keys for an authenticated bus",
        description=(
            "Create DIR/server.key(+_secret) for the daemon and DIR/NAME.key(+_secret) for each "
            "client (default: one named 'client', used by the daemon's own stages); their "
            "public keys go to DIR/authorized/, the keys the broker admits. Existing keys are "
            "kept. Give a remote client its NAME.key_secret and server.key, never "
            "server.key_secret."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("directory", help="where the keys go (created, mode 0700)")
    parser.add_argument(
        "--client",
        action="append",
        default=None,
        metavar="NAME",
        help="also make and authorize a client certificate NAME (repeatable)",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from runtime.bus import make_keys

    clients = ("client", *(args.client or ()))
    written = make_keys(args.directory, tuple(dict.fromkeys(clients)))
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"kept the existing keys in {args.directory}")
    print(f"run the daemon with: kintsugi run -c CONFIG --keys {args.directory}")
    return _exit.OK
