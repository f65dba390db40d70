"""PPG/ECG → stress in [0, 1]: HR and ln RMSSD against the person's resting baseline.

Per window (60 s, hop 5 s by default): beats → RR → cleaning → HRV; during the first
``baseline_s`` seconds windows build a robust baseline of ln RMSSD and HR; afterwards
z = 0.5·(−(ln RMSSD − μ_r)/max(σ_r, 0.05)) + 0.5·((HR − μ_h)/max(σ_h, 1 bpm)) and
stress = 1 / (1 + e^−z) (SIGNALS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from runtime.features._baseline import RobustBaseline
from runtime.features._beats import clean_rr, detect_beats_ecg, detect_beats_ppg
from runtime.features._hrv import HrvMetrics, compute_hrv
from runtime.features._settings import HeartFeatureSettings
from runtime.features._windows import HopWindows

_FEATURES = ("ln_rmssd", "hr_bpm")
MIN_LN_RMSSD_SCALE = 0.05
MIN_HR_SCALE_BPM = 1.0


@dataclass(frozen=True)
class StressEstimate:
    """One window's stress; ``sample_index``/``time_s`` as in AttentionEstimate."""

    sample_index: int
    time_s: float
    window_s: float
    hop_s: float
    stress: float | None
    valid: bool
    calibrated: bool
    reason: str
    quality: float
    kind: str
    hrv: HrvMetrics | None = None

    def to_dict(self) -> dict[str, Any]:
        hrv = self.hrv.to_dict() if self.hrv is not None else {}
        return {
            "sample_index": self.sample_index,
            "time_s": self.time_s,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "stress": self.stress,
            "valid": self.valid,
            "calibrated": self.calibrated,
            "reason": self.reason,
            "quality": self.quality,
            "signal": self.kind,
            "hr_bpm": hrv.get("hr_bpm"),
            "rmssd_ms": hrv.get("rmssd_ms"),
            "sdnn_ms": hrv.get("sdnn_ms"),
            "pnn50_pct": hrv.get("pnn50_pct"),
            "n_beats": hrv.get("n_beats"),
            "baevsky_si": hrv.get("baevsky_si"),
            "lf_hf": hrv.get("lf_hf"),
        }


def compute_window_hrv(
    x: np.ndarray, fs: float, kind: Literal["ppg", "ecg"], settings: HeartFeatureSettings
) -> tuple[HrvMetrics | None, float, str]:
    """Beats → cleaned RR → HRV for one window: (metrics or None, quality, reason)."""
    if not np.all(np.isfinite(x)):
        finite = np.isfinite(x)
        if finite.mean() < 0.9:
            return None, 0.0, "non-finite samples"
        x = np.where(finite, x, np.nanmedian(x))
    if float(np.std(x)) == 0.0:
        return None, 0.0, "flat signal"
    detect = detect_beats_ppg if kind == "ppg" else detect_beats_ecg
    beats = detect(x, fs)
    if beats.size < settings.min_beats:
        return None, 0.0, f"too few beats ({beats.size})"
    rr = np.diff(beats) * 1000.0 / fs
    keep = clean_rr(
        rr,
        min_rr_ms=settings.min_rr_ms,
        max_rr_ms=settings.max_rr_ms,
        max_deviation=settings.max_rr_deviation,
        max_successive_change=settings.max_rr_successive_change,
    )
    quality = float(keep.mean())
    if quality < settings.min_kept_fraction:
        return None, quality, f"too many implausible RR intervals ({1 - quality:.0%})"
    try:
        return compute_hrv(rr, keep, window_s=x.size / fs), quality, ""
    except ValueError as exc:
        return None, quality, str(exc)


class StressEstimator:
    """Streams one PPG or ECG channel; one estimate per hop once a window is full."""

    def __init__(
        self,
        fs: float,
        kind: Literal["ppg", "ecg"],
        settings: HeartFeatureSettings | None = None,
    ) -> None:
        if not (isinstance(fs, int | float) and math.isfinite(fs) and fs > 0):
            raise ValueError(f"fs must be a positive sampling rate in Hz; got {fs!r}")
        if kind not in ("ppg", "ecg"):
            raise ValueError(f"kind must be 'ppg' or 'ecg'; got {kind!r}")
        self.fs = float(fs)
        self.kind = kind
        self.settings = settings or HeartFeatureSettings()
        s = self.settings
        self._windows = HopWindows(1, max(8, round(s.window_s * fs)), max(1, round(s.hop_s * fs)))
        self.baseline = RobustBaseline()

    def push(self, samples: np.ndarray) -> list[StressEstimate]:
        """Feed a 1-D chunk; returns the estimates of every hop it completes."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim != 1:
            raise ValueError(f"samples must be 1-D (one channel); got shape {samples.shape}")
        return [
            self._estimate(end, window[0])
            for end, window in self._windows.push(samples[np.newaxis, :])
        ]

    def load_baseline(self, path: str | Path) -> None:
        self.baseline = RobustBaseline.load(path, _FEATURES)

    def save_baseline(self, path: str | Path) -> Path:
        return self.baseline.save(path)

    def _estimate(self, end: int, x: np.ndarray) -> StressEstimate:
        s = self.settings
        time_s = end / self.fs
        hrv, quality, reason = compute_window_hrv(x, self.fs, self.kind, s)
        base: dict[str, Any] = dict(
            sample_index=end,
            time_s=time_s,
            window_s=s.window_s,
            hop_s=s.hop_s,
            quality=quality,
            kind=self.kind,
            hrv=hrv,
        )
        if hrv is None or hrv.rmssd_ms <= 0:
            return self._invalid(base, reason or "RMSSD is zero")
        ln_rmssd = math.log(hrv.rmssd_ms)
        if not self.baseline.calibrated:
            if time_s <= max(s.baseline_s, s.window_s):
                self.baseline.add(ln_rmssd=ln_rmssd, hr_bpm=hrv.hr_bpm)
                return self._invalid(base, f"calibrating ({time_s:.0f} of {s.baseline_s:.0f} s)")
            if not self.baseline.freeze():
                return self._invalid(base, "calibrating (no valid baseline windows yet)")
        mu_r, sigma_r = self.baseline.stats("ln_rmssd")
        mu_h, sigma_h = self.baseline.stats("hr_bpm")
        z = 0.5 * (-(ln_rmssd - mu_r) / max(sigma_r, MIN_LN_RMSSD_SCALE)) + 0.5 * (
            (hrv.hr_bpm - mu_h) / max(sigma_h, MIN_HR_SCALE_BPM)
        )
        stress = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
        return StressEstimate(stress=stress, valid=True, calibrated=True, reason="", **base)

    def _invalid(self, base: dict[str, Any], reason: str) -> StressEstimate:
        return StressEstimate(
            stress=None, valid=False, calibrated=self.baseline.calibrated, reason=reason, **base
        )
