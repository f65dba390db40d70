"""The monitor's screen: rich renderables built from a :class:`MonitorState`.

Kept within 100 columns and ~30 rows so it reads over SSH in an ordinary terminal.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rich.columns import Columns
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from runtime.messages import (
    ComponentStatus,
    DaemonStatus,
    DriverStatus,
    Feature,
    FeaturesStatus,
    RecorderStatus,
)
from runtime.monitor._state import MonitorState

_STATE_STYLE = {"streaming": "green", "running": "green", "recording": "green",
                "stalled": "yellow", "restarting": "yellow", "reconnecting": "yellow",
                "lost": "bold red", "stopped": "red", "ended": "cyan"}


def _value(feature: Feature | None) -> Text:
    if feature is None:
        return Text("waiting…", style="dim")
    level = feature.level
    number = "n/a" if level is None else f"{level:.2f}"
    if feature.valid:
        return Text(f"{number}  valid", style="bold green")
    reason = feature.reason or ("calibrating" if not feature.calibrated else "")
    return Text(f"{number}  invalid: {reason}", style="yellow")


def _age(then: float | None, now: float) -> str:
    return "never" if then is None else f"{max(0.0, now - then):.1f} s ago"


#: Most people listed one by one in the features panel (the screen stays ~30 rows).
_PEOPLE_SHOWN = 8


def _features_panel(state: MonitorState) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    if state.people:  # a group session: each person's own levels
        for person in sorted(state.people)[:_PEOPLE_SHOWN]:
            features = state.people[person]
            grid.add_row(f"{person} attention", _value(features.attention))
            grid.add_row(f"{person} stress", _value(features.stress))
        if len(state.people) > _PEOPLE_SHOWN:
            grid.add_row("", Text(f"… and {len(state.people) - _PEOPLE_SHOWN} more people",
                                  style="dim"))
    else:
        grid.add_row("attention", _value(state.attention))
        grid.add_row("stress", _value(state.stress))
    stress = state.stress
    hr = None if stress is None else stress.hr_bpm
    rmssd = None if stress is None else stress.rmssd_ms
    heart = ("HR n/a" if hr is None else f"HR {hr:.0f} bpm") + "  " + (
        "RMSSD n/a" if rmssd is None else f"RMSSD {rmssd:.0f} ms")
    grid.add_row("heart", heart)
    quality = None if state.attention is None else state.attention.quality
    grid.add_row("EEG quality",
                 "n/a" if quality is None else f"{quality:.0%} of channels usable")
    return Panel(grid, title="features", border_style="blue")


def _control_panel(state: MonitorState, now: float) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    c = state.control
    if c is None:
        grid.add_row("control", Text("waiting…", style="dim"))
    else:
        style = "bold yellow" if c.mode == "safe" else "bold green"
        mode_text = Text(c.mode, style=style)
        left = c.expires_at - now
        mode_text.append(f"  (expires in {left:.1f} s)" if left > 0 else
                         f"  (expired {-left:.1f} s ago: clients are safe)",
                         style="dim" if left > 0 else "red")
        grid.add_row("mode", mode_text)
        grid.add_row("intensity", f"{c.intensity:.3f}")
        grid.add_row("gentle", Text("ON", style="yellow") if c.gentle else "off")
        if c.trigger_person is not None:
            grid.add_row("triggered by", Text(c.trigger_person, style="bold"))
        grid.add_row("rule", Text(c.rule, overflow="fold"))
    return Panel(grid, title="control", border_style="green")


def _channels_panel(state: MonitorState) -> Panel:
    channels = state.channels()
    if not channels:
        return Panel(Text("waiting for raw.eeg…", style="dim"), title="channels")
    cells = []
    for ch in channels:
        style = "green" if ch.state.startswith("ok") else ("dim" if ch.state == "?" else "red")
        rms = "   –  " if ch.rms_uv is None else f"{ch.rms_uv:6.1f}"
        cells.append(Text.assemble((f"{ch.name:<5}", "bold"), f"{rms} µV ",
                                   (f"{ch.state:<10}", style)))
    return Panel(Columns(cells, padding=(0, 2)), title="channels (RMS over 2 s, quality)",
                 border_style="magenta")


def _status_of(state: MonitorState, name: str, kind: type[ComponentStatus]) -> Any:
    """The latest status of component ``name`` if it is of type ``kind``, else None."""
    status = state.components.get(name)
    return status if isinstance(status, kind) else None


def _drivers(state: MonitorState) -> list[DriverStatus]:
    """Every driver's latest status (one per source, each person's apart), by name."""
    return [status for _, status in sorted(state.components.items())
            if isinstance(status, DriverStatus)]


def _pipeline_panel(state: MonitorState, now: float) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    drivers = _drivers(state)
    if len(drivers) > 1 or any(d.person is not None for d in drivers):
        # several sources, or a named person's: each person's device on its own line
        for d in drivers[:_PEOPLE_SHOWN]:
            samples_text = ", ".join(f"{k} {v}" for k, v in d.samples.items()) or "no samples"
            grid.add_row(f"device {d.person or d.component}",
                         Text.assemble((d.state, _STATE_STYLE.get(d.state, "white")),
                                       f"  board {d.board or '?'}  {samples_text}"))
        if len(drivers) > _PEOPLE_SHOWN:
            grid.add_row("", Text(f"… and {len(drivers) - _PEOPLE_SHOWN} more devices",
                                  style="dim"))
    else:
        driver = drivers[0] if drivers else None
        dstate = "?" if driver is None else driver.state
        board = "?" if driver is None or driver.board is None else driver.board
        grid.add_row("device", Text.assemble((dstate, _STATE_STYLE.get(dstate, "white")),
                                             f"  board {board}"))
        samples = {} if driver is None else driver.samples
        grid.add_row("samples", ", ".join(f"{k} {v}" for k, v in samples.items()) or "n/a")
    dropped_total = sum(sum(d.dropped.values()) for d in drivers)
    features: FeaturesStatus | None = _status_of(state, "features", FeaturesStatus)
    recorder: RecorderStatus | None = _status_of(state, "recorder", RecorderStatus)
    drops = (f"board {dropped_total}  "
             f"gaps {0 if features is None else features.gap_samples}  bus {state.bus_dropped}")
    if recorder is not None:
        drops += f"  recorder {sum(recorder.lost_samples.values())}"
    grid.add_row("drops", drops)
    latency = state.latency_summary()
    grid.add_row("latency", "n/a" if latency is None else
                 f"sample→control median {latency[0]:.0f} ms, p95 {latency[1]:.0f} ms")
    daemon: DaemonStatus | None = _status_of(state, "daemon", DaemonStatus)
    stages = {} if daemon is None else daemon.stages
    parts = []
    for name in sorted(set(stages) | (set(state.components) - {"daemon", "broker"})):
        status = state.components.get(name)
        health = stages.get(name)
        if status is not None:
            st = status.state
        else:
            st = "alive" if health is not None and health.alive else "?"
        restarts = 0 if health is None else health.restarts
        parts.append(Text.assemble((name, "bold"), " ", (st, _STATE_STYLE.get(st, "white")),
                                   (f" ×{restarts} restarts" if restarts else "", "yellow")))
    grid.add_row("stages", Text("  ").join(parts) if parts else Text("n/a"))
    if recorder is not None:
        grid.add_row("recording", recorder.directory or "")
    return Panel(grid, title="device and pipeline", border_style="cyan")


def _events_panel(state: MonitorState) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for published, d in state.decisions:
        when = datetime.fromtimestamp(published).strftime("%H:%M:%S")
        who = "" if d.trigger_person is None else f" [{d.trigger_person}]"
        table.add_row(when, f"decision{who}: {d.option} ({d.resolver}) {d.explanation[:60]}")
    for m in state.markers:
        when = datetime.fromtimestamp(m.time).strftime("%H:%M:%S")
        table.add_row(when, f"marker: {m.label} ({m.value})")
    if not state.decisions and not state.markers:
        table.add_row("", Text("no decisions or markers yet", style="dim"))
    return Panel(table, title="decisions and markers", border_style="yellow")


def render_monitor(state: MonitorState, now: float | None = None) -> Group:
    """The whole screen for ``state``."""
    now = time.time() if now is None else now
    daemon = state.components.get("daemon")
    if state.last_message_at is None or daemon is None:
        header = Text(f"kintsugi monitor — waiting for a daemon at {state.endpoint} …",
                      style="bold yellow")
    elif now - state.last_message_at > 3.0:
        header = Text(f"kintsugi monitor — {state.endpoint} — no messages for "
                      f"{now - state.last_message_at:.0f} s: has the daemon stopped?",
                      style="bold red")
    else:
        header = Text.assemble(("kintsugi monitor", "bold"), f" — {state.endpoint} — daemon ",
                               (daemon.state, "green"),
                               f" — last message {_age(state.last_message_at, now)}")
    top = Table.grid(expand=True)
    top.add_column(ratio=1)
    top.add_column(ratio=1)
    top.add_row(_features_panel(state), _control_panel(state, now))
    return Group(header, top, _channels_panel(state), _pipeline_panel(state, now),
                 _events_panel(state))
