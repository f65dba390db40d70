"""A recorded session's calibration, recomputed from its raw data.

The estimators time samples by index and nominal rate, so running them over the session's
``raw.csv`` (the rows the driver published, cast to float32 as on the bus) with the
session's recorded config gives the baseline the live features stage froze when its
calibration ended, with no file written during the session. (Samples lost on the bus
between the driver and the live features stage are the exception: the recording holds
them, the live stage had NaN in their place.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import ConfigError
from runtime.features import AttentionEstimator, StressEstimator

__all__ = ["derive_session_baseline"]

#: Samples pushed per step (1 s at 250 Hz): calibration is checked after each.
_STEP_SAMPLES = 250


def _layouts(presets: dict[str, Any]) -> dict[str, Any]:
    from drivers import StreamLayout  # brainflow: only when a baseline is derived

    layouts = {}
    for name, info in presets.items():
        d = info["layout"]
        layouts[name] = StreamLayout(
            preset=0, preset_name=str(d.get("preset", name)),
            sampling_rate=float(d["sampling_rate"]), num_rows=int(d["num_rows"]),
            package_num_row=int(d["package_num_row"]), timestamp_row=int(d["timestamp_row"]),
            marker_row=d.get("marker_row"), eeg_rows=tuple(d.get("eeg_rows", ())),
            eeg_names=tuple(d.get("eeg_names", ())), ppg_rows=tuple(d.get("ppg_rows", ())),
            ecg_rows=tuple(d.get("ecg_rows", ())), eda_rows=tuple(d.get("eda_rows", ())),
        )
    return layouts


def _calibrate(estimator: Any, data: np.ndarray) -> dict[str, Any] | None:
    for start in range(0, data.shape[-1], _STEP_SAMPLES):
        estimator.push(data[..., start:start + _STEP_SAMPLES])
        if estimator.baseline.calibrated:
            return dict(estimator.baseline.to_dict())
    return None


def derive_session_baseline(directory: Path | str) -> dict[str, dict[str, Any]]:
    """The per-estimator baselines (``attention``, and ``stress`` when the session had a
    heart signal long enough to calibrate) of a recorded session; an error when the session
    started from a saved baseline (it has no calibration of its own) or is too short."""
    # Imported here: the recorder imports runtime.stages, whose feature stage imports this
    # package (SessionBaseline), and the driver stage loads brainflow.
    from drivers import plan_raw_streams
    from runtime.config import config_from_mapping
    from runtime.recorder import (
        SessionError,
        board_presets,
        only_board,
        read_board_file,
        read_metadata,
    )

    directory = Path(directory)
    metadata = read_metadata(directory)
    config = config_from_mapping(metadata.get("config", {}), origin=f"{directory}/session.json")
    if config.session.baseline:
        raise ConfigError(
            f"session {str(directory)!r} started from the saved baseline "
            f"{config.session.baseline!r}, so it has no calibration of its own: save a "
            "session that calibrated, or pick a saved one with `kintsugi baseline use`"
        )
    # One person's session (their chunks named them) calibrates on their board's files;
    # several people's is refused, naming them.
    person = only_board(metadata, directory, "deriving a baseline")
    presets = board_presets(metadata, person, directory=directory)
    streams = {s.topic: s for s in plan_raw_streams(_layouts(presets), config.source.ecg_channels)}
    eeg = streams.get("raw.eeg")
    if eeg is None:
        raise SessionError(f"session {str(directory)!r} holds no EEG: nothing to calibrate")
    boards: dict[str, np.ndarray] = {}

    def rows(stream: Any) -> np.ndarray:
        if stream.preset not in boards:
            info = presets[stream.preset]
            boards[stream.preset] = read_board_file(
                directory / info["file"], int(info["num_rows"])
            ).data
        return boards[stream.preset][list(stream.rows)].astype(np.float32).astype(np.float64)

    sections: dict[str, dict[str, Any]] = {}
    eeg_data = rows(eeg)
    attention = AttentionEstimator(eeg.fs, eeg.names, config.features.eeg)
    found = _calibrate(attention, eeg_data)
    if found is None:
        raise SessionError(
            f"session {str(directory)!r} holds {eeg_data.shape[-1] / eeg.fs:.1f} s of EEG, "
            f"too little to calibrate attention ([features.eeg] baseline_s = "
            f"{config.features.eeg.baseline_s:g} s of valid windows): record a longer rest"
        )
    sections["attention"] = found
    signal = config.source.heart_signal
    heart = streams.get(f"raw.{signal}")
    if heart is not None and config.source.heart_channel < len(heart.rows):
        stress = StressEstimator(heart.fs, "ecg" if signal == "ecg" else "ppg",
                                 config.features.heart)
        found = _calibrate(stress, rows(heart)[config.source.heart_channel])
        if found is not None:
            sections["stress"] = found
    return sections
