"""The Cyton emulator of bench_device in its own process, and the write log it hands back.

A board is its own device: run in the daemon's process the emulator would share its GIL
and its scheduling with the stages it feeds. :class:`EmulatorProcess` starts
:func:`serve_emulator` in a fresh interpreter, which serves a ``CytonEmulator`` with a
write log (``sim/emulators/_write_log.py``) on a pty and, when asked, saves the current
stream's log to a file the parent reads back as :class:`WriteTimes`.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import REPO

#: The scenario the emulator plays (its physiology passes the feature stage's checks).
SCENARIO = "ci_short"


@dataclass(frozen=True)
class WriteTimes:
    """The emulator's write log of one stream, as arrays indexed by the packet's position
    in that stream: ``started_at``/``written_at`` (wall-clock s, NaN where the log has no
    entry), ``counters`` (-1 where none); ``stream`` which stream it is (0 = the first
    start command), ``streams`` the start commands seen when it was taken, ``stats`` the
    emulator's counters then (``EmulatorStats.to_dict()``)."""

    started_at: np.ndarray
    written_at: np.ndarray
    counters: np.ndarray
    stream: int
    streams: int
    stats: dict[str, Any] = field(default_factory=dict)

    def started(self, index: int) -> float | None:
        """Wall clock just before the write that put packet ``index`` on the pty."""
        if 0 <= index < self.started_at.size and np.isfinite(self.started_at[index]):
            return float(self.started_at[index])
        return None


def _save_current_stream(emulator: Any, path: str) -> None:
    """Write the emulator's write log of its current stream to ``path`` (``.npz``)."""
    log = emulator.write_log
    stream = log.streams - 1
    current = [e for e in log.entries() if e.stream == stream]
    n = (current[-1].index + 1) if current else 0
    started, written = np.full(n, np.nan), np.full(n, np.nan)
    counters = np.full(n, -1, dtype=np.int64)
    for e in current:
        started[e.index], written[e.index] = e.write_started_at, e.written_at
        counters[e.index] = e.counter
    stats = json.dumps(emulator.stats.to_dict())
    np.savez(path, started_at=started, written_at=written, counters=counters,
             stream=stream, streams=log.streams, stats=np.array(stats))


def serve_emulator(feed_seconds: float) -> None:
    """The emulator process (``EmulatorProcess`` runs it): serve a Cyton on a pty, print
    its serial port, then for each line on stdin, ``log PATH`` or ``stop PATH``, write the
    current stream's write log to PATH (after stopping, for ``stop``) and print ``ok`` or
    ``error: ...``."""
    from sim import load_scenario
    from sim.emulators import CytonEmulator, scenario_feed

    feed, _ = scenario_feed(load_scenario(SCENARIO), "cyton", duration_s=feed_seconds)
    # The log keeps the whole run (250 packets a second).
    emulator = CytonEmulator(feed, write_log=int(feed_seconds * 250))
    emulator.start()
    print(emulator.serial_port, flush=True)
    command, path = "stop", ""
    try:
        for line in sys.stdin:
            command, _, path = line.strip().partition(" ")
            if command != "log":
                break
            _save_current_stream(emulator, path)
            print("ok", flush=True)
    finally:
        error = ""
        try:
            emulator.stop()
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
            error = f"{type(exc).__name__}: {exc}"
    if command == "stop" and path:
        _save_current_stream(emulator, path)
        print(f"error: {error}" if error else "ok", flush=True)


class EmulatorProcess:
    """A Cyton emulator with a write log in a child process (its own interpreter, as a
    board is its own device, so neither shares a GIL with the daemon): ``serial_port``
    while it runs; :meth:`write_times` is the current stream's log, :meth:`stop` ends the
    emulator and returns the last one."""

    def __init__(self, seconds: float) -> None:
        self._feed_seconds = seconds + 30.0  # the feed loops after this
        self._process: subprocess.Popen[str] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="kintsugi-bench-device-")
        self._asked = 0
        self.serial_port = ""

    def __enter__(self) -> EmulatorProcess:
        code = (
            "from bench._device_emulator import serve_emulator; "
            f"serve_emulator({self._feed_seconds})"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )
        self.serial_port = self._answer("start")
        if not self.serial_port.startswith("/"):
            self.__exit__()
            raise RuntimeError(
                f"bench_device: the Cyton emulator did not start: {self.serial_port!r}"
            )
        return self

    def write_times(self) -> WriteTimes:
        """The current stream's write log (the emulator keeps running)."""
        return self._ask("log")

    def stop(self) -> WriteTimes:
        """Stop the emulator; the last stream's write log (RuntimeError if it failed)."""
        try:
            return self._ask("stop")
        finally:
            self.__exit__()

    def _ask(self, command: str) -> WriteTimes:
        if self._process is None or self._process.stdin is None:
            raise RuntimeError("bench_device: the emulator process is not running")
        self._asked += 1
        path = Path(self._dir.name) / f"log{self._asked}.npz"
        self._process.stdin.write(f"{command} {path}\n")
        self._process.stdin.flush()
        answer = self._answer(command)
        if answer != "ok":
            raise RuntimeError(f"bench_device: the Cyton emulator answered {command!r} with "
                               f"{answer!r}")
        with np.load(path) as saved:
            return WriteTimes(
                saved["started_at"], saved["written_at"], saved["counters"],
                int(saved["stream"]), int(saved["streams"]), json.loads(str(saved["stats"])),
            )

    def _answer(self, what: str) -> str:
        """The child's next line (it prints one per command); '' if it exited."""
        assert self._process is not None and self._process.stdout is not None
        return self._process.stdout.readline().strip() or (
            f"(no answer to {what!r}; exit code {self._process.poll()})"
        )

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()  # end of stdin: the child stops its emulator
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        self._dir.cleanup()
