"""EEG → attention in [0, 1]: engagement index against the person's own baseline.

Per window (4 s, hop 0.25 s by default): mains hum removed; Welch spectrum; channel quality;
per good channel log β/(α+θ), their median over channels; an EMA over windows with time
constant ``smoothing_tau_s`` (weights from elapsed stream time, so a gap of invalid windows
is bridged correctly). The first ``baseline_s`` seconds of valid windows build a robust
baseline: each channel's median log E (plus its δ and γ share for the artifact checks) and
the robust spread 1.4826·MAD of the smoothed value. Afterwards, per channel,
d = (log E − median) / scale, the median of d over channels is EMA-smoothed, and
attention = 1 / (1 + e^−d) (Pope, Bogart & Bartolome 1995; SIGNALS.md), with
scale = max(task_scale, noise_scale_k · spread). The scale is set by typical task effects
(E ×1.3–2.5 in focused tasks), not by the calibration's own spread: that spread is small at
rest, and scaling by it made every small change read as full focus or none. Rest reads 0.5,
E ×2 over rest 0.88, E ×0.5 0.12. Until calibration ends the estimate says "calibrating"
and carries no attention.

Time is the sample index over the nominal rate, never the wall clock: a fast replay gives
the same estimates as real time, and so does any chunking of the same samples.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import ConfigError
from runtime.features._bands import BAND_NAMES, compute_psd, integrate_bands
from runtime.features._baseline import RobustBaseline
from runtime.features._notch import remove_line_noise
from runtime.features._quality import check_channel_quality, share_key
from runtime.features._settings import EegFeatureSettings
from runtime.features._validate import check_estimator_fs
from runtime.features._windows import HopWindows, window_fields
from runtime.messages import AttentionFeature, Trace

__all__ = ["AttentionEstimate", "AttentionEstimator", "attention_baseline_settings"]

logger = logging.getLogger("runtime.features")

_FEATURE = "log_engagement"


def _channel_key(label: str) -> str:
    """Baseline key of one channel's log engagement index."""
    return f"{_FEATURE}:{label}"


def attention_baseline_settings(settings: EegFeatureSettings) -> dict[str, Any]:
    """The ``[features.eeg]`` settings an attention baseline depends on: saved with it and
    compared when it is loaded (with the rate ``fs`` and the ``channels``, known from data)."""
    s = settings
    return {
        "kind": "attention", "window_s": s.window_s, "segment_s": s.segment_s,
        "overlap": s.overlap, "smoothing_tau_s": s.smoothing_tau_s,
        "line_freq_hz": s.line_freq_hz,
    }


#: Fewest baseline windows, as a share of those a clean ``baseline_s`` would give.
_MIN_BASELINE_SHARE = 0.5


@dataclass(frozen=True)
class AttentionEstimate:
    """One window's attention.

    ``sample_index`` is the number of samples received when the window ended (its last
    sample is ``sample_index - 1``) and ``time_s = sample_index / fs``. ``window_s`` and
    ``hop_s`` are the exact values in samples over fs. ``attention`` is None unless
    ``valid``; ``reason`` says why (``calibrating …``, ``too few good channels …``).
    ``quality`` is the share of channels used. ``engagement_index`` is this window's
    β/(α+θ) (median over good channels); ``log_engagement`` its EMA-smoothed log, the value
    compared with the baseline. ``band_powers`` are µV², mean over the good channels.
    """

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
        """JSON-able dict: Python floats/ints/str, None for missing values (the message
        body without its ``kind`` and ``trace``)."""
        body = self.to_message().to_dict()
        del body["kind"], body["trace"]
        return body

    def to_message(self, trace: Trace | None = None) -> AttentionFeature:
        """The ``features.attention`` body of this estimate; ``trace`` names the raw chunk
        it rests on (for latency)."""
        return AttentionFeature(
            **window_fields(self),
            trace=trace,
            attention=_opt_float(self.attention),
            log_engagement=_opt_float(self.log_engagement),
            engagement_index=_opt_float(self.engagement_index),
            band_powers={k: float(v) for k, v in self.band_powers.items()},
            channels_used=tuple(self.channels_used),
            channels_bad=dict(self.channels_bad),
            channels_warn=dict(self.channels_warn),
        )


def _opt_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _unique_names(names: list[str]) -> tuple[str, ...]:
    """Channel names made unique (a repeat gets ``#2``, ``#3``…): reports and per-channel
    baselines are keyed by name."""
    used: set[str] = set()
    out = []
    for name in names:
        candidate, k = name, 1
        while candidate in used:
            k += 1
            candidate = f"{name}#{k}"
        used.add(candidate)
        out.append(candidate)
    if out != names:
        logger.warning("features: repeated EEG channel names %s renamed to %s", names, out)
    return tuple(out)


class AttentionEstimator:
    """Streams EEG chunks (n_channels, n) in µV; one estimate per hop once a window is full.

    ``push`` only copies samples into a ring buffer until a hop is due, so calling it every
    20–50 ms is cheap; the spectrum is computed once per hop.
    """

    def __init__(
        self,
        fs: float,
        channel_names: Sequence[str],
        settings: EegFeatureSettings | None = None,
    ) -> None:
        self.fs = check_estimator_fs(fs)
        if isinstance(channel_names, str) or not channel_names:
            raise ConfigError(
                f"channel_names must be a non-empty sequence of EEG channel names; got "
                f"{channel_names!r}"
            )
        #: The channel names as given (what the caller compares its stream against).
        self.names = tuple(str(n) for n in channel_names)
        #: The names used in reports and baselines: unique (a repeat gets ``#2``…).
        self.labels = _unique_names(list(self.names))
        self.settings = settings or EegFeatureSettings()
        s = self.settings
        window_n = max(8, round(s.window_s * self.fs))
        hop_n = max(1, round(s.hop_s * self.fs))
        self._windows = HopWindows(len(self.names), window_n, hop_n)
        self.window_s = window_n / self.fs
        self.hop_s = hop_n / self.fs
        expected = max(1, math.floor((s.baseline_s - self.window_s) / self.hop_s) + 1)
        self._min_baseline_windows = max(1, math.ceil(_MIN_BASELINE_SHARE * expected))
        self._smoothed: float | None = None
        self._smoothed_time_s = 0.0
        self._z: float | None = None
        self._z_time_s = 0.0
        self.baseline = RobustBaseline(meta=self._baseline_meta())

    def push(self, chunk: np.ndarray) -> list[AttentionEstimate]:
        """Feed samples (n_channels, n) in µV; returns the estimates of every hop completed.

        Any chunk size works (0 included); NaN/inf and huge values make the affected
        channels bad for the windows holding them, never a non-finite estimate.
        """
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2 or chunk.shape[0] != len(self.names):
            raise ConfigError(
                f"chunk must be ({len(self.names)}, n_samples) for channels {self.names}; "
                f"got shape {chunk.shape}"
            )
        return [self._estimate(end, window) for end, window in self._windows.push(chunk)]

    def load_baseline(self, path: str | Path) -> None:
        """Use a saved baseline instead of calibrating on this session's first minutes."""
        self.baseline = RobustBaseline.load(path, (_FEATURE,), expect=self._baseline_meta())
        logger.info("features: attention baseline loaded from %s", path)

    def save_baseline(self, path: str | Path) -> Path:
        """Write the calibrated baseline as JSON (KintsugiError before calibration ends)."""
        return self.baseline.save(path)

    def _baseline_meta(self) -> dict[str, Any]:
        return {
            **attention_baseline_settings(self.settings), "fs": self.fs,
            "channels": list(self.labels),
        }

    def _smooth(self, value: float, time_s: float) -> float:
        tau = self.settings.smoothing_tau_s
        if self._smoothed is None or tau == 0:
            self._smoothed = value
        else:
            weight = 1.0 - math.exp(-(time_s - self._smoothed_time_s) / tau)
            self._smoothed += weight * (value - self._smoothed)
        self._smoothed_time_s = time_s
        return self._smoothed

    def _estimate(self, end: int, window: np.ndarray) -> AttentionEstimate:
        s = self.settings
        time_s = end / self.fs
        # A NaN or inf makes the row's max |x| NaN or inf, so one test covers finiteness too
        # (the quality check reuses these peaks instead of taking them again).
        with np.errstate(invalid="ignore", over="ignore"):
            peak_uv = np.max(np.abs(window), axis=1)
            usable = peak_uv <= s.max_abs_uv
        freqs = psd = line_ratio = None
        if usable.all():  # the usual case: no copies in and out of the usable rows
            dehummed, line_ratio = remove_line_noise(window, self.fs, s.line_freq_hz)
            freqs, psd = compute_psd(dehummed, self.fs, segment_s=s.segment_s, overlap=s.overlap)
        elif usable.any():
            cleaned, ratio = remove_line_noise(window[usable], self.fs, s.line_freq_hz)
            freqs, psd_rows = compute_psd(
                cleaned, self.fs, segment_s=s.segment_s, overlap=s.overlap
            )
            psd = np.zeros((window.shape[0], freqs.size))
            psd[usable] = psd_rows
            line_ratio = np.zeros(window.shape[0])
            line_ratio[usable] = ratio
            dehummed = np.zeros_like(window)
            dehummed[usable] = cleaned
        quality = check_channel_quality(
            window,
            freqs,
            psd,
            self.labels,
            s,
            line_ratio=line_ratio,
            baseline=self.baseline,
            fs=self.fs,
            dehummed=dehummed if usable.any() else None,
            peak_uv=peak_uv,
        )
        good = [i for i, q in enumerate(quality) if q.ok]
        base: dict[str, Any] = dict(
            sample_index=end,
            time_s=time_s,
            window_s=self.window_s,
            hop_s=self.hop_s,
            quality=len(good) / len(self.names),
            channels_bad={q.name: q.reason for q in quality if not q.ok},
            channels_warn={q.name: q.warning for q in quality if q.warning},
        )
        needed = min(len(self.names), max(1, math.ceil(s.min_good_fraction * len(self.names))))
        if len(good) < needed:
            return self._invalid(
                base, f"too few good channels ({len(good)}/{len(self.names)}; need {needed})"
            )
        assert freqs is not None and psd is not None  # a good channel has a spectrum
        powers = integrate_bands(freqs, psd[good])
        theta, alpha, beta = powers[:, 1], powers[:, 2], powers[:, 3]
        ok = (beta > 0) & (alpha + theta > 0)
        if not ok.any():
            return self._invalid(base, "no band power in θ, α or β")
        per_channel = np.log(beta) - np.log(alpha + theta)
        # statistics.median gives np.median's value (the middle one, or the mean of the two
        # middle ones) on these few finite floats, without its overhead.
        log_e = float(statistics.median(per_channel[ok].tolist()))
        smoothed = self._smooth(log_e, time_s)
        good_labels = [self.labels[i] for i in good]
        base.update(
            log_engagement=smoothed,
            engagement_index=math.exp(log_e),
            band_powers=dict(zip(BAND_NAMES, powers.mean(axis=0).tolist(), strict=True)),
            channels_used=tuple(good_labels),
        )
        if not self.baseline.calibrated:
            channel_values = [
                (_channel_key(label), float(v))
                for label, v, fine in zip(good_labels, per_channel, ok, strict=True)
                if fine
            ]
            reason = self._calibrate(smoothed, [quality[i] for i in good], time_s, channel_values)
            if reason:
                return self._invalid(base, reason)
        # Each channel against its own baseline, then the median: a channel dropping in or out
        # of the good set (a blink, a loose electrode) does not shift the estimate, as it
        # would if channels with different resting engagement were pooled first.
        scale = self.scale
        z_channels = []
        for label, value, fine in zip(good_labels, per_channel.tolist(), ok.tolist(), strict=True):
            stats = self.baseline.get(_channel_key(label)) if fine else None
            if stats is not None:
                z_channels.append((value - stats[0]) / scale)
        if not z_channels:
            return self._invalid(base, "no good channel has a baseline; recalibrate")
        z = self._smooth_z(float(statistics.median(z_channels)), time_s)
        attention = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
        return AttentionEstimate(
            attention=attention, valid=True, calibrated=True, reason="", **base
        )

    @property
    def scale(self) -> float:
        """The ln E change that moves attention by one logit: max(task_scale, k · spread)."""
        s = self.settings
        stats = self.baseline.get(_FEATURE)
        spread = stats[1] if stats is not None else 0.0
        return max(s.task_scale, s.noise_scale_k * spread)

    def _smooth_z(self, value: float, time_s: float) -> float:
        """EMA of the baseline-relative z (τ = ``smoothing_tau_s``, on stream time)."""
        tau = self.settings.smoothing_tau_s
        if self._z is None or tau == 0:
            self._z = value
        else:
            self._z += (1.0 - math.exp(-(time_s - self._z_time_s) / tau)) * (value - self._z)
        self._z_time_s = time_s
        return self._z

    def _calibrate(
        self,
        smoothed: float,
        good: list[Any],
        time_s: float,
        channel_values: list[tuple[str, float]],
    ) -> str:
        """Collect a valid window; freeze when enough. Returns the reason while calibrating."""
        s = self.settings
        ending = time_s > max(s.baseline_s, self.window_s)
        if not ending or self.baseline.count(_FEATURE) < self._min_baseline_windows:
            self.baseline.add(**{_FEATURE: smoothed})
            self.baseline.add_values(channel_values)
            self.baseline.add_values(
                (share_key(band, q.name), getattr(q, f"{band}_share"))
                for q in good
                for band in ("delta", "gamma")
                if getattr(q, f"{band}_share") is not None
            )
            n = self.baseline.count(_FEATURE)
            if not ending:
                return f"calibrating ({time_s:.0f} of {s.baseline_s:.0f} s)"
            return f"calibrating ({n} of {self._min_baseline_windows} valid windows)"
        self.baseline.freeze((_FEATURE,))
        logger.info(
            "features: attention baseline from %d windows: median %.3f, scale %.3f",
            self.baseline.count(_FEATURE),
            *self.baseline.stats(_FEATURE),
        )
        return ""

    def _invalid(self, base: dict[str, Any], reason: str) -> AttentionEstimate:
        defaults: dict[str, Any] = {"log_engagement": None, "engagement_index": None}
        return AttentionEstimate(
            attention=None,
            valid=False,
            calibrated=self.baseline.calibrated,
            reason=reason,
            **{**defaults, **base},
        )
