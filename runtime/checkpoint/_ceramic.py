"""Drawing primitives for art-therapy: a glazed ceramic tile and a golden seam.

Pure matplotlib artists on an Axes in data coordinates; every random choice comes from the
``numpy.random.Generator`` passed in, so a picture is a function of its seed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch, Polygon

OFF_WHITE = np.array([0.945, 0.925, 0.872])
CELADON = np.array([0.600, 0.745, 0.640])
EDGE = (0.36, 0.40, 0.36)
CRAZING = (0.38, 0.36, 0.30)
GOLD = np.array([0.855, 0.682, 0.227])
GOLD_PATINA = np.array([0.478, 0.357, 0.149])
GOLD_SHADOW = (0.30, 0.22, 0.07)
GOLD_LIGHT = (1.0, 0.953, 0.769)

_TEXTURE_PX = 96


def draw_tile(
    ax: Axes,
    x0: float,
    y0: float,
    side: float,
    rng: np.random.Generator,
    *,
    faded: bool = False,
    gilded_rim: bool = False,
) -> FancyBboxPatch:
    """A rounded square of glazed ceramic with its lower-left corner at (x0, y0).

    The glaze is off-white to celadon with low-frequency mottling, a fine speckle and a soft
    highlight toward the top left. ``faded`` pales the tile (a vanishing tensor);
    ``gilded_rim`` draws its edge in gold (an exploding tensor). Returns the clip patch.
    """
    radius = 0.09 * side
    patch = FancyBboxPatch(
        (x0 + radius, y0 + radius),
        side - 2 * radius,
        side - 2 * radius,
        boxstyle=f"round,pad={radius}",
        facecolor="none",
        edgecolor=tuple(GOLD) if gilded_rim else EDGE,
        linewidth=2.2 if gilded_rim else 0.8,
        zorder=3,
    )
    ax.add_patch(patch)
    image = _glaze(rng)
    if faded:
        image = 0.45 * image + 0.55 * np.array([0.82, 0.82, 0.80])
    artist = ax.imshow(
        image,
        extent=(x0, x0 + side, y0, y0 + side),
        origin="upper",
        interpolation="bilinear",
        zorder=2,
    )
    artist.set_clip_path(patch)
    box = (x0, y0, x0 + side, y0 + side)
    for _ in range(int(rng.integers(2, 5))):  # faint crazing of the glaze (kannyū)
        start = rng.uniform(0.15, 0.85, 2)
        hair = crack_path(rng, x0 + side * start[0], y0 + side * start[1], box, wander=0.7)
        (line,) = ax.plot(
            hair[:, 0], hair[:, 1], color=CRAZING, linewidth=0.35, alpha=0.17, zorder=2.5
        )
        line.set_clip_path(patch)
    return patch


def draw_seam(
    ax: Axes,
    points: np.ndarray,
    clip: FancyBboxPatch,
    *,
    width: float = 1.0,
    age: float = 1.0,
) -> None:
    """A golden seam along ``points`` (N×2): a dark bed, the gold, a thin light highlight.

    ``age`` in [0, 1] runs from patinated (0, old) to bright (1, new) gold.
    """
    age = float(np.clip(age, 0.0, 1.0))
    colour = tuple(GOLD_PATINA + (GOLD - GOLD_PATINA) * age)
    for line_width, line_colour, alpha, z in (
        (3.4 * width, GOLD_SHADOW, 0.85, 4),
        (2.2 * width, colour, 1.0, 5),
        (0.7 * width, GOLD_LIGHT, 0.25 + 0.6 * age, 6),
    ):
        (line,) = ax.plot(
            points[:, 0],
            points[:, 1],
            color=line_colour,
            linewidth=line_width,
            alpha=alpha,
            solid_capstyle="round",
            solid_joinstyle="round",
            zorder=z,
        )
        line.set_clip_path(clip)


def draw_gold_fill(
    ax: Axes, x: float, y: float, radius: float, rng: np.random.Generator, clip: FancyBboxPatch
) -> None:
    """A small irregular gold-filled loss at (x, y), as where a missing shard was filled."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = radius * rng.uniform(0.6, 1.15, angles.size)
    corners = np.column_stack([x + radii * np.cos(angles), y + radii * np.sin(angles)])
    blob = Polygon(
        corners,
        closed=True,
        facecolor=tuple(GOLD),
        edgecolor=GOLD_SHADOW,
        linewidth=0.8,
        zorder=5,
    )
    ax.add_patch(blob)
    blob.set_clip_path(clip)
    ax.plot(
        [x - 0.35 * radius, x + 0.1 * radius],
        [y + 0.3 * radius, y + 0.45 * radius],
        color=GOLD_LIGHT,
        linewidth=0.8,
        alpha=0.9,
        zorder=6,
    )[0].set_clip_path(clip)


def crack_path(
    rng: np.random.Generator,
    x: float,
    y: float,
    box: tuple[float, float, float, float],
    *,
    angle: float | None = None,
    wander: float = 0.45,
    max_length: float | None = None,
) -> np.ndarray:
    """A jagged polyline through (x, y) running both ways until it leaves ``box``.

    ``box`` is (x0, y0, x1, y1). Steps are 3–8 % of the box size, each turning up to
    ``wander`` radians from the crack's overall direction, so it reads as a break rather
    than a scribble. With ``max_length`` each half also stops after that length (a short
    crack that ends inside the piece).
    """
    x0, y0, x1, y1 = box
    size = max(x1 - x0, y1 - y0)
    limit = np.inf if max_length is None else max_length / 2
    base = rng.uniform(0, np.pi) if angle is None else angle
    halves = []
    for direction in (base, base + np.pi):
        px, py, walked = x, y, 0.0
        points = []
        for _ in range(200):
            theta = direction + rng.uniform(-wander, wander)
            step = size * rng.uniform(0.03, 0.08)
            px, py = px + step * np.cos(theta), py + step * np.sin(theta)
            walked += step
            points.append((px, py))
            if not (x0 <= px <= x1 and y0 <= py <= y1) or walked >= limit:
                break
        halves.append(points)
    return np.array(halves[1][::-1] + [(x, y)] + halves[0])


def _glaze(rng: np.random.Generator) -> np.ndarray:
    """An RGB glaze image: base colour between off-white and celadon, mottled and lit."""
    n = _TEXTURE_PX
    tint = rng.uniform(0.05, 0.95)
    base = OFF_WHITE + (CELADON - OFF_WHITE) * tint
    mottle = 0.6 * _smooth_noise(rng, n, 4) + 0.4 * _smooth_noise(rng, n, 12)
    speckle = rng.normal(0.0, 1.0, (n, n))
    yy, xx = np.mgrid[0:n, 0:n] / (n - 1)
    light = 1.0 - np.hypot(xx - 0.25, yy - 0.2) / 1.2
    edge = np.minimum(np.minimum(xx, 1 - xx), np.minimum(yy, 1 - yy))
    rim = np.exp(-edge / 0.05)  # the glaze pools darker toward the edges
    shade = 1.0 + 0.08 * mottle + 0.015 * speckle + 0.09 * (light - 0.5) - 0.12 * rim
    colour_shift = 0.05 * _smooth_noise(rng, n, 3)
    image = base[None, None, :] * shade[:, :, None]
    image[:, :, 1] += colour_shift * 0.5
    image[:, :, 2] -= colour_shift * 0.3
    return np.clip(image, 0.0, 1.0)


def _smooth_noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """Value noise in [-1, 1]: a random ``cells``² grid interpolated bilinearly to n×n."""
    grid = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1))
    coarse = np.linspace(0, cells, cells + 1)
    fine = np.linspace(0, cells, n)
    rows = np.array([np.interp(fine, coarse, row) for row in grid])
    return np.array([np.interp(fine, coarse, col) for col in rows.T]).T
