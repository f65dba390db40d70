"""The report's figure: attention, stress, control, signal quality and device state over time."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from runtime.lab._timeline import Series, SessionTimeline

_STATE_COLOURS = {"streaming": "#2e7d32", "stalled": "#f9a825", "lost": "#c62828",
                  "reconnecting": "#ef6c00", "ended": "#757575", "stopped": "#757575"}


def _plot_series(ax: Any, series: Series, colour: str, label: str) -> None:
    if series.t_s.size == 0:
        ax.text(0.5, 0.5, f"no {label} recorded", transform=ax.transAxes, ha="center",
                va="center", color="#888888")
        return
    good = np.where(series.valid, series.value, np.nan)
    ax.plot(series.t_s, good, color=colour, lw=1.4, label=f"{label} (valid)")
    bad = np.where(~series.valid, series.value, np.nan)
    if np.isfinite(bad).any():
        ax.plot(series.t_s, bad, color=colour, lw=1.0, alpha=0.35, ls=":",
                label=f"{label} (invalid / calibrating)")
    invalid = ~series.valid
    if invalid.any():
        ax.fill_between(series.t_s, 0, 1, where=invalid, step="post", color="#bbbbbb",
                        alpha=0.25, transform=ax.get_xaxis_transform(), lw=0)


def _markers(axes: Any, timeline: SessionTimeline) -> None:
    for t, label in timeline.markers:
        for ax in axes:
            ax.axvline(t, color="#6a1b9a", lw=1.0, ls="--", alpha=0.8)
        axes[0].annotate(label, (t, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(2, 2), textcoords="offset points", rotation=30,
                         fontsize=8, color="#6a1b9a", va="bottom")


def render_figure(timeline: SessionTimeline, title: str) -> bytes:
    """PNG bytes of the session figure (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 11), dpi=100, layout="constrained")
    axes = fig.subplots(5, 1, sharex=True, height_ratios=[2, 2, 2, 2.2, 0.8])
    ax_att, ax_str, ax_ctl, ax_q, ax_dev = axes
    _plot_series(ax_att, timeline.attention, "#1565c0", "attention")
    ax_att.set_ylim(-0.02, 1.02)
    ax_att.set_ylabel("attention")
    ax_att.axhline(0.8, color="#1565c0", lw=0.6, ls="--", alpha=0.5)
    _plot_series(ax_str, timeline.stress, "#c62828", "stress")
    ax_str.set_ylim(-0.02, 1.02)
    ax_str.set_ylabel("stress")
    for level in (0.3, 0.7):
        ax_str.axhline(level, color="#c62828", lw=0.6, ls="--", alpha=0.5)
    _plot_control(ax_ctl, timeline)
    _plot_quality(ax_q, timeline)
    _plot_device(ax_dev, timeline)
    ax_dev.set_xlabel("time since the session started (s)")
    xmax = max(timeline.duration_s, 1.0)
    ax_dev.set_xlim(0, xmax)
    for ax in (ax_att, ax_str, ax_ctl):
        ax.grid(alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    _markers(axes, timeline)
    fig.suptitle(title, fontsize=12)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _plot_control(ax: Any, timeline: SessionTimeline) -> None:
    series = timeline.intensity
    if series.t_s.size:
        ax.step(series.t_s, series.value, where="post", color="#2e7d32", lw=1.4,
                label="intensity")
        top = float(np.nanmax(series.value)) if np.isfinite(series.value).any() else 1.0
        ax.set_ylim(0, max(1.6, 1.1 * top))
        g = timeline.gentle
        ax.fill_between(g.t_s, 0, 1, where=g.value > 0.5, step="post", color="#ffb300",
                        alpha=0.25, transform=ax.get_xaxis_transform(), lw=0,
                        label="gentle mode")
    else:
        ax.text(0.5, 0.5, "no control recorded", transform=ax.transAxes, ha="center",
                va="center", color="#888888")
    if timeline.decisions:
        t = [t_s for t_s, _ in timeline.decisions]
        y = np.interp(t, series.t_s, series.value) if series.t_s.size else np.ones(len(t))
        ax.plot(t, y, "v", color="#6a1b9a", ms=7, label="decision")
    ax.set_ylabel("intensity")


def _plot_quality(ax: Any, timeline: SessionTimeline) -> None:
    bad = timeline.quality_bad
    if bad.size == 0 or timeline.quality_t_s.size < 2:
        ax.text(0.5, 0.5, "no channel quality recorded", transform=ax.transAxes,
                ha="center", va="center", color="#888888")
        ax.set_ylabel("channels")
        return
    from matplotlib.colors import ListedColormap

    t = timeline.quality_t_s
    edges = np.concatenate((t, [t[-1] + (t[-1] - t[-2])]))
    ax.pcolormesh(edges, np.arange(bad.shape[0] + 1), bad.astype(float),
                  cmap=ListedColormap(["#e8f5e9", "#d84315"]), vmin=0, vmax=1, shading="flat")
    ax.set_yticks(np.arange(bad.shape[0]) + 0.5)
    ax.set_yticklabels(timeline.quality_channels, fontsize=7)
    ax.invert_yaxis()
    ax.set_ylabel("channel quality\n(red: excluded)")


def _plot_device(ax: Any, timeline: SessionTimeline) -> None:
    states = timeline.device_states
    end = max(timeline.duration_s, 1.0)
    for i, (t, state) in enumerate(states):
        t_next = states[i + 1][0] if i + 1 < len(states) else end
        ax.axvspan(t, t_next, color=_STATE_COLOURS.get(state, "#90a4ae"), alpha=0.6, lw=0)
        if t_next - t > end * 0.04:
            ax.text((t + t_next) / 2, 0.5, state, ha="center", va="center", fontsize=8)
    for t, n in timeline.drops:
        ax.plot([t], [0.15], "x", color="black", ms=6)
        ax.annotate(f"{n} dropped", (t, 0.15), xytext=(3, 0), textcoords="offset points",
                    fontsize=7)
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.set_ylabel("device")
