"""The live monitor: attach to a running daemon's bus and show it in the terminal (rich).

Per-channel quality and amplitude, attention and stress with validity, control state and
the rule that set it, decisions, markers, drops, latency and device state.
"""

from runtime.monitor._run import collect, run_monitor, snapshot
from runtime.monitor._state import MONITOR_TOPICS, ChannelView, MonitorState
from runtime.monitor._view import render_monitor

__all__ = [
    "MONITOR_TOPICS",
    "ChannelView",
    "MonitorState",
    "collect",
    "render_monitor",
    "run_monitor",
    "snapshot",
]
