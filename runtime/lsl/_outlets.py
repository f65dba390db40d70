"""LSL stream descriptions for what the daemon publishes (pylsl, which ships liblsl)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Stream type by raw topic: LSL tools (LabRecorder, OpenViBE) select streams by type.
RAW_STREAM_TYPES = {"raw.eeg": "EEG", "raw.ppg": "PPG", "raw.ecg": "ECG"}
#: Channels of the features stream: one sample per attention or stress estimate.
FEATURE_CHANNELS = ("attention", "attention_valid", "stress", "stress_valid", "hr_bpm",
                    "rmssd_ms")
#: Channels of the control stream: one sample per control message.
CONTROL_CHANNELS = ("intensity", "gentle", "safe")


def stream_info(
    pylsl: Any,
    name: str,
    stream_type: str,
    channels: Sequence[str],
    fs: float,
    channel_format: Any,
    source_id: str,
    unit: str = "",
    board: str = "",
) -> Any:
    """A ``pylsl.StreamInfo`` with channel labels (and units) in its description (XDF style)."""
    info = pylsl.StreamInfo(name, stream_type, len(channels), fs, channel_format, source_id)
    desc = info.desc()
    desc.append_child_value("manufacturer", "kintsugi")
    if board:
        desc.append_child_value("board", board)
    chans = desc.append_child("channels")
    for label in channels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        if unit:
            ch.append_child_value("unit", unit)
        ch.append_child_value("type", stream_type)
    return info
