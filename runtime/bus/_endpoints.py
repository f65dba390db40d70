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
