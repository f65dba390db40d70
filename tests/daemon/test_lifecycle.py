"""The daemon owns its lifecycle: each stage built once, the source from a factory, one run
loop with the signal handling of `kintsugi run`, `replay` and `emulate` (SIGINT/SIGTERM stop
cleanly within the shutdown deadline; a second SIGINT forces exit 130 at once)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers import DeviceNotFoundError
from runtime._signals import FORCED_EXIT_STATUS, StopSignals
from runtime.bus import BusSubscriber
from runtime.cli import _exit
from runtime.config import load_config
from runtime.daemon import Daemon, StartupError, driver_source
from runtime.messages import DaemonStatus, StageHealth
from runtime.recorder import RecorderStage
from runtime.stages import DriverStage, confirm_subscribed
from tests.conftest import free_tcp_port
from tests.daemon._helpers import DaemonProcess, write_config

#: A forced exit must come at once: well inside the shutdown deadline (5 s by default).
PROMPT_S = 3.0

#: `kintsugi …` in a subprocess whose clean shutdown never ends (Daemon.stop hangs), so
#: only a forced exit can end it. It prints "stopping" to stderr when the hang begins.
_HANGING_SHUTDOWN = """
import sys, time
import runtime.daemon

def hang(self, deadline_s=None):
    print("stopping", file=sys.stderr, flush=True)
    while True:
        time.sleep(0.05)

runtime.daemon.Daemon.stop = hang
from runtime.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _wait_for_text(path: Path, text: str, timeout_s: float, proc: subprocess.Popen) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and proc.poll() is None:
        if text in path.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared in {path.name}: {path.read_text()[-2000:]!r}")


class Command:
    """A `kintsugi` command in a subprocess, its output in files (a full pipe would block)."""

    def __init__(self, tmp_path: Path, args: list[str], *, hang_on_stop: bool = False) -> None:
        stem = tmp_path / f"cmd-{time.monotonic_ns()}"
        self.stdout_path, self.stderr_path = stem.with_suffix(".out"), stem.with_suffix(".err")
        prefix = ["-c", _HANGING_SHUTDOWN] if hang_on_stop else ["-m", "runtime.cli"]
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *prefix, *args],
                stdout=out,
                stderr=err,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )

    def wait_stdout(self, text: str, timeout_s: float = 30.0) -> None:
        _wait_for_text(self.stdout_path, text, timeout_s, self.proc)

    def wait_stderr(self, text: str, timeout_s: float = 30.0) -> None:
        _wait_for_text(self.stderr_path, text, timeout_s, self.proc)

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout_s: float) -> tuple[int, float]:
        """(exit status, seconds it took)."""
        started = time.monotonic()
        return self.proc.wait(timeout=timeout_s), time.monotonic() - started

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def command(tmp_path: Path) -> Iterator[type]:
    """Command, with every one started in the test killed afterwards."""
    started: list[Command] = []

    class Tracked(Command):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(tmp_path, *args, **kwargs)
            started.append(self)

    yield Tracked
    for cmd in started:
        cmd.kill()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~6 s session recorded from the synthetic board (what `kintsugi replay` plays)."""
    root = tmp_path_factory.mktemp("lifecycle")
    path, _, _ = write_config(root)
    config = load_config(path)
    directory = root / "session"
    daemon = Daemon(
        config, extra_stages={"recorder": RecorderStage(directory, config)}, board_rows=True
    )
    with daemon:
        time.sleep(6.0)
    assert (directory / "raw.csv").stat().st_size > 0
    return directory


# -- kintsugi run -------------------------------------------------------------------------


def test_run_stops_cleanly_on_one_sigint_with_exit_0(tmp_path, command):
    config, _, _ = write_config(tmp_path)
    run = command(["run", "-c", str(config)])
    run.wait_stdout("subscribe_endpoint=")
    run.interrupt()
    code, took = run.wait(15)
    assert code == _exit.OK, run.stderr
    assert "kintsugi run: stopped" in run.stdout and "cut short" not in run.stdout
    assert took < load_config(config).daemon.shutdown_deadline_s + 2.0


def test_sigterm_stops_the_daemon_cleanly(tmp_path):
    config, _, _ = write_config(tmp_path)
    daemon = DaemonProcess(config)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=15) == 0
    assert "stopped" in daemon.stdout_path.read_text()


def test_run_a_second_sigint_forces_exit_130_while_shutdown_hangs(tmp_path, command):
    config, _, _ = write_config(tmp_path)
    run = command(["run", "-c", str(config)], hang_on_stop=True)
    run.wait_stdout("subscribe_endpoint=")
    run.interrupt()
    run.wait_stderr("stopping", 10)  # the clean stop began, and never ends
    time.sleep(0.3)
    assert run.proc.poll() is None
    run.interrupt()
    code, took = run.wait(10)
    assert code == FORCED_EXIT_STATUS == _exit.INTERRUPTED
    assert took < PROMPT_S
    assert "forced exit" in run.stderr
    assert "kintsugi run: stopped" not in run.stdout


# -- kintsugi replay ----------------------------------------------------------------------


def _replay_args(session: Path) -> list[str]:
    # -v logs "daemon: running" once the replay's daemon has started; a quarter speed
    # keeps the ~6 s session playing for ~24 s, long after the signal.
    pub, sub = free_tcp_port(), free_tcp_port()
    return [
        "-v", "replay", str(session), "--speed", "0.25", "--no-progress",
        "--publish-endpoint", f"tcp://127.0.0.1:{pub}",
        "--subscribe-endpoint", f"tcp://127.0.0.1:{sub}",
    ]


def test_replay_stops_cleanly_on_one_sigint_with_exit_130(session, command):
    replay = command(_replay_args(session))
    replay.wait_stderr("daemon: running")
    time.sleep(1.0)
    replay.interrupt()
    code, took = replay.wait(15)
    # Interrupted before the file's end: the documented 130, after a clean stop that
    # still prints what was replayed.
    assert code == _exit.INTERRUPTED, replay.stderr
    assert "kintsugi replay: " in replay.stdout and " samples in " in replay.stdout
    assert "forced exit" not in replay.stderr
    assert took < 5.0 + 2.0  # the shutdown deadline plus slack


def test_replay_a_second_sigint_forces_exit_130_while_shutdown_hangs(session, command):
    replay = command(_replay_args(session), hang_on_stop=True)
    replay.wait_stderr("daemon: running")
    replay.interrupt()
    replay.wait_stderr("stopping", 10)
    time.sleep(0.3)
    assert replay.proc.poll() is None
    replay.interrupt()
    code, took = replay.wait(10)
    assert code == FORCED_EXIT_STATUS
    assert took < PROMPT_S
    assert "forced exit" in replay.stderr
    assert "kintsugi replay: " not in replay.stdout  # forced: no summary


# -- StopSignals and Daemon.run_until_stopped in-process -----------------------------------

_IGNORES_STOP = """
import time
from runtime._signals import StopSignals
with StopSignals("test"):
    print("ready", flush=True)
    while True:  # a shutdown that never finishes: only a forced exit ends this
        time.sleep(0.05)
"""


def test_stop_signals_a_second_sigint_forces_exit_130():
    proc = subprocess.Popen([sys.executable, "-c", _IGNORES_STOP], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)  # asks for a clean stop, which never comes
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)  # SIGTERM again only asks again
        time.sleep(0.3)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


def test_stop_signals_set_the_flag_and_restore_the_handlers():
    before = signal.getsignal(signal.SIGINT)
    with StopSignals("test") as signals:
        assert signal.getsignal(signal.SIGINT) != before
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.stop.wait(5)
    assert signals.received == "SIGTERM"
    assert signal.getsignal(signal.SIGINT) == before


def test_stop_signals_outside_the_main_thread_install_nothing():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def enter() -> None:
        with StopSignals("worker") as signals:
            seen.append(signal.getsignal(signal.SIGINT))
            signals.stop.set()

    worker = threading.Thread(target=enter)
    worker.start()
    worker.join(5)
    assert seen == [before]


def _fast_config(tmp_path: Path):
    path, _, _ = write_config(tmp_path, "\n[daemon]\nstatus_interval_s = 0.2\n")
    return load_config(path)


def test_run_until_stopped_builds_each_stage_once_and_ends_after_duration(tmp_path, monkeypatch):
    built: list[DriverStage] = []
    original_init = DriverStage.__init__

    def counting_init(self, *args, **kwargs) -> None:
        built.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(DriverStage, "__init__", counting_init)
    calls = []
    default = driver_source()

    def source(config):
        calls.append(config)
        return default(config)

    config = _fast_config(tmp_path)
    subscriber = BusSubscriber(config.bus.subscribe_endpoint, ("status.daemon",))
    statuses: list[DaemonStatus] = []

    def on_started(daemon: Daemon) -> None:
        confirm_subscribed(subscriber)
        end = time.monotonic() + 10
        while not statuses and time.monotonic() < end:
            message = subscriber.recv(timeout_s=0.1)
            if message is not None and isinstance(message.data, DaemonStatus):
                statuses.append(message.data)

    before = signal.getsignal(signal.SIGINT)
    try:
        daemon = Daemon(config, source=source)
        started = time.monotonic()
        result = daemon.run_until_stopped(1.5, on_started=on_started)
        took = time.monotonic() - started
    finally:
        subscriber.close()
    assert result.reason == "duration" and result.signal is None and result.cut_short == []
    assert 1.5 <= took < 1.5 + 10.0
    assert len(calls) == 1 and len(built) == 1  # the driver stage was built once
    assert signal.getsignal(signal.SIGINT) == before
    # status.daemon is a DaemonStatus: each stage's StageHealth and the broker's counters.
    status = statuses[0]
    assert set(status.stages) == {"controller", "features", "driver"}
    assert all(isinstance(h, StageHealth) and h.alive for h in status.stages.values())
    assert status.publish_endpoint == config.bus.publish_endpoint
    assert {"forwarded", "rejected", "subscriptions"} <= set(status.broker)
    assert daemon.stop() == []  # safe to call again


def test_run_until_stopped_ends_when_until_says_so(tmp_path):
    config = _fast_config(tmp_path)
    ticks = []

    def until() -> bool:
        ticks.append(time.monotonic())
        return len(ticks) >= 3

    result = Daemon(config).run_until_stopped(until=until, poll_s=0.05)
    assert result.reason == "done" and len(ticks) == 3


def test_a_source_that_cannot_open_is_a_startup_error_before_the_bus_binds(tmp_path):
    config = _fast_config(tmp_path)

    def absent(_config):
        raise DeviceNotFoundError("no cyton board answered at serial port '/dev/absent'")

    with pytest.raises(StartupError, match="/dev/absent"):
        Daemon(config, source=absent).start()
    # Nothing was bound: the port is free.
    port = int(config.bus.publish_endpoint.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_bus_that_cannot_bind_releases_the_opened_source(tmp_path):
    config = _fast_config(tmp_path)
    closed = []

    class Source:
        def __call__(self, context) -> None:
            raise AssertionError("the source must not run")

        def close(self) -> None:
            closed.append(True)

    port = int(config.bus.publish_endpoint.rsplit(":", 1)[1])
    with socket.socket() as taken:  # another process holds the publish port
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(StartupError, match="cannot bind the bus"):
            Daemon(config, source=lambda _config: Source()).start()
    assert closed == [True]


def test_a_stage_that_cannot_be_built_releases_the_bus_and_the_source(tmp_path):
    """A bad saved baseline fails while the stages are built, after the broker bound:
    the start is a StartupError naming the file, the source is closed and both ports are
    free again for the next daemon."""
    from runtime.config import with_overrides

    missing = tmp_path / "absent-baseline.json"
    config = with_overrides(_fast_config(tmp_path), "session", baseline=str(missing))
    closed = []

    class Source:
        def __call__(self, context) -> None:
            raise AssertionError("the source must not run")

        def close(self) -> None:
            closed.append(True)

    with pytest.raises(StartupError, match="absent-baseline.json"):
        Daemon(config, source=lambda _config: Source()).start()
    assert closed == [True]
    for endpoint in (config.bus.publish_endpoint, config.bus.subscribe_endpoint):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", int(endpoint.rsplit(":", 1)[1])))
