"""A recorded session as time series: what the report plots and summarises.

Times are seconds since the session started (``session.json`` ``started_at``), on the wall
clock of the messages' publication. Every value is read from the records' typed bodies
(:mod:`runtime.messages`); the session reader has already left out records that fail
validation (``RecordedSession.skipped``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.messages import (
    AttentionFeature,
    ComponentStatus,
    Control,
    Decision,
    DriverStatus,
    Marker,
    RecorderStatus,
    StressFeature,
)
from runtime.recorder import RecordedSession, SessionRecord


@dataclass
class Series:
    """A time series with a validity flag per point."""

    t_s: np.ndarray
    value: np.ndarray
    valid: np.ndarray


@dataclass
class SessionTimeline:
    """Everything the report shows, as arrays and lists."""

    duration_s: float
    attention: Series
    stress: Series
    intensity: Series
    gentle: Series
    modes: list[tuple[float, str]] = field(default_factory=list)
    quality_t_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    quality_channels: list[str] = field(default_factory=list)
    quality_bad: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    markers: list[tuple[float, str]] = field(default_factory=list)
    decisions: list[tuple[float, Decision]] = field(default_factory=list)
    device_states: list[tuple[float, str]] = field(default_factory=list)
    drops: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, str, str]] = field(default_factory=list)


def _series(points: list[tuple[float, float | None, bool]]) -> Series:
    if not points:
        return Series(np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
    t, v, ok = zip(*points, strict=True)
    values = np.array([np.nan if x is None else float(x) for x in v])
    return Series(np.array(t, dtype=float), values, np.array(ok, dtype=bool))


def build_timeline(session: RecordedSession) -> SessionTimeline:
    """The session's features, control, decisions, markers and device events over time."""
    meta = session.metadata
    t0 = float(meta.get("started_at") or 0.0)
    times = [
        r.publish_time
        for group in (session.features, session.control, session.status)
        for r in group
        if r.publish_time is not None
    ]
    if not t0:
        t0 = min(times, default=0.0)
    end = float(meta.get("ended_at") or max(times, default=t0))

    def rel(record: SessionRecord) -> float:
        return (record.publish_time or t0) - t0

    attention, stress = [], []
    quality_t: list[float] = []
    quality_rows: list[dict[str, str]] = []
    for record in session.features:
        feature = record.data
        if isinstance(feature, AttentionFeature):
            ok = feature.valid and feature.calibrated
            attention.append((rel(record), feature.attention, ok))
            quality_t.append(rel(record))
            quality_rows.append(dict(feature.channels_bad))
        elif isinstance(feature, StressFeature):
            stress.append((rel(record), feature.stress, feature.valid and feature.calibrated))
    intensity, gentle, modes = [], [], []
    last_mode = None
    for record in session.control:
        control = record.data
        if not isinstance(control, Control):
            continue
        intensity.append((rel(record), control.intensity, not control.safe))
        gentle.append((rel(record), 1.0 if control.gentle else 0.0, True))
        if control.mode != last_mode:
            modes.append((rel(record), control.mode))
            last_mode = control.mode
    names = _channel_names(session)
    seen = {name for row in quality_rows for name in row}
    names += sorted(seen - set(names))
    bad = np.array([[name in row for row in quality_rows] for name in names], dtype=bool)
    timeline = SessionTimeline(
        duration_s=max(0.0, end - t0),
        attention=_series(attention),
        stress=_series(stress),
        intensity=_series(intensity),
        gentle=_series(gentle),
        modes=modes,
        quality_t_s=np.array(quality_t),
        quality_channels=names,
        quality_bad=bad.reshape(len(names), len(quality_rows)),
        markers=[
            (r.data.time - t0, r.data.label) for r in session.markers
            if isinstance(r.data, Marker)
        ],
        decisions=[
            (rel(r), r.data) for r in session.decisions if isinstance(r.data, Decision)
        ],
    )
    _device_events(session, timeline, rel)
    return timeline


def _channel_names(session: RecordedSession) -> list[str]:
    try:
        layout = session.layout("default")
    except Exception:
        return []
    ecg = set(session.metadata.get("config", {}).get("source", {}).get("ecg_channels", []))
    return [str(n) for i, n in enumerate(layout.get("eeg_names", [])) if i not in ecg]


def _event_detail(status: ComponentStatus) -> str:
    """What an event carries beyond who and which state: the failure, and the fields of its
    own (a recorder event's preset and samples), as text for the report's table."""
    detail: dict[str, Any] = {}
    if status.error is not None:
        detail["error"] = status.error
    if status.retry_in_s is not None:
        detail["retry_in_s"] = status.retry_in_s
    detail.update(status.extra)
    return str(detail)[:200]


def _device_events(
    session: RecordedSession, timeline: SessionTimeline, rel: Callable[[SessionRecord], float]
) -> None:
    last_state: str | None = None
    last_dropped = 0
    for record in session.status:
        status = record.data
        if not isinstance(status, ComponentStatus):
            continue
        t = rel(record)
        if isinstance(status, DriverStatus):
            if status.state != last_state:
                timeline.device_states.append((t, status.state))
                last_state = status.state
            dropped = sum(status.dropped.values())
            if dropped > last_dropped:
                timeline.drops.append((t, dropped - last_dropped))
            last_dropped = max(last_dropped, dropped)
        event = status.event if isinstance(status, RecorderStatus) else None
        if event or status.state == "restarting":
            what = event or "restarting"
            timeline.events.append((t, f"{status.component}: {what}", _event_detail(status)))
