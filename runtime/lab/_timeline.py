"""A recorded session as time series: what the report plots and summarises.

Times are seconds since the session started (``session.json`` ``started_at``), on the wall
clock of the messages' publication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.recorder import RecordedSession


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
    decisions: list[dict[str, Any]] = field(default_factory=list)
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
        float(r["publish_time"])
        for group in (session.features, session.control, session.status)
        for r in group
        if isinstance(r.get("publish_time"), int | float)
    ]
    if not t0:
        t0 = min(times, default=0.0)
    end = float(meta.get("ended_at") or max(times, default=t0))

    def rel(record: dict[str, Any]) -> float:
        return float(record.get("publish_time") or t0) - t0

    attention, stress = [], []
    quality_t: list[float] = []
    quality_rows: list[dict[str, Any]] = []
    for record in session.features:
        body = record.get("body", {})
        kind = body.get("kind")
        ok = bool(body.get("valid")) and bool(body.get("calibrated", True))
        if kind == "attention":
            attention.append((rel(record), body.get("attention"), ok))
            quality_t.append(rel(record))
            quality_rows.append(dict(body.get("channels_bad") or {}))
        elif kind == "stress":
            stress.append((rel(record), body.get("stress"), ok))
    intensity, gentle, modes = [], [], []
    last_mode = None
    for record in session.control:
        body = record.get("body", {})
        intensity.append((rel(record), body.get("intensity"), not body.get("safe", False)))
        gentle.append((rel(record), 1.0 if body.get("gentle") else 0.0, True))
        mode = str(body.get("mode", ""))
        if mode != last_mode:
            modes.append((rel(record), mode))
            last_mode = mode
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
            (float(r["body"].get("time", r.get("publish_time", t0))) - t0,
             str(r["body"].get("label", "")))
            for r in session.markers
        ],
        decisions=[{"t_s": rel(r), **r.get("body", {})} for r in session.decisions],
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


def _device_events(session: RecordedSession, timeline: SessionTimeline, rel: Any) -> None:
    last_state: str | None = None
    last_dropped = 0
    for record in session.status:
        body = record.get("body", {})
        component = str(body.get("component", record.get("topic", "")))
        t = rel(record)
        if component == "driver":
            state = str(body.get("state", ""))
            if state != last_state:
                timeline.device_states.append((t, state))
                last_state = state
            dropped = sum(int(v) for v in (body.get("dropped") or {}).values())
            if dropped > last_dropped:
                timeline.drops.append((t, dropped - last_dropped))
            last_dropped = max(last_dropped, dropped)
        if body.get("event") or body.get("state") == "restarting":
            what = str(body.get("event") or "restarting")
            detail = {k: v for k, v in body.items() if k not in ("component", "state", "event")}
            timeline.events.append((t, f"{component}: {what}", str(detail)[:200]))
