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

from runtime.monitor._state import MonitorState

_STATE_STYLE = {"streaming": "green", "running": "green", "recording": "green",
                "stalled": "yellow", "restarting": "yellow", "reconnecting": "yellow",
                "lost": "bold red", "stopped": "red", "ended": "cyan"}


def _value(body: dict[str, Any] | None, key: str) -> Text:
    if body is None:
        return Text("waiting…", style="dim")
    value = body.get(key)
    number = f"{value:.2f}" if isinstance(value, int | float) else "n/a"
    if body.get("valid"):
        return Text(f"{number}  valid", style="bold green")
    reason = body.get("reason") or ("calibrating" if not body.get("calibrated", True) else "")
    return Text(f"{number}  invalid: {reason}", style="yellow")


def _age(then: float | None, now: float) -> str:
    return "never" if then is None else f"{max(0.0, now - then):.1f} s ago"


def _features_panel(state: MonitorState) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("attention", _value(state.attention, "attention"))
    grid.add_row("stress", _value(state.stress, "stress"))
    stress = state.stress or {}
    hr, rmssd = stress.get("hr_bpm"), stress.get("rmssd_ms")
    heart = (f"HR {hr:.0f} bpm" if isinstance(hr, int | float) else "HR n/a") + "  " + (
        f"RMSSD {rmssd:.0f} ms" if isinstance(rmssd, int | float) else "RMSSD n/a")
    grid.add_row("heart", heart)
    quality = (state.attention or {}).get("quality")
    grid.add_row("EEG quality",
                 f"{quality:.0%} of channels usable" if isinstance(quality, int | float)
                 else "n/a")
    return Panel(grid, title="features", border_style="blue")


def _control_panel(state: MonitorState, now: float) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    c = state.control
    if c is None:
        grid.add_row("control", Text("waiting…", style="dim"))
    else:
        mode = str(c.get("mode", "?"))
        style = "bold yellow" if mode == "safe" else "bold green"
        mode_text = Text(mode, style=style)
        expires = c.get("expires_at")
        if isinstance(expires, int | float):
            left = expires - now
            mode_text.append(f"  (expires in {left:.1f} s)" if left > 0 else
                             f"  (expired {-left:.1f} s ago: clients are safe)",
                             style="dim" if left > 0 else "red")
        grid.add_row("mode", mode_text)
        intensity = c.get("intensity")
        grid.add_row("intensity", f"{intensity:.3f}" if isinstance(intensity, int | float)
                     else "n/a")
        grid.add_row("gentle", Text("ON", style="yellow") if c.get("gentle") else "off")
        grid.add_row("rule", Text(str(c.get("rule", "")), overflow="fold"))
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


def _pipeline_panel(state: MonitorState, now: float) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    driver = state.components.get("driver", {})
    dstate = str(driver.get("state", "?"))
    board = driver.get("board", "?")
    grid.add_row("device", Text.assemble((dstate, _STATE_STYLE.get(dstate, "white")),
                                         f"  board {board}"))
    samples = driver.get("samples") or {}
    dropped = driver.get("dropped") or {}
    grid.add_row("samples", ", ".join(f"{k} {v}" for k, v in samples.items()) or "n/a")
    features = state.components.get("features", {})
    recorder = state.components.get("recorder", {})
    drops = (f"board {sum(int(v) for v in dropped.values())}  "
             f"gaps {features.get('gap_samples', 0)}  bus {state.bus_dropped}")
    if recorder:
        drops += f"  recorder {sum(int(v) for v in (recorder.get('lost_samples') or {}).values())}"
    grid.add_row("drops", drops)
    latency = state.latency_summary()
    grid.add_row("latency", "n/a" if latency is None else
                 f"sample→control median {latency[0]:.0f} ms, p95 {latency[1]:.0f} ms")
    stages = state.components.get("daemon", {}).get("stages", {})
    parts = []
    for name in sorted(set(stages) | (set(state.components) - {"daemon", "broker"})):
        body = state.components.get(name, {})
        st = str(body.get("state", "alive" if stages.get(name, {}).get("alive") else "?"))
        restarts = stages.get(name, {}).get("restarts", 0)
        parts.append(Text.assemble((name, "bold"), " ", (st, _STATE_STYLE.get(st, "white")),
                                   (f" ×{restarts} restarts" if restarts else "", "yellow")))
    grid.add_row("stages", Text("  ").join(parts) if parts else Text("n/a"))
    if recorder:
        grid.add_row("recording", str(recorder.get("directory", "")))
    return Panel(grid, title="device and pipeline", border_style="cyan")


def _events_panel(state: MonitorState) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for d in state.decisions:
        when = datetime.fromtimestamp(float(d["time"])).strftime("%H:%M:%S")
        table.add_row(when, f"decision: {d.get('option', '?')} "
                            f"({d.get('resolver', '')}) {str(d.get('explanation', ''))[:60]}")
    for m in state.markers:
        when = datetime.fromtimestamp(float(m["time"])).strftime("%H:%M:%S")
        table.add_row(when, f"marker: {m.get('label', '')} ({m.get('value', '')})")
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
                               (str(daemon.get("state", "?")), "green"),
                               f" — last message {_age(state.last_message_at, now)}")
    top = Table.grid(expand=True)
    top.add_column(ratio=1)
    top.add_column(ratio=1)
    top.add_row(_features_panel(state), _control_panel(state, now))
    return Group(header, top, _channels_panel(state), _pipeline_panel(state, now),
                 _events_panel(state))
