"""PPG/ECG → stress in [0, 1]: HR and ln RMSSD against the person's resting baseline.

Per window (60 s, hop 5 s by default): beats (PPG: Elgendi; ECG: Pan–Tompkins style) →
RR intervals (those spanning missing samples dropped) → cleaning → HRV. The first
``baseline_s`` seconds of valid windows give the person's rest: the medians of HR and
ln RMSSD. Afterwards (SIGNALS.md)

    d = w·(HR − HR_rest)/ΔHR_ref + (1 − w)·(ln RMSSD_rest − ln RMSSD)/Δ_ref
    stress = 1 / (1 + e^−(ln(r/(1−r)) + k·d))

with the scale set by typical stress responses (ΔHR_ref = 20 bpm, Δ_ref = ln 2: the TSST
raises HR 15–25 bpm and halves RMSSD), not by the calibration's own window-to-window
spread, which is tiny at rest (overlapping 60 s windows) and made every small change read
as saturated stress. Calm rest reads r = 0.15; HR +5 / RMSSD −15 % reads 0.32; HR +20 /
RMSSD halved 0.91. Time is the sample index over the nominal rate, as for attention.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from runtime.errors import ConfigError
from runtime.features._baseline import RobustBaseline
from runtime.features._beats_ecg import detect_beats_ecg
from runtime.features._beats_ppg import detect_beats_ppg
from runtime.features._errors import SignalError
from runtime.features._hrv import HrvMetrics, compute_hrv
from runtime.features._rr import clean_rr, compute_rr_ms
from runtime.features._settings import HeartFeatureSettings
from runtime.features._validate import check_estimator_fs
from runtime.features._windows import HopWindows, window_fields
from runtime.messages import StressFeature, Trace

__all__ = [
    "StressEstimate",
    "StressEstimator",
    "clean_rr_with",
    "stress_baseline_settings",
    "compute_stress",
    "compute_window_hrv",
]

logger = logging.getLogger("runtime.features")

_FEATURES = ("ln_rmssd", "hr_bpm")
_MIN_BASELINE_SHARE = 0.5


def stress_baseline_settings(settings: HeartFeatureSettings, signal: str) -> dict[str, Any]:
    """The settings a stress baseline depends on (``signal``: ppg or ecg): saved with it and
    compared when it is loaded (with the rate ``fs``, known from data)."""
    return {"kind": "stress", "signal": signal, "window_s": settings.window_s}


def compute_stress(
    hr_bpm: float,
    rmssd_ms: float,
    hr_rest_bpm: float,
    rmssd_rest_ms: float,
    settings: HeartFeatureSettings | None = None,
) -> float:
    """Stress in (0, 1) of one window's HR and RMSSD against the person's rest.

    Monotone: rising HR and falling RMSSD both raise it; rest itself reads
    ``settings.rest_stress``. See the module docstring for the formula and its references.
    """
    s = settings or HeartFeatureSettings()
    for name, value in (("hr_bpm", hr_bpm), ("rmssd_ms", rmssd_ms),
                        ("hr_rest_bpm", hr_rest_bpm), ("rmssd_rest_ms", rmssd_rest_ms)):
        if not (math.isfinite(value) and value > 0):
            raise SignalError(f"{name} must be a positive finite number; got {value!r}")
    d = s.hr_weight * (hr_bpm - hr_rest_bpm) / s.hr_ref_bpm + (1.0 - s.hr_weight) * (
        math.log(rmssd_rest_ms) - math.log(rmssd_ms)
    ) / s.ln_rmssd_ref
    logit = math.log(s.rest_stress / (1.0 - s.rest_stress)) + s.stress_gain * d
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


@dataclass(frozen=True)
class StressEstimate:
    """One window's stress; ``sample_index``, ``time_s``, ``window_s``, ``hop_s`` as in
    :class:`AttentionEstimate`. ``stress`` is None unless ``valid``; ``quality`` is the
    share of RR intervals kept by the cleaner; ``hrv`` is None when no HRV could be computed
    (its values are reported during calibration too)."""

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
        """JSON-able dict: Python floats/ints/str, None for missing values (the message
        body without its ``kind`` and ``trace``)."""
        body = self.to_message().to_dict()
        del body["kind"], body["trace"]
        return body

    def to_message(self, trace: Trace | None = None) -> StressFeature:
        """The ``features.stress`` body of this estimate; ``trace`` names the raw chunk it
        rests on (for latency)."""
        hrv = self.hrv
        return StressFeature(
            **window_fields(self),
            trace=trace,
            stress=None if self.stress is None else float(self.stress),
            signal=self.kind,
            hr_bpm=None if hrv is None else float(hrv.hr_bpm),
            rmssd_ms=None if hrv is None else float(hrv.rmssd_ms),
            sdnn_ms=None if hrv is None else float(hrv.sdnn_ms),
            pnn50_pct=None if hrv is None else float(hrv.pnn50_pct),
            n_beats=None if hrv is None else int(hrv.n_beats),
            n_rr=None if hrv is None else int(hrv.n_rr),
            baevsky_si=None if hrv is None or hrv.baevsky_si is None else float(hrv.baevsky_si),
            lf_hf=None if hrv is None or hrv.lf_hf is None else float(hrv.lf_hf),
        )


def clean_rr_with(rr_ms: np.ndarray, settings: HeartFeatureSettings) -> np.ndarray:
    """:func:`clean_rr` with the ``[features.heart]`` rules: which RR intervals to keep."""
    return clean_rr(
        rr_ms,
        min_rr_ms=settings.min_rr_ms,
        max_rr_ms=settings.max_rr_ms,
        max_deviation=settings.max_rr_deviation,
        max_successive_change=settings.max_rr_successive_change,
    )


def compute_window_hrv(
    x: np.ndarray, fs: float, kind: Literal["ppg", "ecg"], settings: HeartFeatureSettings
) -> tuple[HrvMetrics | None, float, str]:
    """Beats → cleaned RR → HRV for one window: (metrics or None, quality, reason).

    Non-finite samples and samples beyond ``max_abs_value`` are missing: beats are found in
    the runs between them and intervals spanning them are dropped; more than
    ``max_missing_fraction`` of them make the window invalid.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        missing = ~np.isfinite(x) | (np.abs(x) > settings.max_abs_value)
    n_missing = int(missing.sum())
    if n_missing > settings.max_missing_fraction * x.size:
        return None, 0.0, f"missing samples ({n_missing / x.size:.0%}: non-finite or huge)"
    if n_missing:
        x = np.where(missing, np.nan, x)
    finite = x[~missing]
    if finite.size == 0 or float(np.ptp(finite)) == 0.0:
        return None, 0.0, "flat signal"
    detect = detect_beats_ppg if kind == "ppg" else detect_beats_ecg
    try:
        beats = detect(x, fs)
    except SignalError as exc:
        return None, 0.0, str(exc)
    if beats.size < settings.min_beats:
        return None, 0.0, f"too few beats ({beats.size})"
    rr = compute_rr_ms(beats, fs, missing=missing if n_missing else None)
    keep = clean_rr_with(rr, settings)
    usable = np.isfinite(rr)
    quality = float(keep.sum() / max(1, usable.sum()))
    if quality < settings.min_kept_fraction:
        return None, quality, f"too many implausible RR intervals ({1 - quality:.0%})"
    try:
        return compute_hrv(rr, keep, window_s=x.size / fs), quality, ""
    except SignalError as exc:
        return None, quality, str(exc)


class StressEstimator:
    """Streams one PPG or ECG channel; one estimate per hop once a window is full.

    ``push`` only copies samples into a ring buffer until a hop is due; beats and HRV are
    computed once per hop on the whole window.
    """

    def __init__(
        self,
        fs: float,
        kind: Literal["ppg", "ecg"],
        settings: HeartFeatureSettings | None = None,
    ) -> None:
        self.fs = check_estimator_fs(fs)
        if kind not in ("ppg", "ecg"):
            raise ConfigError(f"kind must be 'ppg' or 'ecg'; got {kind!r}")
        minimum_hz = 20.0 if kind == "ppg" else 50.0
        if self.fs < minimum_hz:
            raise ConfigError(
                f"fs = {self.fs:g} Hz is too low for {kind} beat detection; it needs at "
                f"least {minimum_hz:g} Hz"
            )
        self.kind = kind
        self.settings = settings or HeartFeatureSettings()
        s = self.settings
        window_n = max(8, round(s.window_s * self.fs))
        hop_n = max(1, round(s.hop_s * self.fs))
        self._windows = HopWindows(1, window_n, hop_n)
        self.window_s = window_n / self.fs
        self.hop_s = hop_n / self.fs
        expected = max(1, math.floor((s.baseline_s - self.window_s) / self.hop_s) + 1)
        self._min_baseline_windows = max(1, math.ceil(_MIN_BASELINE_SHARE * expected))
        self.baseline = RobustBaseline(meta=self._baseline_meta())

    def push(self, samples: np.ndarray) -> list[StressEstimate]:
        """Feed a 1-D chunk of the heart channel; returns the estimates of every hop done."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim != 1:
            raise ConfigError(f"samples must be 1-D (one channel); got shape {samples.shape}")
        return [
            self._estimate(end, window[0])
            for end, window in self._windows.push(samples[np.newaxis, :])
        ]

    def load_baseline(self, path: str | Path) -> None:
        """Use a saved baseline instead of calibrating on this session's first minutes."""
        self.baseline = RobustBaseline.load(path, _FEATURES, expect=self._baseline_meta())
        logger.info("features: stress baseline loaded from %s", path)

    def save_baseline(self, path: str | Path) -> Path:
        """Write the calibrated baseline as JSON (KintsugiError before calibration ends)."""
        return self.baseline.save(path)

    def _baseline_meta(self) -> dict[str, Any]:
        return {**stress_baseline_settings(self.settings, self.kind), "fs": self.fs}

    def _estimate(self, end: int, x: np.ndarray) -> StressEstimate:
        s = self.settings
        time_s = end / self.fs
        hrv, quality, reason = compute_window_hrv(x, self.fs, self.kind, s)
        base: dict[str, Any] = dict(
            sample_index=end,
            time_s=time_s,
            window_s=self.window_s,
            hop_s=self.hop_s,
            quality=quality,
            kind=self.kind,
            hrv=hrv,
        )
        if hrv is None or not hrv.rmssd_ms > 0:
            return self._invalid(base, reason or "RMSSD is zero")
        ln_rmssd = math.log(hrv.rmssd_ms)
        if not self.baseline.calibrated:
            ending = time_s > max(s.baseline_s, self.window_s)
            if not ending or self.baseline.count("hr_bpm") < self._min_baseline_windows:
                self.baseline.add(ln_rmssd=ln_rmssd, hr_bpm=hrv.hr_bpm)
                n = self.baseline.count("hr_bpm")
                if not ending:
                    return self._invalid(
                        base, f"calibrating ({time_s:.0f} of {s.baseline_s:.0f} s)"
                    )
                return self._invalid(
                    base, f"calibrating ({n} of {self._min_baseline_windows} valid windows)"
                )
            self.baseline.freeze(_FEATURES)
            logger.info(
                "features: %s stress baseline from %d windows: ln RMSSD %.3f±%.3f, "
                "HR %.1f±%.1f bpm",
                self.kind,
                self.baseline.count("hr_bpm"),
                *self.baseline.stats("ln_rmssd"),
                *self.baseline.stats("hr_bpm"),
            )
        ln_rmssd_rest, _ = self.baseline.stats("ln_rmssd")
        hr_rest, _ = self.baseline.stats("hr_bpm")
        stress = compute_stress(hrv.hr_bpm, hrv.rmssd_ms, hr_rest, math.exp(ln_rmssd_rest), s)
        return StressEstimate(stress=stress, valid=True, calibrated=True, reason="", **base)

    def _invalid(self, base: dict[str, Any], reason: str) -> StressEstimate:
        return StressEstimate(
            stress=None, valid=False, calibrated=self.baseline.calibrated, reason=reason, **base
        )
