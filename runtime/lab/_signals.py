"""What a session exports: the default preset's EEG channels (µV), the channels the config
wires to ECG (µV) and the PPG rows (arbitrary units), at the preset's rate, with markers from
the board's marker row (sample-exact) labelled by the recorded ``marker`` messages.

Every export format reads the session through :func:`session_signals` (EDF+/BDF+/FIF in
:mod:`runtime.lab._export`, BIDS in :mod:`runtime.lab._bids`). Non-finite samples, which
those formats cannot hold, are written as 0 and counted (``nonfinite``). A session of one
person whose chunks named them exports that person's board; a session several people
streamed into is refused, naming them (:func:`runtime.recorder.only_board`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from runtime.recorder import RecordedSession, SessionError, only_board

__all__ = [
    "MULTI_PERSON_HINT",
    "ExportedSignals",
    "export_board",
    "marker_annotations",
    "mne_raw",
    "session_signals",
]


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


def mne_raw(signals: ExportedSignals, line_freq_hz: float | None = None) -> Any:
    """An ``mne.io.RawArray`` of the signals (EEG/ECG in volts, PPG unitless) with the
    markers as annotations: what the FIF and BIDS writers both save. mne is imported here,
    on first use, so reading a session does not load it."""
    import mne

    scale = np.array([1e-6 if kind in ("eeg", "ecg") else 1.0 for kind in signals.kinds])
    info = mne.create_info(signals.names, signals.fs, signals.kinds, verbose="error")
    if line_freq_hz is not None:
        info["line_freq"] = float(line_freq_hz)
    raw = mne.io.RawArray(signals.data * scale[:, np.newaxis], info, verbose="error")
    raw.set_meas_date(signals.start)
    if signals.annotations:
        onsets, labels = zip(*signals.annotations, strict=True)
        raw.set_annotations(
            mne.Annotations(list(onsets), [0.0] * len(onsets), list(labels),
                            orig_time=signals.start)
        )
    return raw
