"""Feature settings: the ``[features.eeg]`` and ``[features.heart]`` tables of a config.

Both models are frozen and reject unknown keys, so a typo in the config fails at load time
naming the key. Defaults follow SIGNALS.md; every field has its unit in its name or
description (µV for EEG amplitudes, the signal's own units for PPG/ECG).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ADS1299_FULL_SCALE_UV", "EegFeatureSettings", "HeartFeatureSettings"]

#: ADS1299 (OpenBCI) full scale at gain 24: 4.5 V / 24, in µV.
ADS1299_FULL_SCALE_UV = 4.5e6 / 24


class EegFeatureSettings(BaseModel):
    """EEG → attention. Defaults follow SIGNALS.md (window ≥ 4 s, Welch 2 s segments)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_s: float = Field(4.0, gt=0, le=60, description="analysis window (≥ 4 s)")
    hop_s: float = Field(0.25, gt=0, le=10, description="one estimate per hop")
    segment_s: float = Field(2.0, gt=0, description="Welch segment (0.5 Hz bins at 2 s)")
    overlap: float = Field(0.5, ge=0, lt=1, description="Welch segment overlap")
    baseline_s: float = Field(120.0, ge=0, description="calibration: the session's first seconds")
    smoothing_tau_s: float = Field(5.0, ge=0, description="EMA of log engagement; 0 = none")
    task_scale: float = Field(
        0.35,
        gt=0,
        description="ln engagement-index change that counts as a typical task effect: "
        "attention = logistic((ln E − rest median) / scale); 0.35 reads E ×2 over rest as "
        "0.88 and E ×0.5 as 0.12 (SIGNALS.md: tasks raise E ×1.3–2.5)",
    )
    noise_scale_k: float = Field(
        1.0,
        ge=0,
        description="the scale is at least k × the calibration's own robust spread of the "
        "smoothed ln E, so a noisy recording does not read as focus; 0 = task scale only",
    )
    flat_uv: float = Field(0.5, ge=0, description="channel std below this → flat")
    railed_uv: float | None = Field(
        ADS1299_FULL_SCALE_UV * 0.99, gt=0, description="|x| at or above → railed; none: off"
    )
    blink_uv: float = Field(
        100.0, gt=0, description="frontal peak-to-peak below 5 Hz above → blink"
    )
    emg_relative_max: float = Field(
        0.3, gt=0, le=1, description="30–45 Hz share of 1–45 Hz power above → EMG"
    )
    max_abs_uv: float = Field(
        1e6, gt=0, description="|x| above this (1 V) → out of range, whatever the board"
    )
    line_freq_hz: Literal[50, 60] = Field(50, description="mains frequency, removed first")
    line_noise_ratio: float = Field(
        10.0, gt=0, description="line power / rest of the channel above → line-noise warning"
    )
    artifact_k: float = Field(
        5.0,
        gt=0,
        description="after calibration, a channel's γ (EMG) or δ (blink, movement) share of "
        "1–45 Hz power above median + k·1.4826·MAD of its baseline is an artifact",
    )
    artifact_min_share_step: float = Field(
        0.1, ge=0, le=1, description="…and at least this far above the baseline median"
    )
    min_good_fraction: float = Field(
        0.25, gt=0, le=1, description="fewer good channels than this share → invalid"
    )
    frontal_channels: tuple[str, ...] = ("Fp1", "Fp2", "AF3", "AF4", "AF7", "AF8", "Fpz")

    @model_validator(mode="after")
    def _check(self) -> EegFeatureSettings:
        if self.hop_s > self.window_s:
            raise ValueError(f"hop_s ({self.hop_s}) must not exceed window_s ({self.window_s})")
        if self.segment_s > self.window_s:
            raise ValueError(
                f"segment_s ({self.segment_s}) must not exceed window_s ({self.window_s})"
            )
        return self


class HeartFeatureSettings(BaseModel):
    """PPG/ECG → stress. Defaults follow SIGNALS.md (60 s windows, hop 5 s)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_s: float = Field(60.0, gt=0, le=600, description="analysis window (≥ 60 s for HRV)")
    hop_s: float = Field(5.0, gt=0, le=60, description="one estimate per hop")
    baseline_s: float = Field(120.0, ge=0, description="calibration: the session's first seconds")
    min_rr_ms: float = Field(300.0, gt=0, description="shortest plausible RR (200 bpm)")
    max_rr_ms: float = Field(2000.0, gt=0, description="longest plausible RR (30 bpm)")
    max_rr_deviation: float = Field(
        0.25, gt=0, lt=1, description="reject RR this far from the running median"
    )
    max_rr_successive_change: float = Field(
        0.2, gt=0, lt=1, description="reject RR this far from the one before it (Malik)"
    )
    min_kept_fraction: float = Field(
        0.8, gt=0, le=1, description="fewer clean RR than this share → invalid (artifacts)"
    )
    min_beats: int = Field(10, ge=3, description="fewer beats in a window → invalid")
    max_missing_fraction: float = Field(
        0.1, ge=0, lt=1, description="more non-finite/out-of-range samples → invalid"
    )
    max_abs_value: float = Field(
        1e12, gt=0, description="|x| above this (signal units) counts as a missing sample"
    )
    hr_ref_bpm: float = Field(
        20.0,
        gt=0,
        description="HR rise over rest of a typical strong acute stress response (TSST: "
        "+15–25 bpm); with ln_rmssd_ref it sets the stress scale",
    )
    ln_rmssd_ref: float = Field(
        math.log(2.0),
        gt=0,
        description="fall of ln RMSSD under the same response (ln 2: RMSSD halved)",
    )
    hr_weight: float = Field(
        0.5, ge=0, le=1, description="share of HR in the stress index; the rest is ln RMSSD"
    )
    rest_stress: float = Field(
        0.15, gt=0, lt=0.5, description="the stress that the person's calm rest reads"
    )
    stress_gain: float = Field(
        4.0,
        gt=0,
        description="logistic slope k: stress = 1/(1+e^−(ln(r/(1−r)) + k·d)), r = rest_stress",
    )

    @model_validator(mode="after")
    def _check(self) -> HeartFeatureSettings:
        if self.hop_s > self.window_s:
            raise ValueError(f"hop_s ({self.hop_s}) must not exceed window_s ({self.window_s})")
        if self.min_rr_ms >= self.max_rr_ms:
            raise ValueError(
                f"min_rr_ms ({self.min_rr_ms}) must be below max_rr_ms ({self.max_rr_ms})"
            )
        return self
