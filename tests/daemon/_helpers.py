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
baseline_s = {baseline_s}

[controller]
require_stress = false
min_dwell_s = 0.5
ttl_s = 1.0
stale_after_s = 1.0
{extra}
"""


def write_config(
    tmp_path: Path, extra: str = "", *, baseline_s: float = 2.0
) -> tuple[Path, str, str]:
    """A fast-calibrating synthetic config on free ports; returns (path, pub, sub).

    ``baseline_s``: seconds of EEG the attention baseline calibrates on (control is safe
    until then); a test that must watch the calibrating state lengthens it.
    """
    pub, sub = free_tcp_port(), free_tcp_port()
    path = tmp_path / "daemon.toml"
    path.write_text(FAST_CONFIG.format(pub=pub, sub=sub, extra=extra, baseline_s=baseline_s))
    return path, f"tcp://127.0.0.1:{pub}", f"tcp://127.0.0.1:{sub}"


class DaemonProcess:
    """`kintsugi run -c CONFIG` in a subprocess; waits for its endpoint line."""

    def __init__(self, config: Path, *args: str, timeout_s: float = 30.0) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # Output goes to files: a full pipe would block the daemon.
        self.stdout_path = config.with_suffix(f".{time.monotonic_ns()}.out")
        self.stderr_path = self.stdout_path.with_suffix(".err")
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime.cli", "run", "-c", str(config), *args],
                stdout=out,
                stderr=err,
                env=env,
            )
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and self.proc.poll() is None:
            if "subscribe_endpoint=" in self.stdout_path.read_text():
                break
            time.sleep(0.05)
        self.first_line = self.stdout_path.read_text().splitlines()[:1]
        if not self.first_line or "subscribe_endpoint=" not in self.first_line[0]:
            self.stop()
            raise AssertionError(
                f"daemon did not start: {self.stdout_path.read_text()!r} "
                f"{self.stderr_path.read_text()[-2000:]!r}"
            )
        self.started = time.monotonic()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

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
