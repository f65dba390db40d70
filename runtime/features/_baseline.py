"""A per-person resting baseline: robust centre and scale of a feature, saved as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class RobustBaseline:
    """Collects values during calibration, then gives median and 1.4826·MAD per feature."""

    values: dict[str, list[float]] = field(default_factory=dict)
    frozen: dict[str, tuple[float, float]] | None = None

    def add(self, **features: float) -> None:
        for name, value in features.items():
            if math.isfinite(value):
                self.values.setdefault(name, []).append(float(value))

    def freeze(self) -> bool:
        """End calibration; False when nothing was collected (stays uncalibrated)."""
        if not self.values or not all(self.values.values()):
            return False
        stats = {}
        for name, vals in self.values.items():
            arr = np.asarray(vals)
            centre = float(np.median(arr))
            stats[name] = (centre, float(1.4826 * np.median(np.abs(arr - centre))))
        self.frozen = stats
        return True

    @property
    def calibrated(self) -> bool:
        return self.frozen is not None

    def stats(self, name: str) -> tuple[float, float]:
        if self.frozen is None:
            raise RuntimeError("baseline is not calibrated yet")
        return self.frozen[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stats": {k: {"median": m, "scale": s} for k, (m, s) in (self.frozen or {}).items()},
            "n": {k: len(v) for k, v in self.values.items()},
        }

    def save(self, path: str | Path) -> Path:
        if self.frozen is None:
            raise RuntimeError("only a calibrated baseline can be saved")
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path, required: tuple[str, ...]) -> RobustBaseline:
        """Load a saved baseline; a ValueError names the file and what is missing."""
        try:
            data = json.loads(Path(path).read_text())
            stats = {k: (float(v["median"]), float(v["scale"])) for k, v in data["stats"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"baseline file {str(path)!r} is unreadable: {exc}") from exc
        missing = [k for k in required if k not in stats]
        if missing:
            raise ValueError(f"baseline file {str(path)!r} lacks {missing}; recalibrate")
        return cls(frozen=stats)
