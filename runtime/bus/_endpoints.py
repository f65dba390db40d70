"""Default endpoints, and endpoint checks: loopback by default, anything else only with
CURVE keys."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from runtime.errors import BusError

#: Where publishers (the daemon's stages, a training job's reports) reach the broker when no
#: config or flag says otherwise; ``[bus] publish_endpoint`` defaults to it.
DEFAULT_PUBLISH_ENDPOINT = "tcp://127.0.0.1:5591"
#: Where subscribers (clients, ``kintsugi watch``) reach the broker by default.
DEFAULT_SUBSCRIBE_ENDPOINT = "tcp://127.0.0.1:5592"

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(endpoint: str) -> bool:
    """True for ipc:// and inproc:// endpoints and tcp:// endpoints on a loopback host."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        raise BusError(
            f"endpoint {endpoint!r} has transport {scheme!r}; use tcp://HOST:PORT, ipc://PATH "
            "or inproc://NAME"
        )
    host = urlsplit(f"tcp://{rest}").hostname or ""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or interface name: treat as reachable from outside


def check_bind_allowed(endpoint: str, *, have_keys: bool) -> None:
    """Refuse to bind beyond loopback without CURVE keys, saying how to make them."""
    if not is_loopback(endpoint) and not have_keys:
        raise BusError(
            f"refusing to listen on {endpoint!r} without authentication: it is reachable "
            "beyond this machine. Make keys with `kintsugi keys DIR` and pass --keys DIR, "
            "or listen on loopback (tcp://127.0.0.1:PORT)"
        )


def check_connect_allowed(endpoint: str, *, have_keys: bool) -> None:
    """Refuse to send to a hub beyond loopback without CURVE keys: the data would cross
    the network unauthenticated and in clear (and a hub listening there admits only
    keyed clients anyway)."""
    if not is_loopback(endpoint) and not have_keys:
        raise BusError(
            f"refusing to connect to {endpoint!r} without authentication: it is beyond this "
            "machine. Copy the hub's keys directory's server.key and this host's "
            "NAME.key_secret (made by `kintsugi keys DIR --client NAME`) and pass "
            "--keys DIR --key-name NAME"
        )


def hub_subscribe_endpoint(connect: str, subscribe_endpoint: str) -> str:
    """Where a sensor host subscribes (markers, the broker's answer): the host of the hub's
    publish endpoint ``connect`` with the port of ``subscribe_endpoint`` (5592 by default)."""
    scheme, _, rest = connect.partition("://")
    sub_scheme, _, sub_rest = subscribe_endpoint.partition("://")
    if scheme != "tcp" or ":" not in rest or sub_scheme != "tcp" or ":" not in sub_rest:
        raise BusError(
            f"a sensor host needs tcp://HOST:PORT endpoints: [bus] connect = {connect!r}, "
            f"subscribe_endpoint = {subscribe_endpoint!r}"
        )
    return f"tcp://{rest.rsplit(':', 1)[0]}:{sub_rest.rsplit(':', 1)[1]}"
