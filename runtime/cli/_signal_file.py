"""Reading a one-channel signal from .npy or .csv for the offline commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runtime.errors import ConfigError


def read_signal(path: str, column: int | None) -> np.ndarray:
    """A 1-D float signal from a .npy file or a .csv column (a header row is skipped)."""
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"FILE {path!r} does not exist")
    suffix = file.suffix.lower()
    if suffix == ".npy":
        try:
            data = np.load(file, allow_pickle=False)
        except ValueError as exc:
            raise ConfigError(f"FILE {path!r} is not a numeric .npy array: {exc}") from None
        if data.ndim != 1:
            raise ConfigError(f"FILE {path!r} holds shape {data.shape}; give a 1-D array")
        return data.astype(np.float64)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise ConfigError(f"FILE {path!r}: use a .npy (1-D) or .csv file, not {suffix or 'none'}")
    # .csv: commas; .tsv: tabs; .txt: any whitespace (e.g. pyhrv's SampleECG.txt).
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix)
    rows = np.genfromtxt(file, delimiter=delimiter, dtype=np.float64, comments="#")
    if rows.ndim == 2 and np.all(np.isnan(rows[0])):
        rows = rows[1:]  # a header row
    elif rows.ndim == 1 and rows.size and np.isnan(rows[0]):
        rows = rows[1:]
    if rows.ndim == 1:
        if column not in (None, 0):
            raise ConfigError(f"--column {column}: FILE {path!r} has one column (index 0)")
        return rows
    n_columns = rows.shape[1]
    if column is None:
        if n_columns != 1:
            raise ConfigError(
                f"FILE {path!r} has {n_columns} columns; choose one with --column N "
                f"(0–{n_columns - 1})"
            )
        column = 0
    if not 0 <= column < n_columns:
        raise ConfigError(f"--column {column}: FILE {path!r} has columns 0–{n_columns - 1}")
    return rows[:, column]


def check_fs(fs: float) -> float:
    if not (fs > 0 and np.isfinite(fs)):
        raise ConfigError(f"--fs must be a positive sampling rate in Hz; {fs} is invalid")
    return fs
