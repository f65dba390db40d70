"""CURVE authentication and encryption for the bus.

A keys directory made by ``kintsugi keys DIR`` holds the broker's certificate
(``server.key`` / ``server.key_secret``), client certificates (``NAME.key`` /
``NAME.key_secret``; ``client`` is the daemon's own stages'), and ``authorized/``, the
public keys the broker accepts. With keys, every bus socket uses CURVE and the broker's
ZAP handler admits only the authorized client keys: a peer without a key, or with an
unknown one, can neither publish nor receive.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from runtime.errors import BusError

SERVER_NAME = "server"
DEFAULT_CLIENT = "client"
AUTHORIZED_DIR = "authorized"


def make_keys(directory: str | Path, clients: tuple[str, ...] = (DEFAULT_CLIENT,)) -> list[Path]:
    """Create the server certificate (if missing) and the named client certificates.

    Existing certificates are kept, so adding a client never locks out the others. Returns
    the files written.
    """
    directory = Path(directory)
    (directory / AUTHORIZED_DIR).mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    written: list[Path] = []
    for name in (SERVER_NAME, *clients):
        if not name.replace("-", "").replace("_", "").isalnum():
            raise BusError(f"client name {name!r} must be letters, digits, '-' or '_'")
        public = directory / f"{name}.key"
        if not public.exists():
            public_file, secret_file = zmq.auth.create_certificates(directory, name)
            Path(secret_file).chmod(0o600)
            written += [Path(public_file), Path(secret_file)]
        if name != SERVER_NAME:
            shutil.copyfile(public, directory / AUTHORIZED_DIR / f"{name}.key")
    return written


@dataclass(frozen=True)
class CurveKeys:
    """Certificates loaded from a keys directory, for one client identity."""

    directory: Path
    server_public: bytes
    server_secret: bytes | None
    client_public: bytes
    client_secret: bytes

    @classmethod
    def load(cls, directory: str | Path, client: str = DEFAULT_CLIENT) -> CurveKeys:
        """Load keys; a BusError says how to make them when files are missing."""
        directory = Path(directory)
        server_public_file = directory / f"{SERVER_NAME}.key"
        client_secret_file = directory / f"{client}.key_secret"
        for needed in (server_public_file, client_secret_file):
            if not needed.exists():
                raise BusError(
                    f"{needed} is missing: make keys with `kintsugi keys {directory}` "
                    f"(add a client with `kintsugi keys {directory} --client NAME`)"
                )
        server_public, _ = zmq.auth.load_certificate(server_public_file)
        server_secret = None
        if (directory / f"{SERVER_NAME}.key_secret").exists():
            _, server_secret = zmq.auth.load_certificate(directory / f"{SERVER_NAME}.key_secret")
        client_public, client_secret = zmq.auth.load_certificate(client_secret_file)
        if client_secret is None:
            raise BusError(f"{client_secret_file} holds no secret key; remake it")
        return cls(directory, server_public, server_secret, client_public, client_secret)

    def apply_client(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a CURVE client of the broker (before connect)."""
        sock.curve_secretkey = self.client_secret
        sock.curve_publickey = self.client_public
        sock.curve_serverkey = self.server_public

    def apply_server(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a CURVE server (before bind); needs the server's secret key."""
        if self.server_secret is None:
            raise BusError(
                f"{self.directory / (SERVER_NAME + '.key_secret')} is missing: only the "
                "machine that runs the daemon needs it; copy the whole keys directory there"
            )
        sock.curve_secretkey = self.server_secret
        sock.curve_publickey = self.server_public
        sock.curve_server = True

    def start_authenticator(self, context: zmq.Context) -> ThreadAuthenticator:
        """Admit only the public keys in ``authorized/`` to CURVE servers of ``context``."""
        authorized = self.directory / AUTHORIZED_DIR
        if not any(authorized.glob("*.key")):
            raise BusError(f"no authorized client keys in {authorized}: run `kintsugi keys`")
        auth = ThreadAuthenticator(context)
        auth.start()
        auth.configure_curve(domain="*", location=str(authorized))
        return auth
