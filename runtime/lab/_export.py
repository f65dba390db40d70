"""Export a session's raw data to EDF+/BDF+ (pyedflib) or FIF (MNE), markers as annotations,
or into a BIDS-EEG dataset (mne-bids, :mod:`runtime.lab._bids`), markers as events.

Exported signals are the default preset's EEG channels (µV), the channels the config wires to
ECG (µV) and the PPG rows (arbitrary units), at the preset's rate. Markers come from the
board's marker row (sample-exact), labelled with the recorded ``marker`` messages. EDF
stores 16-bit and BDF 24-bit integers per channel, scaled to each channel's own range, so
a sample is exact to (max − min) / 65535 (EDF) or / 16777215 (BDF); non-finite samples
(which these formats cannot hold) are written as 0 and counted.

A session of one person whose chunks named them exports that person's board
(``persons/<person>/raw.csv``); a session several people streamed into is refused, naming
them (:func:`runtime.recorder.only_board`).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from runtime.errors import ConfigError
from runtime.recorder import RecordedSession, SessionError, load_session, only_board

if TYPE_CHECKING:
    from runtime.lab._bids import BidsOptions

logger = logging.getLogger("runtime.lab")

ExportFormat = Literal["edf", "bdf", "fif", "bids"]
EXPORT_FORMATS: tuple[str, ...] = ("edf", "bdf", "fif", "bids")
_DIGITAL_RANGE = {"edf": (-32768, 32767), "bdf": (-8388608, 8388607)}


@dataclass
class ExportedSignals:
    """What is exported: names, kinds (eeg/ecg/misc), units, data (n_channels, n)."""

    names: list[str]
    kinds: list[str]
    units: list[str]
    data: np.ndarray
    fs: float
    start: datetime
    annotations: list[tuple[float, str]] = field(default_factory=list)
    nonfinite: int = 0


#: What a refused multi-person export says to do instead.
MULTI_PERSON_HINT = (
    "each person's raw rows are in persons/<person>/raw.csv (BrainFlow's format; "
    "runtime.recorder.read_raw reads them)"
)


def export_board(session: RecordedSession) -> str | None:
    """The board an export reads: None for the one that named nobody, or the one person's
    (:func:`runtime.recorder.only_board`; several people: :class:`SessionError`)."""
    return only_board(session.metadata, session.directory, "export", MULTI_PERSON_HINT)


def session_signals(session: RecordedSession) -> ExportedSignals:
    """The signals and annotations of a session's default preset, ready to export."""
    person = export_board(session)
    boards = session.samples_of(person)
    if "default" not in boards:
        raise SessionError(
            f"{session.directory} has no raw data (raw.csv): nothing to export; the driver must "
            "publish raw.board.* while recording"
        )
    raw = boards["default"]
    layout = session.layout("default", person)
    fs = float(layout["sampling_rate"])
    source = session.metadata.get("config", {}).get("source", {})
    ecg = set(source.get("ecg_channels", []))
    names: list[str] = []
    kinds: list[str] = []
    units: list[str] = []
    rows: list[int] = []
    for i, (row, name) in enumerate(zip(layout["eeg_rows"], layout["eeg_names"], strict=True)):
        names.append(f"ECG {name}" if i in ecg else str(name))
        kinds.append("ecg" if i in ecg else "eeg")
        units.append("uV")
        rows.append(int(row))
    for i, row in enumerate(layout.get("ppg_rows", [])):
        names.append(f"PPG{i + 1}")
        kinds.append("misc")
        units.append("")
        rows.append(int(row))
    data = np.array(raw[rows], dtype=np.float64)
    bad = ~np.isfinite(data)
    data[bad] = 0.0
    stamps = raw[int(layout["timestamp_row"])]
    first = float(stamps[0]) if stamps.size else 0.0
    if not first > 1e9:  # zero stamps (a full-speed replay): the session's start instead
        first = float(session.metadata.get("started_at") or 0.0)
    start = datetime.fromtimestamp(first, tz=UTC).replace(microsecond=0)
    return ExportedSignals(
        names, kinds, units, data, fs, start, marker_annotations(session, fs, person),
        int(bad.sum()),
    )


def marker_annotations(
    session: RecordedSession, fs: float, person: str | None = None
) -> list[tuple[float, str]]:
    """(onset_s, label) of each non-zero sample of the default preset's marker row (of
    ``person``'s board; None: the board that named nobody)."""
    layout = session.layout("default", person)
    marker_row = layout.get("marker_row")
    if marker_row is None:
        return []
    row = session.samples_of(person)["default"][int(marker_row)]
    labels = session.marker_labels()
    out = []
    for index in np.flatnonzero(np.isfinite(row) & (row != 0)):
        value = float(row[index])
        out.append((index / fs, labels.get(value, f"marker {value:g}")))
    return out


def export_session(
    directory: Path | str,
    fmt: str,
    path: Path | str,
    *,
    overwrite: bool = False,
    bids: BidsOptions | None = None,
) -> ExportedSignals:
    """Write a session's signals to ``path`` as ``fmt`` (edf, bdf or fif), or into the BIDS
    root ``path`` (bids; entities from ``bids``, see :func:`runtime.lab.export_bids`)."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(EXPORT_FORMATS)}; {fmt!r} is not")
    if fmt == "bids":
        from runtime.lab._bids import export_bids

        return export_bids(directory, path, bids, overwrite=overwrite).signals
    if bids is not None:
        raise ConfigError(f"BIDS entities apply to --format bids only, not --format {fmt}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"-o {str(path)!r} exists: choose a new file name (or --overwrite)")
    if not path.parent.is_dir():
        raise ConfigError(f"-o {str(path)!r}: the directory {str(path.parent)!r} does not exist")
    signals = session_signals(load_session(directory))
    if signals.data.shape[1] == 0:
        raise SessionError(f"{directory}: the raw file holds no samples")
    if signals.nonfinite:
        logger.warning("export: %d non-finite samples written as 0", signals.nonfinite)
    if fmt == "fif":
        _write_fif(signals, path)
    else:
        _write_edf(signals, path, fmt)
    logger.info("export: %s → %s (%s)", directory, path, fmt)
    return signals


def physical_range(x: np.ndarray) -> tuple[float, float]:
    """Whole-number physical min/max around ``x`` (EDF headers hold 8 characters)."""
    low = math.floor(float(np.min(x))) if x.size else -1.0
    high = math.ceil(float(np.max(x))) if x.size else 1.0
    if high <= low:
        low, high = low - 1.0, high + 1.0
    if max(abs(low), abs(high)) >= 1e8:
        raise SessionError(f"values up to {max(abs(low), abs(high)):g} do not fit an EDF header")
    return float(low), float(high)


def _write_edf(signals: ExportedSignals, path: Path, fmt: str) -> None:
    import pyedflib

    fs = signals.fs
    if fs != int(fs):
        raise SessionError(f"EDF needs a whole-number sampling rate per second; {fs} Hz is not")
    digital_min, digital_max = _DIGITAL_RANGE[fmt]
    file_type = pyedflib.FILETYPE_EDFPLUS if fmt == "edf" else pyedflib.FILETYPE_BDFPLUS
    headers = []
    for name, unit, x in zip(signals.names, signals.units, signals.data, strict=True):
        low, high = physical_range(x)
        headers.append(
            {
                "label": name[:16],
                "dimension": unit,
                "sample_frequency": int(fs),
                "physical_min": low,
                "physical_max": high,
                "digital_min": digital_min,
                "digital_max": digital_max,
                "transducer": "",
                "prefilter": "",
            }
        )
    writer = pyedflib.EdfWriter(str(path), len(headers), file_type=file_type)
    try:
        writer.setSignalHeaders(headers)
        writer.setStartdatetime(signals.start.replace(tzinfo=None))
        writer.setEquipment("kintsugi")
        writer.writeSamples([np.ascontiguousarray(x) for x in signals.data])
        for onset, label in signals.annotations:
            writer.writeAnnotation(onset, -1, label)
    finally:
        writer.close()


def _write_fif(signals: ExportedSignals, path: Path) -> None:
    import mne

    scale = np.array([1e-6 if kind in ("eeg", "ecg") else 1.0 for kind in signals.kinds])
    info = mne.create_info(signals.names, signals.fs, signals.kinds, verbose="error")
    raw = mne.io.RawArray(signals.data * scale[:, np.newaxis], info, verbose="error")
    raw.set_meas_date(signals.start)
    if signals.annotations:
        onsets, labels = zip(*signals.annotations, strict=True)
        raw.set_annotations(
            mne.Annotations(list(onsets), [0.0] * len(onsets), list(labels),
                            orig_time=signals.start)
        )
    with warnings.catch_warnings():  # MNE warns about names not ending in raw.fif
        warnings.simplefilter("ignore", RuntimeWarning)
        raw.save(str(path), overwrite=True, verbose="error")
