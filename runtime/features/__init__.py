"""Feature extraction: EEG → attention, PPG/ECG → stress (formulas in SIGNALS.md).

Streaming estimators time samples by index and nominal rate, so fast replay gives the
same features as real time; signal functions are pure numpy/scipy.
"""

from runtime.features._attention import AttentionEstimate, AttentionEstimator
from runtime.features._bands import (
    BAND_NAMES,
    BANDS,
    compute_band_powers,
    compute_engagement_index,
)
from runtime.features._baseline import RobustBaseline
from runtime.features._beats import clean_rr, detect_beats_ecg, detect_beats_ppg
from runtime.features._hrv import HrvMetrics, compute_hrv
from runtime.features._quality import ChannelQuality, check_channel_quality
from runtime.features._settings import EegFeatureSettings, HeartFeatureSettings
from runtime.features._stress import StressEstimate, StressEstimator, compute_window_hrv

__all__ = [
    "BANDS",
    "BAND_NAMES",
    "AttentionEstimate",
    "AttentionEstimator",
    "ChannelQuality",
    "EegFeatureSettings",
    "HeartFeatureSettings",
    "HrvMetrics",
    "RobustBaseline",
    "StressEstimate",
    "StressEstimator",
    "check_channel_quality",
    "clean_rr",
    "compute_band_powers",
    "compute_engagement_index",
    "compute_hrv",
    "compute_window_hrv",
    "detect_beats_ecg",
    "detect_beats_ppg",
]
