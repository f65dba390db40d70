"""Per-window EEG channel quality: which channels may be averaged, and why the others not.

Checks, in order (the first that fails names the reason):

* ``non-finite``: a NaN or inf sample;
* ``railed``: a sample at or above the amplifier's full scale (``railed_uv``; skipped when
  None, since only ADS1299-style boards have a meaningful one);
* ``out of range``: a sample beyond ``max_abs_uv`` (1 V) on any board;
* ``flat``: standard deviation below ``flat_uv``;
* ``blink``: peak-to-peak of the signal below 5 Hz above ``blink_uv`` on a frontal channel
  (a blink is a 0.2–0.5 s bump; unfiltered, ordinary α bursts reach 100 µV peak-to-peak);
* ``blink`` (frontal) / ``low-frequency artifact`` (others): after calibration, the δ share of
  1–45 Hz power far above the channel's own baseline (a surge below 4 Hz);
* ``emg``: γ (30–45 Hz) share of 1–45 Hz power above ``emg_relative_max``, or, after
  calibration, far above the channel's baseline (muscle noise inflates β).

Line noise is a warning, not a rejection: it is removed before the spectrum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import butter, lfilter, lfilter_zi

from runtime.features._bands import integrate_bands
from runtime.features._baseline import RobustBaseline
from runtime.features._settings import EegFeatureSettings

__all__ = ["ChannelQuality", "check_channel_quality", "share_key"]

_SHARE_BANDS = {"total": (1.0, 45.0), "delta": (1.0, 4.0), "gamma": (30.0, 45.0)}
#: Blinks are judged below this frequency, in Hz.
_BLINK_LOWPASS_HZ = 5.0


@dataclass(frozen=True)
class ChannelQuality:
    """One channel in one window: ``ok`` to use, else ``reason`` (non-finite, flat, …).

    ``delta_share``/``gamma_share`` are the channel's δ and γ shares of 1–45 Hz power (None
    when no spectrum was computed), kept so calibration can learn the channel's normal range.
    """

    name: str
    ok: bool
    reason: str = ""
    warning: str = ""
    delta_share: float | None = None
    gamma_share: float | None = None


@lru_cache(maxsize=16)
def _blink_filter(fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 5 Hz low-pass, a second-order Butterworth (one biquad section): numerator,
    denominator and step-response initial state, read-only and solved once per rate."""
    (section,) = butter(2, _BLINK_LOWPASS_HZ, btype="low", fs=fs, output="sos")
    b, a = section[:3], section[3:]
    zi = lfilter_zi(b, a)
    for array in (b, a, zi):
        array.setflags(write=False)
    return b, a, zi


@lru_cache(maxsize=16)
def _frontal_mask(names: tuple[str, ...], frontal_channels: tuple[str, ...]) -> np.ndarray:
    """Which of ``names`` are frontal (case-insensitive), read-only."""
    frontal = {n.lower() for n in frontal_channels}
    mask = np.array([n.lower() in frontal for n in names], dtype=bool)
    mask.setflags(write=False)
    return mask


def _blink_ptp(x: np.ndarray, fs: float | None) -> np.ndarray:
    """Peak-to-peak of each row of ``x`` below 5 Hz (of ``x`` itself without ``fs``).

    The low-pass runs forward and backward over an even extension of ``min(n - 1, fs)``
    samples at each end, starting from the step response of the first sample each way:
    ``scipy.signal.sosfiltfilt(..., padtype="even")`` on the filter's one section, without
    re-solving the initial state and validating the sections on every call.
    """
    if fs is None or x.shape[-1] < 16 or fs <= 2 * _BLINK_LOWPASS_HZ:
        return np.ptp(x, axis=-1)
    b, a, zi = _blink_filter(float(fs))
    x = x - x.mean(axis=-1, keepdims=True)
    edge = min(x.shape[-1] - 1, int(fs))
    ext = np.concatenate((x[..., edge:0:-1], x, x[..., -2 : -(edge + 2) : -1]), axis=-1)
    forward, _ = lfilter(b, a, ext, axis=-1, zi=zi * ext[..., :1])
    backward, _ = lfilter(b, a, forward[..., ::-1], axis=-1, zi=zi * forward[..., -1:])
    return np.ptp(backward[..., edge:-edge], axis=-1)


def share_key(band: str, channel: str) -> str:
    """Baseline feature name of a channel's band share, e.g. ``gamma:Fp1``."""
    return f"{band}:{channel}"


def _far_above(
    value: float, baseline: RobustBaseline | None, key: str, settings: EegFeatureSettings
) -> bool:
    stats = baseline.get(key) if baseline is not None else None
    if stats is None:
        return False
    median, scale = stats
    limit = max(median + settings.artifact_k * scale, median + settings.artifact_min_share_step)
    return value > limit


def check_channel_quality(
    window: np.ndarray,
    freqs: np.ndarray | None,
    psd: np.ndarray | None,
    names: Sequence[str],
    settings: EegFeatureSettings,
    *,
    line_ratio: np.ndarray | None = None,
    baseline: RobustBaseline | None = None,
    fs: float | None = None,
    dehummed: np.ndarray | None = None,
    peak_uv: np.ndarray | None = None,
) -> list[ChannelQuality]:
    """Classify each channel of a (n_channels, n_samples) µV window (see module docstring).

    ``freqs``/``psd`` are the window's Welch spectrum (after hum removal; rows of
    channels that are non-finite or out of range are ignored). ``line_ratio`` is each
    channel's line-noise power over the rest (from hum removal); without it, it is read
    from the spectrum around ``line_freq_hz``. ``baseline`` (calibrated) enables the checks
    relative to the channel's own resting values. ``fs`` (Hz) lets the blink check look
    below 5 Hz only; without it the raw peak-to-peak is used. ``dehummed`` is the window
    with mains hum removed (rows of usable channels), on which the blink check looks.
    ``peak_uv`` is each row's max |x| when the caller has taken it already (not modified).
    """
    n_channels = len(names)
    is_frontal = _frontal_mask(tuple(names), settings.frontal_channels)
    with np.errstate(invalid="ignore", over="ignore"):
        # A NaN or inf makes the row's max |x| NaN or inf: one pass finds both.
        if peak_uv is None:
            peak_uv = np.max(np.abs(window), axis=1, initial=0.0)
        finite = np.isfinite(peak_uv)
        peak = np.where(finite, peak_uv, np.inf)
    railed_uv = np.inf if settings.railed_uv is None else settings.railed_uv
    in_range = finite & (peak < railed_uv) & (peak <= settings.max_abs_uv)
    std = np.zeros(n_channels)
    # All rows in range (the usual case): no copy of the window to take their std.
    std[in_range] = np.std(window if in_range.all() else window[in_range], axis=1)
    blink_rows = in_range & (std >= settings.flat_uv) & is_frontal
    ptp = np.zeros(n_channels)
    if blink_rows.any():
        source = window if dehummed is None else dehummed
        ptp[blink_rows] = _blink_ptp(source[blink_rows], fs)
    # Per channel: (1–45 Hz power, δ share, γ share), or None without a spectrum.
    spectral: list[tuple[float, float, float]] | None = None
    if freqs is not None and psd is not None:
        total, delta, gamma = np.moveaxis(integrate_bands(freqs, psd, _SHARE_BANDS), -1, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            spectral = list(
                zip(total.tolist(), (delta / total).tolist(), (gamma / total).tolist(), strict=True)
            )
        if line_ratio is None:
            f0 = settings.line_freq_hz
            (line,) = np.moveaxis(
                integrate_bands(freqs, psd, {"line": (f0 - 1.0, f0 + 1.0)}), -1, 0
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                line_ratio = line / total
    ratios = None if line_ratio is None else np.asarray(line_ratio, dtype=np.float64).tolist()
    # The per-channel decisions on Python floats: indexing numpy arrays element by element
    # was most of this function's cost.
    out: list[ChannelQuality] = []
    columns = zip(
        names,
        finite.tolist(),
        peak.tolist(),
        std.tolist(),
        is_frontal.tolist(),
        ptp.tolist(),
        strict=True,
    )
    for i, (name, finite_i, peak_i, std_i, frontal_i, ptp_i) in enumerate(columns):
        if not finite_i:
            out.append(ChannelQuality(name, False, "non-finite"))
        elif peak_i >= railed_uv:
            out.append(ChannelQuality(name, False, "railed"))
        elif peak_i > settings.max_abs_uv:
            out.append(ChannelQuality(name, False, "out of range"))
        elif std_i < settings.flat_uv:
            out.append(ChannelQuality(name, False, "flat"))
        elif frontal_i and ptp_i > settings.blink_uv:
            out.append(ChannelQuality(name, False, "blink"))
        elif spectral is None:
            out.append(ChannelQuality(name, True))
        elif not spectral[i][0] > 0:
            out.append(ChannelQuality(name, False, "flat"))
        else:
            _, d_share, g_share = spectral[i]
            ratio = 0.0 if ratios is None else ratios[i]
            out.append(
                _judge_spectrum(name, frontal_i, d_share, g_share, ratio, baseline, settings)
            )
    return out


def _judge_spectrum(
    name: str,
    is_frontal: bool,
    d_share: float,
    g_share: float,
    line_ratio: float,
    baseline: RobustBaseline | None,
    settings: EegFeatureSettings,
) -> ChannelQuality:
    """The spectral checks of one channel with a usable spectrum."""
    kept = {"delta_share": d_share, "gamma_share": g_share}
    if _far_above(d_share, baseline, share_key("delta", name), settings):
        reason = "blink" if is_frontal else "low-frequency artifact"
        return ChannelQuality(name, False, reason, **kept)
    if g_share > settings.emg_relative_max or _far_above(
        g_share, baseline, share_key("gamma", name), settings
    ):
        return ChannelQuality(name, False, "emg", **kept)
    warning = "line-noise" if line_ratio > settings.line_noise_ratio else ""
    return ChannelQuality(name, True, warning=warning, **kept)
