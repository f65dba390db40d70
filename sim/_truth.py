"""Ground truth beside a recording: arrays in ``PATH.truth.npz``, a summary in ``.truth.json``.

The npz holds plain arrays only (no pickles): per-sample and per-second timelines, beats, HRV
windows, and the artifact spans as parallel arrays (``artifact_channels`` as "0,1" strings).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Recorded(Protocol):
    """What the truth files are written from: a rendered recording (sim._render's
    ``SimRecording``), named by its shape so that this module need not import the renderer
    that calls it."""

    truth: Any
    layout: Any
    data: np.ndarray
    aux_data: np.ndarray | None


def save_truth(rec: Recorded, npz: Path, js: Path, *, data_path: Path,
               aux: Path | None) -> None:
    """Write ``rec``'s ground truth to ``npz`` and its summary to ``js``."""
    tr = rec.truth
    arts = tr.artifacts
    arrays: dict[str, Any] = {
        "sample_index": tr.sample_index, "t_s": tr.t_s, "attention": tr.attention,
        "stress": tr.stress, "second_s": tr.second_s, "attention_1hz": tr.attention_1hz,
        "stress_1hz": tr.stress_1hz, "log_engagement_1hz": tr.log_engagement_1hz,
        "beat_times_s": tr.beat_times_s, "rr_ms": tr.rr_ms,
        "hrv_start_s": tr.hrv.start_s, "hrv_end_s": tr.hrv.end_s, "hrv_hr_bpm": tr.hrv.hr_bpm,
        "hrv_rmssd_ms": tr.hrv.rmssd_ms, "hrv_sdnn_ms": tr.hrv.sdnn_ms,
        "artifact_kind": np.array([a.kind for a in arts], dtype="U32"),
        "artifact_start_s": np.array([a.start_s for a in arts], dtype=float),
        "artifact_end_s": np.array([a.end_s for a in arts], dtype=float),
        "artifact_signal": np.array([a.signal for a in arts], dtype="U8"),
        "artifact_channels": np.array([",".join(map(str, a.channels)) for a in arts],
                                      dtype="U256"),
        "artifact_spec_index": np.array([a.spec_index for a in arts], dtype=int),
    }
    if tr.aux_sample_index is not None:
        arrays["aux_sample_index"] = tr.aux_sample_index
        arrays["aux_t_s"] = tr.aux_t_s
    with npz.open("wb") as fh:
        np.savez_compressed(fh, **arrays)

    lay = rec.layout
    layout = dataclasses.asdict(lay)
    summary = {
        "scenario": tr.scenario,
        "seed": tr.seed,
        "files": {"data": str(data_path), "aux": str(aux) if aux else None,
                  "truth_npz": str(npz)},
        "duration_s": tr.duration_s,
        "calibration_s": tr.calibration_s,
        "speed": tr.speed,
        "start_time": tr.start_time,
        "fs": tr.fs,
        "n_samples": int(rec.data.shape[1]),
        "aux_fs": tr.aux_fs,
        "aux_n_samples": None if rec.aux_data is None else int(rec.aux_data.shape[1]),
        "layout": layout,
        "units": {"eeg": "uV", "ecg": "uV", "ppg": "arbitrary", "timestamp": "unix s"},
        "pulse_arrival_s": tr.pulse_arrival_s,
        "n_beats": int(tr.beat_times_s.size),
        "hr_bpm_range": _range(tr.hrv.hr_bpm),
        "rmssd_ms_range": _range(tr.hrv.rmssd_ms),
        "attention_range": _range(tr.attention_1hz),
        "stress_range": _range(tr.stress_1hz),
        "artifacts": [dataclasses.asdict(a) for a in arts],
        "skipped_artifacts": list(tr.skipped_artifacts),
    }
    js.write_text(json.dumps(summary, indent=2, default=_jsonable) + "\n", encoding="utf-8")


def _range(x: np.ndarray) -> list[float] | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return [float(x.min()), float(x.max())] if x.size else None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} to the truth summary")


def load_truth(path: str | Path) -> dict[str, np.ndarray]:
    """Read the ``PATH.truth.npz`` written beside recording ``path`` (or the npz path itself)."""
    p = Path(path)
    npz = p if p.name.endswith(".truth.npz") else Path(f"{p}.truth.npz")
    with np.load(npz, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
