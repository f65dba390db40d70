"""Per-window EEG channel quality: which channels may be averaged, and why the others not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from runtime.features._bands import integrate_bands
from runtime.features._settings import EegFeatureSettings


@dataclass(frozen=True)
class ChannelQuality:
    """One channel in one window: ``ok`` to use, else ``reason`` (non-finite, flat, …)."""

    name: str
    ok: bool
    reason: str = ""
    warning: str = ""


def check_channel_quality(
    window: np.ndarray,
    freqs: np.ndarray | None,
    psd: np.ndarray | None,
    names: Sequence[str],
    settings: EegFeatureSettings,
) -> list[ChannelQuality]:
    """Classify each channel of a (n_channels, n_samples) µV window.

    ``freqs``/``psd`` are the window's Welch spectrum (rows of non-finite channels are
    ignored). Line noise is only a warning: the bands end at 45 Hz, below 50/60 Hz.
    """
    frontal = {n.lower() for n in settings.frontal_channels}
    out: list[ChannelQuality] = []
    for i, name in enumerate(names):
        x = window[i]
        if not np.all(np.isfinite(x)):
            out.append(ChannelQuality(name, False, "non-finite"))
            continue
        if float(np.std(x)) < settings.flat_uv:
            out.append(ChannelQuality(name, False, "flat"))
            continue
        if settings.railed_uv is not None and float(np.max(np.abs(x))) >= settings.railed_uv:
            out.append(ChannelQuality(name, False, "railed"))
            continue
        if name.lower() in frontal and float(np.ptp(x)) > settings.blink_uv:
            out.append(ChannelQuality(name, False, "blink"))
            continue
        warning = ""
        if freqs is not None and psd is not None:
            bands = {
                "total": (1.0, 45.0),
                "emg": (30.0, 45.0),
                "line": (settings.line_freq_hz - 1.0, settings.line_freq_hz + 1.0),
            }
            total, emg, line = integrate_bands(freqs, psd[i], bands)
            if total > 0 and emg / total > settings.emg_relative_max:
                out.append(ChannelQuality(name, False, "emg"))
                continue
            if total > 0 and line / total > settings.line_noise_ratio:
                warning = "line-noise"
        out.append(ChannelQuality(name, True, warning=warning))
    return out
