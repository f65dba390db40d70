"""LSL bridge: the daemon's raw EEG, heart data, features, control and markers as LSL streams,
so LabRecorder, OpenViBE or any LSL tool can see them (``kintsugi run ... --lsl``)."""

from runtime.lsl._outlets import CONTROL_CHANNELS, FEATURE_CHANNELS, RAW_STREAM_TYPES
from runtime.lsl._stage import LSL_TOPICS, LslBridgeStage

__all__ = [
    "CONTROL_CHANNELS",
    "FEATURE_CHANNELS",
    "LSL_TOPICS",
    "RAW_STREAM_TYPES",
    "LslBridgeStage",
]
