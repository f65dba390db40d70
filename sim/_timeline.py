"""Piecewise-linear timelines: attention and stress as functions of time in seconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim._errors import SimError


@dataclass(frozen=True)
class Timeline:
    """A value in [0, 1] given at points ``(time_s, value)`` and linear in between.

    Before the first point and after the last one the end values are held. Times must be
    non-decreasing; two points at the same time make a step.
    """

    points: tuple[tuple[float, float], ...]

    @classmethod
    def from_points(
        cls, points: Sequence[Sequence[float]], *, name: str = "timeline", error=SimError
    ) -> Timeline:
        """Validate ``[[time_s, value], ...]`` and build a timeline; errors name ``name``."""
        if isinstance(points, (str, bytes)) or not isinstance(points, (Sequence, np.ndarray)):
            raise error(
                f"'{name}' must be a list of [time_s, value] pairs; got {points!r}. "
                "Example: [[0, 0.5], [120, 0.5], [300, 0.9]]."
            )
        if len(points) == 0:
            raise error(f"'{name}' must hold at least one [time_s, value] pair; it is empty.")
        out: list[tuple[float, float]] = []
        for i, pair in enumerate(points):
            ok = isinstance(pair, (Sequence, np.ndarray)) and not isinstance(pair, str)
            if not ok or len(pair) != 2:
                raise error(f"'{name}[{i}]' must be a [time_s, value] pair; got {pair!r}.")
            try:
                t, v = float(pair[0]), float(pair[1])
            except (TypeError, ValueError):
                raise error(f"'{name}[{i}]' must hold two numbers; got {pair!r}.") from None
            if not (np.isfinite(t) and t >= 0):
                raise error(f"'{name}[{i}]' time must be a finite number >= 0 s; got {pair[0]!r}.")
            if not (0.0 <= v <= 1.0):
                raise error(f"'{name}[{i}]' value must lie in [0, 1]; got {pair[1]!r}.")
            if out and t < out[-1][0]:
                raise error(
                    f"'{name}[{i}]' time {t:g} s is before the previous point's "
                    f"{out[-1][0]:g} s; list the points in time order."
                )
            out.append((t, v))
        return cls(tuple(out))

    @classmethod
    def constant(cls, value: float) -> Timeline:
        """A timeline that holds ``value`` for ever."""
        return cls.from_points([[0.0, value]], name="value")

    def at(self, t_s: np.ndarray | float) -> np.ndarray:
        """The value at times ``t_s`` (seconds), as a float array of the same shape."""
        times = np.array([p[0] for p in self.points])
        values = np.array([p[1] for p in self.points])
        t = np.asarray(t_s, dtype=float)
        if len(times) == 1:
            return np.full(t.shape, values[0])
        # np.interp takes the right-hand value at a repeated time, which makes a step.
        return np.interp(t, times, values)

    def is_constant_between(self, start_s: float, end_s: float) -> bool:
        """True if the value does not change anywhere in ``[start_s, end_s]``."""
        inner = [t for t, _ in self.points if start_s < t < end_s]
        probe = np.array([start_s, end_s, *inner, *np.nextafter(inner, np.inf)])
        vals = self.at(probe)
        return bool(np.all(vals == vals[0]))


def resolve_timeline(
    values: np.ndarray | Sequence[Sequence[float]] | float,
    *,
    name: str,
    fs: float | None = None,
    duration_s: float | None = None,
) -> np.ndarray:
    """Turn a per-sample array, a scalar, or ``[[time_s, value], ...]`` into a per-sample array.

    A 1-D array is taken as per-sample values at ``fs``; a 2-D ``(k, 2)`` array or list of pairs
    (or a :class:`Timeline`) is a piecewise-linear timeline that needs ``fs`` and ``duration_s``.
    """
    if isinstance(values, Timeline):
        timeline = values
    elif np.isscalar(values):
        timeline = Timeline.from_points([[0.0, float(values)]], name=name)
    else:
        arr = np.asarray(values, dtype=float)
        if arr.ndim == 1:
            if arr.size == 0 or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
                raise SimError(
                    f"'{name}' given per sample must be a non-empty array of values in [0, 1]; "
                    f"got {arr.size} values in [{np.nanmin(arr) if arr.size else 'n/a'}, "
                    f"{np.nanmax(arr) if arr.size else 'n/a'}]."
                )
            return arr.copy()
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise SimError(
                f"'{name}' must be a 1-D per-sample array or (k, 2) [time_s, value] points; "
                f"got shape {arr.shape}."
            )
        timeline = Timeline.from_points(arr.tolist(), name=name)
    if fs is None or duration_s is None:
        raise SimError(
            f"'{name}' is a timeline in seconds, so 'duration_s' is required to know how many "
            "samples to make; pass duration_s=..., or give one value per sample."
        )
    n = int(round(duration_s * fs))
    return timeline.at(np.arange(n) / fs)
