"""Export a session's raw data to EDF+/BDF+ (pyedflib) or FIF (MNE), markers as annotations,
or into a BIDS-EEG dataset (mne-bids, :mod:`runtime.lab._bids`), markers as events; what
is exported is read by :mod:`runtime.lab._signals`.

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
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from runtime.errors import ConfigError
from runtime.lab._signals import ExportedSignals, mne_raw, session_signals
from runtime.recorder import SessionError, load_session

if TYPE_CHECKING:
    from runtime.lab._bids import BidsOptions

logger = logging.getLogger("runtime.lab")

ExportFormat = Literal["edf", "bdf", "fif", "bids"]
EXPORT_FORMATS: tuple[str, ...] = ("edf", "bdf", "fif", "bids")
_DIGITAL_RANGE = {"edf": (-32768, 32767), "bdf": (-8388608, 8388607)}


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
    raw = mne_raw(signals)
    with warnings.catch_warnings():  # MNE warns about names not ending in raw.fif
        warnings.simplefilter("ignore", RuntimeWarning)
        raw.save(str(path), overwrite=True, verbose="error")
