"""``kintsugi report``: one self-contained HTML page about a recorded session.

The page holds the figure (PNG, base64-embedded: no external files or network), a summary
(board, duration, samples, drops, time in each control mode), and tables of markers,
decisions, device and stage events, and the configuration.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import ConfigError
from runtime.lab._plots import render_figure
from runtime.lab._timeline import SessionTimeline, build_timeline
from runtime.recorder import RecordedSession, load_session

logger = logging.getLogger("runtime.lab")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1250px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f5f5f5}img{max-width:100%}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.8em}.muted{color:#777}
"""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _mode_shares(timeline: SessionTimeline) -> list[list[Any]]:
    spans: dict[str, float] = {}
    modes = timeline.modes
    for i, (t, mode) in enumerate(modes):
        end = modes[i + 1][0] if i + 1 < len(modes) else timeline.duration_s
        spans[mode] = spans.get(mode, 0.0) + max(0.0, end - t)
    total = sum(spans.values()) or 1.0
    return [[m, f"{s:.1f} s", f"{100 * s / total:.0f} %"] for m, s in sorted(spans.items())]


def _summary_rows(session: RecordedSession, timeline: SessionTimeline) -> list[list[Any]]:
    meta = session.metadata
    started = meta.get("started_at")
    when = (
        datetime.fromtimestamp(started, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if started else "unknown"
    )
    samples = {p: int(d.shape[1]) for p, d in session.raw.items()}
    att = timeline.attention
    valid_share = f"{100 * float(np.mean(att.valid)):.0f} %" if att.valid.size else "n/a"
    return [
        ["board", f"{meta.get('board')} (rows of {meta.get('master_board')})"],
        ["started", when],
        ["duration", f"{timeline.duration_s:.1f} s"],
        ["complete", "yes" if meta.get("complete") else "no (the recorder did not stop cleanly)"],
        ["samples", ", ".join(f"{p}: {n}" for p, n in samples.items()) or "none"],
        ["dropped (board counter)", sum(n for _, n in timeline.drops)],
        ["lost on the bus (recorder)", meta.get("lost_samples", {}) or 0],
        ["attention estimates valid", valid_share],
        ["markers", len(timeline.markers)],
        ["decisions", len(timeline.decisions)],
        ["records skipped (not valid)", _skipped_text(session)],
        ["versions", ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())],
    ]


def _skipped_text(session: RecordedSession) -> str:
    """How many recorded lines the reader left out, per file (0 for a clean session)."""
    if not session.skipped:
        return "0"
    per_file: dict[str, int] = {}
    for skipped in session.skipped:
        per_file[skipped.path.name] = per_file.get(skipped.path.name, 0) + 1
    listed = ", ".join(f"{name}: {n}" for name, n in sorted(per_file.items()))
    return f"{len(session.skipped)} ({listed}; see the log for lines and reasons)"


def render_report(session: RecordedSession) -> str:
    """The report's HTML text."""
    timeline = build_timeline(session)
    name = session.directory.name
    png = render_figure(timeline, f"session {name}")
    image = base64.b64encode(png).decode("ascii")
    decisions = [
        [f"{t:.1f}", d.option, json.dumps(list(d.probabilities))[:120], d.resolver,
         d.explanation]
        for t, d in timeline.decisions
    ]
    events = [[f"{t:.1f}", what, detail] for t, what, detail in timeline.events]
    events += [[f"{t:.1f}", "device", state] for t, state in timeline.device_states]
    events.sort(key=lambda row: float(row[0]))
    config = json.dumps(session.metadata.get("config", {}), indent=2, default=str)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>kintsugi session {html.escape(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Session {html.escape(name)}</h1>",
        _table(["", ""], _summary_rows(session, timeline)),
        "<h2>Over time</h2>",
        "<p class='muted'>Attention and stress (dotted and grey: invalid or calibrating), "
        "control intensity (amber: gentle mode; ▼: a decision), channels excluded from "
        "attention (red), device state and dropped packets. Dashed purple lines: markers.</p>",
        f"<img alt='session timeline' src='data:image/png;base64,{image}'>",
        "<h2>Time in each control mode</h2>",
        _table(["mode", "time", "share"], _mode_shares(timeline)),
        "<h2>Markers</h2>",
        _table(["t (s)", "label"], [[f"{t:.1f}", label] for t, label in timeline.markers]),
        "<h2>Decisions</h2>",
        _table(["t (s)", "option", "probabilities", "resolver", "explanation"], decisions),
        "<h2>Device and stage events</h2>",
        _table(["t (s)", "what", "detail"], events),
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(config)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(directory: Path | str, path: Path | str) -> Path:
    """Write the HTML report of the session in ``directory`` to ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"-o {str(path)!r}: the directory {str(path.parent)!r} does not exist")
    session = load_session(directory)
    path.write_text(render_report(session), encoding="utf-8")
    logger.info("report: %s → %s", directory, path)
    return path
