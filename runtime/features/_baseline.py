"""A per-person resting baseline: robust centre and scale of features, saved as JSON.

Centre = median, scale = 1.4826·MAD (the standard deviation for Gaussian data, unmoved by a
few artifacts). Values are collected during calibration; :meth:`RobustBaseline.freeze` ends
it. Features an estimator cannot do without are ``required``; others (per-channel artifact
statistics) are kept when they were seen and simply absent otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import ConfigError, KintsugiError

__all__ = ["BASELINE_FORMAT", "BASELINE_SET_FORMAT", "RobustBaseline", "differing_settings"]

#: Format tag written into (and required from) every baseline file.
BASELINE_FORMAT = "kintsugi-baseline/1"
#: Format tag of a participant's saved baseline (runtime.participants): one baseline per
#: estimator kind, under the keys ``attention`` and ``stress``.
BASELINE_SET_FORMAT = "kintsugi-baseline-set/1"


def differing_settings(made_under: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """``"key = <there> there, <here> here"`` for each expected setting the baseline was
    made under with another value (settings it does not record are not compared)."""
    return [
        f"{key} = {made_under[key]!r} there, {value!r} here"
        for key, value in expect.items()
        if key in made_under and made_under[key] != value
    ]


@dataclass
class RobustBaseline:
    """Collects values during calibration, then gives median and 1.4826·MAD per feature."""

    values: dict[str, list[float]] = field(default_factory=dict)
    frozen: dict[str, tuple[float, float]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, **features: float) -> None:
        """Collect one window's values (non-finite ones are ignored)."""
        self.add_values(features.items())

    def add_values(self, items: Iterable[tuple[str, float]]) -> None:
        """Like :meth:`add`, for feature names that are not identifiers (``gamma:Fp1``)."""
        for name, value in items:
            if math.isfinite(value):
                self.values.setdefault(name, []).append(float(value))

    def count(self, name: str) -> int:
        """How many values of ``name`` were collected."""
        return len(self.values.get(name, ()))

    def freeze(self, required: Iterable[str] = ()) -> bool:
        """End calibration; False (still uncalibrated) when a required feature has no value."""
        required = tuple(required) or tuple(self.values)
        if not required or not all(self.values.get(name) for name in required):
            return False
        stats = {}
        for name, vals in self.values.items():
            if not vals:
                continue
            arr = np.asarray(vals)
            centre = float(np.median(arr))
            stats[name] = (centre, float(1.4826 * np.median(np.abs(arr - centre))))
        self.frozen = stats
        return True

    @property
    def calibrated(self) -> bool:
        return self.frozen is not None

    def stats(self, name: str) -> tuple[float, float]:
        """(median, 1.4826·MAD) of ``name``; KeyError if it was never collected."""
        if self.frozen is None:
            raise RuntimeError("baseline is not calibrated yet")
        return self.frozen[name]

    def get(self, name: str) -> tuple[float, float] | None:
        """Like :meth:`stats`, but None when uncalibrated or not collected."""
        return None if self.frozen is None else self.frozen.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": BASELINE_FORMAT,
            **self.meta,
            "stats": {k: {"median": m, "scale": s} for k, (m, s) in (self.frozen or {}).items()},
            "n": {k: len(v) for k, v in self.values.items()},
        }

    def save(self, path: str | Path) -> Path:
        """Write the frozen baseline as JSON; a KintsugiError if there is none yet."""
        if self.frozen is None:
            raise KintsugiError(
                f"cannot save a baseline to {str(path)!r}: calibration has not finished yet "
                "(save after the first estimate with calibrated=True)"
            )
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(
        cls, path: str | Path, required: tuple[str, ...], expect: dict[str, Any] | None = None
    ) -> RobustBaseline:
        """Load a saved baseline; a ConfigError names the file and what is wrong.

        ``expect`` holds metadata that must match (e.g. the window length and signal kind:
        a baseline is only comparable with live windows of the same length); every setting
        that differs is named. A participant's baseline set (:data:`BASELINE_SET_FORMAT`)
        gives the baseline of ``expect["kind"]``.
        """
        try:
            data = json.loads(Path(path).read_text())
            kind = (expect or {}).get("kind")
            if isinstance(data, dict) and data.get("format") == BASELINE_SET_FORMAT:
                if not isinstance(data.get(kind), dict):
                    covers = [k for k in ("attention", "stress") if isinstance(data.get(k), dict)]
                    raise ConfigError(
                        f"baseline file {str(path)!r} has no {kind} baseline (it covers "
                        f"{', '.join(covers) or 'nothing'}); calibrate {kind} afresh"
                    )
                data = data[kind]
            stats = {k: (float(v["median"]), float(v["scale"])) for k, v in data["stats"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"baseline file {str(path)!r} is unreadable: {exc}") from exc
        if not all(math.isfinite(m) and math.isfinite(s) and s >= 0 for m, s in stats.values()):
            raise ConfigError(f"baseline file {str(path)!r} holds non-finite statistics")
        missing = [k for k in required if k not in stats]
        if missing:
            raise ConfigError(f"baseline file {str(path)!r} lacks {missing}; recalibrate")
        differ = differing_settings(data, expect or {})
        if differ:
            raise ConfigError(
                f"baseline file {str(path)!r} ({kind or 'baseline'}) was made under other "
                f"settings: {'; '.join(differ)}. Start from a baseline made under this "
                "session's settings, or calibrate afresh (start without a baseline) and save "
                "that one"
            )
        meta = {k: v for k, v in data.items() if k not in ("stats", "n", "format")}
        return cls(frozen=stats, meta=meta)
