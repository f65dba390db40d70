"""Linux network namespaces for the multi-host tests: a hub and sensor hosts joined by veth
pairs whose addresses (10.231.N.0/24) exist only inside the namespaces.

Every namespace, and with it every veth end inside it, is deleted by :meth:`NetLab.close`,
which the fixture calls even when a test fails; processes started in a namespace are
killed first, by their pid. Nothing here touches the machine's own interfaces or routes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUBNET = "10.231"
HUB_PUBLISH_PORT = 5591
HUB_SUBSCRIBE_PORT = 5592

_counter = itertools.count()


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def netns_unavailable() -> str:
    """Why network namespaces cannot be made here ('' when they can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces need root (os.geteuid() != 0)"
    name = f"kzprobe{os.getpid()}"
    try:
        _ip("netns", "add", name)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"`ip netns add` does not work here: {exc}"
    with contextlib.suppress(RuntimeError):
        _ip("netns", "del", name)
    return ""


class NetProcess:
    """A process run inside a namespace (``ip netns exec``), output to files."""

    def __init__(self, netns: str, args: list[str], log_dir: Path, label: str) -> None:
        self.label = label
        self.stdout_path = log_dir / f"{label}.{time.monotonic_ns()}.out"
        self.stderr_path = self.stdout_path.with_suffix(".err")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", netns, sys.executable, *args],
                stdout=out, stderr=err, env=env, cwd=REPO,
            )

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_stdout(self, text: str, timeout_s: float = 30.0) -> None:
        """Wait until ``text`` appears on stdout; AssertionError (with the logs) if not."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if text in self.stdout():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"{self.label}: {text!r} not on stdout (exit {self.proc.poll()}): "
            f"{self.stdout()[-1000:]!r} {self.stderr()[-3000:]!r}"
        )

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGINT (a clean stop), SIGKILL after ``timeout_s``; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class NetLab:
    """A hub namespace and sensor namespaces, each joined to the hub by its own veth pair.

    Sensor ``i`` (1-based) is ``10.231.i.2`` on its interface ``up0``; the hub is
    ``10.231.i.1`` on its interface ``s<i>``, so each sensor reaches the hub at
    :meth:`hub_address`.
    """

    def __init__(self, log_dir: Path) -> None:
        tag = f"{os.getpid() % 100000}{next(_counter)}{uuid.uuid4().hex[:4]}"
        self.hub = f"kz{tag}hub"
        self.log_dir = log_dir
        self.namespaces: list[str] = []
        self.processes: list[NetProcess] = []
        self._tag = tag
        self._add_namespace(self.hub)

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self.namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def add_sensor_host(self, index: int) -> str:
        """Make sensor namespace ``index`` (1-254) joined to the hub; returns its name."""
        name = self.sensor_namespace(index)
        self._add_namespace(name)
        _ip("-n", self.hub, "link", "add", f"s{index}", "type", "veth",
            "peer", "name", "up0", "netns", name)
        _ip("-n", self.hub, "addr", "add", f"{SUBNET}.{index}.1/24", "dev", f"s{index}")
        _ip("-n", name, "addr", "add", f"{SUBNET}.{index}.2/24", "dev", "up0")
        _ip("-n", self.hub, "link", "set", f"s{index}", "up")
        _ip("-n", name, "link", "set", "up0", "up")
        return name

    def sensor_namespace(self, index: int) -> str:
        """The name of sensor namespace ``index``."""
        return f"kz{self._tag}s{index}"

    @staticmethod
    def hub_address(index: int) -> str:
        """The hub's address as sensor ``index`` reaches it."""
        return f"{SUBNET}.{index}.1"

    def set_uplink(self, index: int, up: bool) -> None:
        """Bring sensor ``index``'s interface down or up, inside its namespace."""
        _ip("-n", self.sensor_namespace(index), "link", "set", "up0", "up" if up else "down")

    def run(self, netns: str, args: list[str], label: str) -> NetProcess:
        """Start ``python ARGS`` inside ``netns``."""
        process = NetProcess(netns, args, self.log_dir, label)
        self.processes.append(process)
        return process

    def close(self) -> None:
        """Kill what was started here and delete every namespace (and its veth ends)."""
        for process in self.processes:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.kill()
        errors = []
        for name in reversed(self.namespaces):
            try:
                _ip("netns", "del", name)
            except RuntimeError as exc:
                errors.append(str(exc))
        self.namespaces.clear()
        if errors:
            raise RuntimeError("; ".join(errors))
