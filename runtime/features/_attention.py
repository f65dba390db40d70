"""EEG → attention in [0, 1]: engagement index against the person's own baseline.

Per window: channel quality; Welch band powers of the good channels; per-channel
log β/(α+θ), their median; an EMA over windows (τ = ``smoothing_tau_s``); during the first
``baseline_s`` seconds these values build a robust baseline, after which
z = (log E − median) / max(1.4826·MAD, min_scale) and attention = 1 / (1 + e^−z)
(Pope, Bogart & Bartolome 1995; SIGNALS.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.features._bands import BAND_NAMES, compute_psd, integrate_bands
from runtime.features._baseline import RobustBaseline
from runtime.features._quality import check_channel_quality
from runtime.features._settings import EegFeatureSettings
from runtime.features._windows import HopWindows

_FEATURE = "log_engagement"


@dataclass(frozen=True)
class AttentionEstimate:
    """One window's attention. ``sample_index``: samples received when the window ended
    (its last sample is ``sample_index - 1``); ``time_s = sample_index / fs``."""

    sample_index: int
    time_s: float
    window_s: float
    hop_s: float
    attention: float | None
    valid: bool
    calibrated: bool
    reason: str
    quality: float
    log_engagement: float | None
    engagement_index: float | None
    band_powers: dict[str, float] = field(default_factory=dict)
    channels_used: tuple[str, ...] = ()
    channels_bad: dict[str, str] = field(default_factory=dict)
    channels_warn: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_index": self.sample_index,
            "time_s": self.time_s,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "attention": self.attention,
            "valid": self.valid,
            "calibrated": self.calibrated,
            "reason": self.reason,
            "quality": self.quality,
            "log_engagement": self.log_engagement,
            "engagement_index": self.engagement_index,
            "band_powers": dict(self.band_powers),
            "channels_used": list(self.channels_used),
            "channels_bad": dict(self.channels_bad),
            "channels_warn": dict(self.channels_warn),
        }


class AttentionEstimator:
    """Streams EEG chunks (n_channels, n) in µV; one estimate per hop once a window is full."""

    def __init__(
        self,
        fs: float,
        channel_names: Sequence[str],
        settings: EegFeatureSettings | None = None,
    ) -> None:
        if not (isinstance(fs, int | float) and math.isfinite(fs) and fs > 0):
            raise ValueError(f"fs must be a positive sampling rate in Hz; got {fs!r}")
        if not channel_names:
            raise ValueError("channel_names is empty: attention needs at least one EEG channel")
        self.fs = float(fs)
        self.names = tuple(channel_names)
        self.settings = settings or EegFeatureSettings()
        s = self.settings
        self._windows = HopWindows(
            len(self.names), max(8, round(s.window_s * fs)), max(1, round(s.hop_s * fs))
        )
        self._alpha = 1.0 if s.smoothing_tau_s == 0 else 1 - math.exp(-s.hop_s / s.smoothing_tau_s)
        self._smoothed: float | None = None
        self.baseline = RobustBaseline()

    def push(self, chunk: np.ndarray) -> list[AttentionEstimate]:
        """Feed samples; returns the estimates of every hop they complete."""
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2 or chunk.shape[0] != len(self.names):
            raise ValueError(
                f"chunk must be ({len(self.names)}, n_samples) for channels {self.names}; "
                f"got shape {chunk.shape}"
            )
        return [self._estimate(end, window) for end, window in self._windows.push(chunk)]

    def load_baseline(self, path: str | Path) -> None:
        """Use a saved baseline instead of calibrating on this session's first minutes."""
        self.baseline = RobustBaseline.load(path, (_FEATURE,))

    def save_baseline(self, path: str | Path) -> Path:
        return self.baseline.save(path)

    def _estimate(self, end: int, window: np.ndarray) -> AttentionEstimate:
        s = self.settings
        time_s = end / self.fs
        finite_rows = np.all(np.isfinite(window), axis=1)
        freqs = psd = None
        if finite_rows.any():
            freqs, psd_rows = compute_psd(
                window[finite_rows], self.fs, segment_s=s.segment_s, overlap=s.overlap
            )
            psd = np.zeros((window.shape[0], freqs.size))
            psd[finite_rows] = psd_rows
        quality = check_channel_quality(window, freqs, psd, self.names, s)
        good = [i for i, q in enumerate(quality) if q.ok]
        bad = {q.name: q.reason for q in quality if not q.ok}
        warn = {q.name: q.warning for q in quality if q.warning}
        base = dict(
            sample_index=end,
            time_s=time_s,
            window_s=s.window_s,
            hop_s=s.hop_s,
            quality=len(good) / len(self.names),
            channels_bad=bad,
            channels_warn=warn,
        )
        if len(good) < max(1, math.ceil(s.min_good_fraction * len(self.names))):
            return self._invalid(base, f"too few good channels ({len(good)}/{len(self.names)})")
        powers = integrate_bands(freqs, psd[good])  # type: ignore[arg-type,index]
        theta, alpha, beta = powers[:, 1], powers[:, 2], powers[:, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_e = np.log(beta) - np.log(alpha + theta)
        log_e = log_e[np.isfinite(log_e)]
        if log_e.size == 0:
            return self._invalid(base, "no band power in θ, α or β")
        value = float(np.median(log_e))
        self._smoothed = (
            value
            if self._smoothed is None
            else self._smoothed + self._alpha * (value - self._smoothed)
        )
        mean_powers = powers.mean(axis=0)
        base.update(
            log_engagement=self._smoothed,
            engagement_index=math.exp(self._smoothed),
            band_powers={n: float(p) for n, p in zip(BAND_NAMES, mean_powers, strict=True)},
            channels_used=tuple(self.names[i] for i in good),
        )
        if not self.baseline.calibrated:
            if time_s <= max(s.baseline_s, s.window_s):
                self.baseline.add(**{_FEATURE: self._smoothed})
                return self._invalid(base, f"calibrating ({time_s:.0f} of {s.baseline_s:.0f} s)")
            if not self.baseline.freeze():
                return self._invalid(base, "calibrating (no valid baseline windows yet)")
        median, scale = self.baseline.stats(_FEATURE)
        z = (self._smoothed - median) / max(scale, s.min_scale)
        attention = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
        return AttentionEstimate(
            attention=attention, valid=True, calibrated=True, reason="", **base
        )

    def _invalid(self, base: dict[str, Any], reason: str) -> AttentionEstimate:
        defaults: dict[str, Any] = {"log_engagement": None, "engagement_index": None}
        return AttentionEstimate(
            attention=None,
            valid=False,
            calibrated=self.baseline.calibrated,
            reason=reason,
            **{**defaults, **base},
        )
