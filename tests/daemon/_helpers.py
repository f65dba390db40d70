"""Start `kintsugi run` as a real subprocess on fresh loopback ports, and stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import free_tcp_port

FAST_CONFIG = """
[bus]
publish_endpoint = "tcp://127.0.0.1:{pub}"
subscribe_endpoint = "tcp://127.0.0.1:{sub}"

[source]
board = "synthetic"

[features.eeg]
window_s = 2.0
hop_s = 0.25
baseline_s = 2.0

[controller]
require_stress = false
min_dwell_s = 0.5
ttl_s = 1.0
stale_after_s = 1.0
{extra}
"""


def write_config(tmp_path: Path, extra: str = "") -> tuple[Path, str, str]:
    """A fast-calibrating synthetic config on free ports; returns (path, pub, sub)."""
    pub, sub = free_tcp_port(), free_tcp_port()
    path = tmp_path / "daemon.toml"
    path.write_text(FAST_CONFIG.format(pub=pub, sub=sub, extra=extra))
    return path, f"tcp://127.0.0.1:{pub}", f"tcp://127.0.0.1:{sub}"


class DaemonProcess:
    """`kintsugi run -c CONFIG` in a subprocess; waits for its endpoint line."""

    def __init__(self, config: Path, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "run", "-c", str(config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = self.proc.stdout.readline()
        if "subscribe_endpoint=" not in line:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"daemon did not start: {line!r} {out!r} {err[-2000:]!r}")
        self.first_line = line
        self.started = time.monotonic()

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
