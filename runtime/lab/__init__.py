"""Lab sessions: signal check, markers, replay, export and report of recorded sessions.

See docs/lab-sessions.md for the commands (``kintsugi check``, ``mark``, ``replay``,
``export``, ``report``) and the session directory they work on.
"""

from runtime.lab._bids import BidsExport, BidsOptions, export_bids
from runtime.lab._check import (
    FIXES,
    ChannelCheck,
    CheckSettings,
    SignalCheck,
    assess_channels,
    check_signal,
)
from runtime.lab._export import EXPORT_FORMATS, export_session
from runtime.lab._impedance import (
    impedance_from_amplitude_ohm,
    lead_off_amplitude_uv,
    measure_impedance,
    supports_impedance,
)
from runtime.lab._markers import MARKER_TOPIC, MarkerEvent, mark, marker_value
from runtime.lab._replay import (
    ReplayPlan,
    ReplayResult,
    check_speed,
    prepare_replay,
    replay_session,
)
from runtime.lab._report import render_report, write_report
from runtime.lab._signals import ExportedSignals, session_signals
from runtime.lab._timeline import SessionTimeline, build_timeline
from runtime.lab._verify import Comparison, compare_sessions

__all__ = [
    "EXPORT_FORMATS",
    "BidsExport",
    "BidsOptions",
    "FIXES",
    "MARKER_TOPIC",
    "ChannelCheck",
    "Comparison",
    "CheckSettings",
    "ExportedSignals",
    "MarkerEvent",
    "ReplayPlan",
    "ReplayResult",
    "SessionTimeline",
    "SignalCheck",
    "assess_channels",
    "build_timeline",
    "check_speed",
    "check_signal",
    "compare_sessions",
    "export_bids",
    "export_session",
    "impedance_from_amplitude_ohm",
    "lead_off_amplitude_uv",
    "mark",
    "marker_value",
    "measure_impedance",
    "prepare_replay",
    "render_report",
    "replay_session",
    "session_signals",
    "supports_impedance",
    "write_report",
]
