"""The monitor's loop: subscribe, fold messages into the state, redraw a few times a second."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from runtime.monitor._state import MONITOR_TOPICS, MonitorState
from runtime.monitor._view import render_monitor

logger = logging.getLogger("runtime.monitor")


def collect(
    subscriber: Any, state: MonitorState, seconds: float, max_messages: int = 5000
) -> None:
    """Fold messages into ``state`` for up to ``seconds`` (at most ``max_messages``)."""
    deadline = time.monotonic() + seconds
    handled = 0
    while handled < max_messages:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        message = subscriber.recv(timeout_s=remaining)
        if message is None:
            break
        state.observe(message)
        handled += 1
    state.bus_dropped = subscriber.stats.dropped


def run_monitor(
    endpoint: str,
    *,
    keys: Any = None,
    refresh_hz: float = 4.0,
    duration_s: float | None = None,
    screen: bool = True,
    console: Any = None,
    stop: threading.Event | None = None,
) -> MonitorState:
    """Show the live view until ``stop`` is set, ``duration_s`` passes or Ctrl-C."""
    from rich.console import Console
    from rich.live import Live

    from runtime.bus import BusSubscriber

    console = console or Console()
    stop = stop or threading.Event()
    state = MonitorState(endpoint=endpoint)
    subscriber = BusSubscriber(endpoint, MONITOR_TOPICS, curve=keys)
    end = None if duration_s is None else time.monotonic() + duration_s
    try:
        with Live(render_monitor(state), console=console, screen=screen,
                  auto_refresh=False, transient=False) as live:
            while not stop.is_set() and (end is None or time.monotonic() < end):
                collect(subscriber, state, 1.0 / refresh_hz)
                live.update(render_monitor(state), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        subscriber.close()
    return state


def snapshot(endpoint: str, *, keys: Any = None, seconds: float = 3.0) -> MonitorState:
    """Listen for ``seconds`` and return the state (for ``kintsugi monitor --once``)."""
    from runtime.bus import BusSubscriber

    state = MonitorState(endpoint=endpoint)
    subscriber = BusSubscriber(endpoint, MONITOR_TOPICS, curve=keys)
    try:
        collect(subscriber, state, seconds, max_messages=1_000_000)
    finally:
        subscriber.close()
    return state
