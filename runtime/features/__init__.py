"""Feature extraction: EEG → attention, PPG/ECG → stress (formulas in SIGNALS.md).

Signal functions are pure numpy/scipy: band powers (:func:`compute_band_powers`), beats
(:func:`detect_beats_ppg`, :func:`detect_beats_ecg`), RR cleaning (:func:`clean_rr`) and HRV
(:func:`compute_hrv`). The streaming estimators (:class:`AttentionEstimator`,
:class:`StressEstimator`) time samples by index and nominal rate, so a fast replay gives the
same features as real time, and calibrate against the person's own resting baseline.
"""

from runtime.features._attention import (
    AttentionEstimate,
    AttentionEstimator,
    attention_baseline_settings,
)
from runtime.features._bands import (
    BAND_NAMES,
    BANDS,
    DEFAULT_BANDS,
    MIN_SAMPLES,
    compute_band_powers,
    compute_engagement_index,
    compute_psd,
)
from runtime.features._baseline import BASELINE_SET_FORMAT, RobustBaseline, differing_settings
from runtime.features._beats_ecg import detect_beats_ecg
from runtime.features._beats_ppg import detect_beats_ppg
from runtime.features._errors import SignalError
from runtime.features._hrv import LONG_WINDOW_S, HrvMetrics, compute_hrv
from runtime.features._notch import remove_line_noise
from runtime.features._quality import ChannelQuality, check_channel_quality
from runtime.features._rr import clean_rr, compute_rr_ms
from runtime.features._settings import (
    ADS1299_FULL_SCALE_UV,
    EegFeatureSettings,
    HeartFeatureSettings,
)
from runtime.features._stress import (
    StressEstimate,
    StressEstimator,
    clean_rr_with,
    compute_stress,
    compute_window_hrv,
    stress_baseline_settings,
)

__all__ = [
    "ADS1299_FULL_SCALE_UV",
    "BANDS",
    "BASELINE_SET_FORMAT",
    "BAND_NAMES",
    "DEFAULT_BANDS",
    "LONG_WINDOW_S",
    "MIN_SAMPLES",
    "AttentionEstimate",
    "AttentionEstimator",
    "ChannelQuality",
    "EegFeatureSettings",
    "HeartFeatureSettings",
    "HrvMetrics",
    "RobustBaseline",
    "SignalError",
    "StressEstimate",
    "StressEstimator",
    "attention_baseline_settings",
    "check_channel_quality",
    "clean_rr",
    "clean_rr_with",
    "compute_band_powers",
    "compute_engagement_index",
    "compute_hrv",
    "compute_psd",
    "compute_rr_ms",
    "compute_stress",
    "compute_window_hrv",
    "detect_beats_ecg",
    "detect_beats_ppg",
    "differing_settings",
    "remove_line_noise",
    "stress_baseline_settings",
]
