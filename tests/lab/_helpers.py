"""Shared by the lab tests: a fast synthetic config, and an in-process daemon with extra stages."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime.config import Config, load_config
from runtime.daemon import Daemon
from tests.daemon._helpers import write_config

DATA = Path(__file__).parent / "data"


def fast_config(tmp_path: Path, extra: str = "") -> tuple[Path, Config]:
    """A fast-calibrating synthetic config on free loopback ports: (path, loaded config)."""
    path, _pub, _sub = write_config(tmp_path, extra)
    return path, load_config(path)


@contextmanager
def running_daemon(
    config: Config, stages: Mapping[str, Any] | None = None, *, board_rows: bool = False
) -> Iterator[Daemon]:
    """A started in-process daemon with ``stages`` (recorder, LSL bridge), stopped after."""
    daemon = Daemon(config, extra_stages=dict(stages or {}), board_rows=board_rows)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` every 50 ms; its first truthy value, or AssertionError naming ``what``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def line_count(path: Path) -> int:
    """Complete lines in a file (0 if it does not exist yet)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0
