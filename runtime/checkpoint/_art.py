"""art-therapy: draw a scan or a repair log as a kintsugi picture (a PNG).

Each tensor (or module, for a repair log) is a glazed ceramic tile whose side grows with
the log of its size; fractures are golden seams through the spot where they were (row and
column of the element, or of the dead row); a tensor whose norm is far from typical gets a
seam right across, with a gilded rim (exploding) or a faded glaze (vanishing). A clean
model is an unbroken set of tiles. In a repair log, older repairs have darker gold.

Matplotlib is driven through the object API on the Agg canvas (no pyplot state), and every
random choice is seeded from the caller's seed, so the same input gives the same PNG.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch

from runtime.checkpoint._ceramic import (
    GOLD,
    GOLD_LIGHT,
    crack_path,
    draw_gold_fill,
    draw_seam,
    draw_tile,
)
from runtime.checkpoint._detect import ScanResult
from runtime.checkpoint._repair_log import RepairLogData, RepairRecord

BACKGROUND = "#1b1a17"
INK = "#efe6d2"
INK_DIM = "#b7ad98"
#: Seams drawn per tile at most; the label gives the full count.
SEAMS_PER_TILE = 9
FIGURE_IN = (12.0, 9.0)
DPI = 130

#: Width / height of the drawing area, which the rows of tiles try to fill.
_ASPECT = (FIGURE_IN[0] * 0.94) / (FIGURE_IN[1] * 0.74)

_LEGEND = {
    "outlier": "outlier weight: a seam through where it was",
    "nonfinite": "NaN / inf: a gold-filled loss",
    "exploding_norm": "exploding norm: a seam across, gilded rim",
    "vanishing_norm": "vanishing norm: a seam across, faded glaze",
    "dead_unit": "dead unit: a seam along its row",
}


@dataclass(frozen=True)
class Seam:
    """One seam: ``u``, ``v`` in [0, 1] are its spot in the tile (None: across the tile)."""

    kind: str
    u: float | None = None
    v: float | None = None
    width: float = 1.0
    age: float = 1.0


@dataclass
class Tile:
    """One tensor or module: its name, size (for the tile's side) and seams."""

    name: str
    size: float
    seams: list[Seam] = field(default_factory=list)
    hidden: int = 0

    @property
    def kinds(self) -> set[str]:
        """Kinds of the seams on this tile."""
        return {s.kind for s in self.seams}


def tiles_from_scan(scan: ScanResult) -> list[Tile]:
    """A tile per scanned tensor, with seams at its fractures (up to SEAMS_PER_TILE)."""
    tiles = []
    for finding in scan.tensors:
        seams: list[Seam] = []
        total = finding.total
        if finding.norm_kind is not None:
            seams.append(Seam(finding.norm_kind, width=1.3))
        for row in _spread(finding.dead_rows, 4):
            seams.append(Seam("dead_unit", 0.5, _row_position(int(row), finding.shape)))
        for flat in _spread(finding.nonfinite, SEAMS_PER_TILE // 2):
            seams.append(Seam("nonfinite", *_position(int(flat), finding.shape), width=1.1))
        budget = max(SEAMS_PER_TILE - len(seams), 0)
        order = np.argsort(-finding.outlier_z, kind="stable")[:budget]
        threshold = scan.config.threshold
        for position in np.sort(order):
            flat = int(finding.outliers[position])
            z = float(finding.outlier_z[position])
            width = 0.8 + 0.25 * math.log10(1.0 + z / threshold)
            seams.append(Seam("outlier", *_position(flat, finding.shape), width=min(width, 2.0)))
        tiles.append(Tile(finding.name, float(finding.numel), seams, total - len(seams)))
    return tiles


def tiles_from_repair_log(log: RepairLogData) -> list[Tile]:
    """A tile per module/tensor named in the log, a seam per record (up to SEAMS_PER_TILE).

    Seams sit at the record's index when the log gives one (placed with its ``shape``,
    or relative to the largest index seen for that tensor), elsewhere at a seeded spot.
    """
    by_name: dict[str, list[RepairRecord]] = {}
    for record in log.records:
        by_name.setdefault(record.tensor, []).append(record)
    steps = [r.step for r in log.records]
    first, last = (min(steps), max(steps)) if steps else (0, 0)
    tiles = []
    for name, records in by_name.items():
        shape = next((r.shape for r in records if r.shape), None)
        size = float(math.prod(shape)) if shape else float(10 * sum(r.count for r in records))
        top = [
            max((r.index[d] for r in records if r.index and len(r.index) > d), default=0)
            for d in range(2)
        ]
        records = sorted(records, key=lambda r: r.step)
        shown = [records[int(i)] for i in _spread(np.arange(len(records)), SEAMS_PER_TILE)]
        seams = []
        for record in shown:
            u, v = _record_position(record, shape, top)
            age = 1.0 if last == first else (record.step - first) / (last - first)
            width = min(0.8 + 0.3 * math.log10(record.count), 2.0)
            seams.append(Seam(record.kind, u, v, width, age))
        tiles.append(Tile(name, size, seams, sum(r.count for r in records) - len(seams)))
    return tiles


def draw_scan(scan: ScanResult, path: str | Path, source_name: str, seed: int) -> Path:
    """Draw a scan: a tile per tensor, seams at its fractures. Returns the PNG path."""
    tiles = tiles_from_scan(scan)
    weights = _human(sum(t.numel for t in scan.tensors))
    if scan.clean:
        subtitle = f"an unbroken bowl: {len(tiles)} tensors, {weights} weights, no fractures"
    else:
        broken = sum(1 for t in scan.tensors if t.total)
        subtitle = (
            f"{scan.count:,} fracture{'s' if scan.count != 1 else ''} in {broken} of "
            f"{len(tiles)} tensors ({weights} weights) · golden seams mark where they were"
        )
    return draw_kintsugi(tiles, path, f"kintsugi · {source_name}", subtitle, seed)


def draw_repair_log(log: RepairLogData, path: str | Path, seed: int) -> Path:
    """Draw a repair log: a tile per module, a seam per repair record. Returns the PNG path."""
    tiles = tiles_from_repair_log(log)
    if not log.records:
        subtitle = "no repairs logged: an unbroken bowl"
    else:
        steps = [r.step for r in log.records]
        subtitle = (
            f"{log.repairs:,} repaired elements in {len(tiles)} module"
            f"{'s' if len(tiles) != 1 else ''}, steps {min(steps)}–{max(steps)} · "
            "older seams are darker gold"
        )
    return draw_kintsugi(tiles, path, f"kintsugi · {log.path.name}", subtitle, seed)


def draw_kintsugi(
    tiles: Sequence[Tile], path: str | Path, title: str, subtitle: str, seed: int
) -> Path:
    """Lay the tiles out in rows, draw them with their seams, add title and legend; save PNG."""
    fig = Figure(figsize=FIGURE_IN, dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.03, 0.13, 0.94, 0.74))
    ax.set_facecolor(BACKGROUND)
    ax.set_axis_off()
    placed = _layout(tiles)
    label = len(tiles) <= 48
    for tile, (x0, y0, side) in zip(tiles, placed, strict=True):
        rng = np.random.default_rng([seed, zlib.crc32(tile.name.encode())])
        clip = draw_tile(
            ax,
            x0,
            y0,
            side,
            rng,
            faded="vanishing_norm" in tile.kinds,
            gilded_rim="exploding_norm" in tile.kinds,
        )
        for number, seam in enumerate(tile.seams):
            _draw_one(ax, seam, x0, y0, side, rng, clip, first=number == 0)
        if label:
            ax.text(
                x0 + side / 2,
                y0 - 0.04,
                _label(tile),
                color=INK_DIM,
                fontsize=7 if len(tiles) <= 24 else 5.5,
                ha="center",
                va="top",
                family="monospace",
            )
    if placed:
        xs = [x for x, _, s in placed] + [x + s for x, _, s in placed]
        ys = [y for _, y, _ in placed] + [y + s for _, y, s in placed]
        pad = 0.25
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
        ax.set_ylim(min(ys) - pad - (0.12 if label else 0), max(ys) + pad)
    ax.set_aspect("equal", adjustable="box")
    fig.text(0.5, 0.955, title, color=INK, fontsize=20, ha="center", va="top", family="serif")
    fig.text(
        0.5, 0.905, subtitle, color=INK_DIM, fontsize=11, ha="center", va="top", family="serif"
    )
    _legend(fig, {kind for tile in tiles for kind in tile.kinds})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, format="png", facecolor=BACKGROUND, metadata={"Software": None})
    return target


def _draw_one(
    ax: Axes,
    seam: Seam,
    x0: float,
    y0: float,
    side: float,
    rng: np.random.Generator,
    clip: FancyBboxPatch,
    first: bool,
) -> None:
    """One seam: the tile's first runs edge to edge, later ones are shorter branches."""
    inset = 0.1 * side
    box = (x0 - 0.02 * side, y0 - 0.02 * side, x0 + 1.02 * side, y0 + 1.02 * side)
    width = seam.width * (0.55 + 0.45 * side)  # thinner seams on smaller tiles
    if seam.u is None or seam.v is None:  # across the whole tile, corner to corner-ish
        x, y = x0 + side * rng.uniform(0.4, 0.6), y0 + side * rng.uniform(0.4, 0.6)
        angle = rng.choice([np.pi / 4, 3 * np.pi / 4]) + rng.uniform(-0.2, 0.2)
        path = crack_path(rng, x, y, box, angle=angle, wander=0.35)
        draw_seam(ax, path, clip, width=width, age=seam.age)
        return
    x = x0 + inset + (side - 2 * inset) * seam.u
    y = y0 + side - inset - (side - 2 * inset) * seam.v  # row 0 at the top
    if seam.kind == "dead_unit":
        path = crack_path(rng, x, y, box, angle=0.0, wander=0.12)
    else:
        length = None if first else side * rng.uniform(0.3, 0.6) * min(seam.width, 1.5)
        path = crack_path(rng, x, y, box, wander=0.5, max_length=length)
    draw_seam(ax, path, clip, width=width, age=seam.age)
    if seam.kind == "nonfinite":
        draw_gold_fill(ax, x, y, 0.045 * side, rng, clip)


def _legend(fig: Figure, kinds: set[str]) -> None:
    if not kinds:
        fig.text(
            0.5,
            0.07,
            "no fractures: an unbroken bowl",
            color=INK_DIM,
            fontsize=11,
            ha="center",
            family="serif",
            style="italic",
        )
        return
    ordered = [k for k in _LEGEND if k in kinds] + sorted(kinds - set(_LEGEND))
    handles = [
        Line2D(
            [],
            [],
            color=tuple(GOLD),
            linewidth=2.4,
            marker="o" if kind == "nonfinite" else None,
            markersize=6,
            markerfacecolor=tuple(GOLD),
            markeredgecolor=GOLD_LIGHT,
        )
        for kind in ordered
    ]
    labels = [_LEGEND.get(kind, f"{kind}: a golden seam") for kind in ordered]
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(len(ordered), 3),
        frameon=False,
        labelcolor=INK_DIM,
        fontsize=10,
        bbox_to_anchor=(0.5, 0.015),
    )


def _layout(tiles: Sequence[Tile]) -> list[tuple[float, float, float]]:
    """Shelf-pack tiles (side ∝ log size, 0.45–1.0) into centred rows shaped like the axes."""
    if not tiles:
        return []
    logs = np.log10(np.array([max(t.size, 1.0) for t in tiles]) + 1.0)
    span = float(logs.max() - logs.min())
    sides = 0.45 + 0.55 * ((logs - logs.min()) / span if span > 0 else np.ones_like(logs))
    gap = 0.16
    area = float(np.sum((sides + gap) ** 2))
    width = max(float(sides.max()), math.sqrt(area * _ASPECT) * 1.05)
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, side in enumerate(sides):
        if rows[-1] and used + side > width:
            rows.append([])
            used = 0.0
        rows[-1].append(i)
        used += side + gap
    placed: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * len(tiles)
    top = 0.0
    for row in rows:
        height = float(max(sides[i] for i in row))
        row_width = float(sum(sides[i] for i in row) + gap * (len(row) - 1))
        x = -row_width / 2
        for i in row:
            side = float(sides[i])
            placed[i] = (x, top - height / 2 - side / 2, side)
            x += side + gap
        top -= height + gap + 0.14
    return placed


def _spread(indices: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` entries of ``indices``, evenly spaced (all of them if fewer)."""
    if indices.size <= count:
        return indices
    picks = np.linspace(0, indices.size - 1, count).round().astype(int)
    return indices[picks]


def _position(flat: int, shape: tuple[int, ...]) -> tuple[float, float]:
    """(u, v) of a flat index: column and row for 2+ dims, a square fold for 0–1 dims."""
    numel = max(math.prod(shape), 1)
    if len(shape) >= 2:
        cols = numel // shape[0]
        row, col = divmod(flat, cols)
        return (col + 0.5) / cols, (row + 0.5) / shape[0]
    side = math.ceil(math.sqrt(numel))
    row, col = divmod(flat, side)
    return (col + 0.5) / side, (row + 0.5) / math.ceil(numel / side)


def _row_position(row: int, shape: tuple[int, ...]) -> float:
    return (row + 0.5) / shape[0]


def _record_position(
    record: RepairRecord, shape: tuple[int, ...] | None, top: list[int]
) -> tuple[float, float]:
    index = record.index
    if index is None:
        # No index in the log: a spot that is the same for the same (kind, step).
        key = zlib.crc32(f"{record.kind}:{record.step}".encode())
        rng = np.random.default_rng(key)
        return float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.9))
    if (
        shape
        and len(index) == len(shape)
        and all(0 <= i < s for i, s in zip(index, shape, strict=True))
    ):
        return _position(int(np.ravel_multi_index(index, shape)), shape)
    if len(index) == 1:
        return 0.5, (index[0] + 0.5) / (top[0] + 1)
    return (index[1] + 0.5) / (top[1] + 1), (index[0] + 0.5) / (top[0] + 1)


def _label(tile: Tile) -> str:
    """The tile's short name, with its fracture (or repair) count when it has one."""
    name = _short(tile.name)
    total = len(tile.seams) + tile.hidden
    return f"{name} · {total:,}" if total else name


def _short(name: str, limit: int = 16) -> str:
    """The last components of a dotted name, on two lines when long."""
    parts = name.split(".")
    short = ".".join(parts[-3:]) if len(parts) > 3 else name
    if len(short) <= limit:
        return short
    head, _, tail = short.rpartition(".")
    head = head if len(head) <= limit else "…" + head[-(limit - 1) :]
    tail = tail if len(tail) <= limit else tail[: limit - 1] + "…"
    return f"{head}.\n{tail}" if head else tail


def _human(count: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return str(count)
