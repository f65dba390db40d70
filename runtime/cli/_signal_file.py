"""Reading a one-channel signal from .npy or .csv for the offline commands.

Every way a file can be unreadable (empty, not a .npy, strings, objects, complex numbers,
no numbers at all) is a :class:`~runtime.errors.ConfigError` naming the file and what is
wrong, so ``kintsugi`` prints one line instead of a traceback.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from runtime.errors import ConfigError

_NPY_MAGIC = b"\x93NUMPY"
#: dtype kinds read as a signal: signed and unsigned integers, floats.
_NUMERIC_KINDS = {"i": "integer", "u": "unsigned integer", "f": "float"}
_KIND_NAMES = {
    "b": "booleans",
    "c": "complex numbers",
    "U": "strings",
    "S": "byte strings",
    "O": "Python objects",
    "V": "structured records",
    "M": "datetimes",
    "m": "timedeltas",
}


def read_signal(path: str, column: int | None) -> np.ndarray:
    """A 1-D float signal from a .npy file or a .csv column (a header row is skipped)."""
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"FILE {path!r} does not exist")
    if not file.is_file():
        raise ConfigError(f"FILE {path!r} is not a file")
    if file.stat().st_size == 0:
        raise ConfigError(f"FILE {path!r} is empty (0 bytes); give a recording")
    suffix = file.suffix.lower()
    if suffix == ".npy":
        return _read_npy(file, path)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise ConfigError(f"FILE {path!r}: use a .npy (1-D) or .csv file, not {suffix or 'none'}")
    return _read_text(file, path, suffix, column)


def _read_npy(file: Path, path: str) -> np.ndarray:
    try:
        with file.open("rb") as handle:
            magic = handle.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise ConfigError(f"FILE {path!r} cannot be read: {exc.strerror or exc}") from None
    if magic != _NPY_MAGIC:
        raise ConfigError(
            f"FILE {path!r} is not a .npy file (it does not start with numpy's header); "
            "write it with numpy.save, or give a .csv"
        )
    try:
        data = np.load(file, allow_pickle=False)
    except ValueError as exc:
        if "Object arrays" in str(exc):
            raise ConfigError(
                f"FILE {path!r} holds Python objects (object dtype), not numbers; save a "
                "numeric array, e.g. numpy.save(path, x.astype(float))"
            ) from None
        raise ConfigError(f"FILE {path!r} is not a readable .npy array: {exc}") from None
    except (EOFError, OSError) as exc:
        raise ConfigError(f"FILE {path!r} is truncated or unreadable: {exc}") from None
    if data.dtype.kind not in _NUMERIC_KINDS:
        what = _KIND_NAMES.get(data.dtype.kind, f"dtype {data.dtype}")
        fix = (
            "save the real part (x.real) or the magnitude (abs(x)) explicitly"
            if data.dtype.kind == "c"
            else "save a numeric array, e.g. numpy.save(path, x.astype(float))"
        )
        raise ConfigError(
            f"FILE {path!r} holds {what} (dtype {data.dtype}), not a real-valued signal; {fix}"
        )
    if data.ndim != 1:
        raise ConfigError(f"FILE {path!r} holds shape {data.shape}; give a 1-D array")
    if data.size == 0:
        raise ConfigError(f"FILE {path!r} holds an empty array (0 samples); give a recording")
    return data.astype(np.float64)


def _read_text(file: Path, path: str, suffix: str, column: int | None) -> np.ndarray:
    # .csv: commas; .tsv: tabs; .txt: any whitespace (e.g. pyhrv's SampleECG.txt).
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix)
    try:
        with warnings.catch_warnings():
            # A file of only comments warns "Empty input file"; it is refused below.
            warnings.simplefilter("ignore", UserWarning)
            rows = np.genfromtxt(file, delimiter=delimiter, dtype=np.float64, comments="#")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"FILE {path!r} is not a table of numbers with the same number of columns in "
            f"every row: {' '.join(str(exc).split())}"  # numpy's message spans lines
        ) from None
    if rows.ndim == 2 and np.all(np.isnan(rows[0])):
        rows = rows[1:]  # a header row
    elif rows.ndim == 1 and rows.size and np.isnan(rows[0]):
        rows = rows[1:]
    if rows.ndim == 1:
        if column not in (None, 0):
            raise ConfigError(f"--column {column}: FILE {path!r} has one column (index 0)")
        return _check_numbers(rows, path, 0)
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
    return _check_numbers(rows[:, column], path, column)


def _check_numbers(x: np.ndarray, path: str, column: int) -> np.ndarray:
    """Refuse a column with no numbers in it (empty, or text that reads as NaN)."""
    if x.size == 0 or not np.isfinite(x).any():
        raise ConfigError(
            f"FILE {path!r} has no numbers in column {column} ({x.size} rows read); give "
            "a column of numeric samples (a single header row is skipped)"
        )
    return x


def check_fs(fs: float) -> float:
    if not (fs > 0 and np.isfinite(fs)):
        raise ConfigError(f"--fs must be a positive sampling rate in Hz; {fs} is invalid")
    return fs
