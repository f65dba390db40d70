"""Which rows of which preset go to which raw topic: the streams a board's readings are
published as (``raw.eeg``, ``raw.ecg``, ``raw.ppg``).

``raw.eeg``: the EEG rows of the preset that has them, minus the channels wired to ECG;
``raw.ecg``: those channels; ``raw.ppg``: the PPG rows of whichever preset carries them
(Galea's auxiliary preset). Needs only the presets' layouts, not the board: the driver
stage plans from an open board, ``kintsugi check`` and a recorded session's baseline from
their layouts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drivers._boards import StreamLayout

__all__ = ["RawStream", "plan_raw_streams"]


@dataclass(frozen=True)
class RawStream:
    """One raw topic: which preset and rows it takes, and the channel names it announces."""

    topic: str
    preset: str
    rows: tuple[int, ...]
    names: tuple[str, ...]
    fs: float


def plan_raw_streams(
    layouts: Mapping[str, StreamLayout], ecg_channels: Iterable[int] = ()
) -> list[RawStream]:
    """Which rows of which preset go to which raw topic, for a board's presets and the EEG
    channels wired to ECG (``[source] ecg_channels``, indices among the EEG channels); a
    ValueError names an ECG channel the board does not have."""
    streams: list[RawStream] = []
    ecg = set(ecg_channels)
    for name, layout in layouts.items():
        if layout.eeg_rows:
            bad = sorted(i for i in ecg if i >= len(layout.eeg_rows))
            if bad:
                raise ValueError(
                    f"[source] ecg_channels {bad} do not exist: the {name} preset has "
                    f"{len(layout.eeg_rows)} EEG channels (indices 0–{len(layout.eeg_rows) - 1})"
                )
            keep = [i for i in range(len(layout.eeg_rows)) if i not in ecg]
            streams.append(
                RawStream(
                    "raw.eeg",
                    name,
                    tuple(layout.eeg_rows[i] for i in keep),
                    tuple(layout.eeg_names[i] for i in keep),
                    layout.sampling_rate,
                )
            )
            if ecg:
                streams.append(
                    RawStream(
                        "raw.ecg",
                        name,
                        tuple(layout.eeg_rows[i] for i in sorted(ecg)),
                        tuple(f"ECG:{layout.eeg_names[i]}" for i in sorted(ecg)),
                        layout.sampling_rate,
                    )
                )
        if layout.ppg_rows and not any(s.topic == "raw.ppg" for s in streams):
            streams.append(
                RawStream(
                    "raw.ppg",
                    name,
                    tuple(layout.ppg_rows),
                    tuple(f"PPG{i + 1}" for i in range(len(layout.ppg_rows))),
                    layout.sampling_rate,
                )
            )
    return streams
