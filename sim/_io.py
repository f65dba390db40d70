"""BrainFlow's file format, written without BrainFlow.

``DataFilter.write_file(data, path, 'w')`` writes ``data`` (rows × samples) transposed: one
sample per line, the rows' values as C ``%f`` (six decimals; ``nan``/``inf`` spelled so),
separated by tabs, each line ending in ``\\n``. :func:`write_brainflow_file` writes exactly
those bytes, so ``DataFilter.read_file`` and the playback board read the files back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim._errors import SimError

_CHUNK_LINES = 2048


def write_brainflow_file(data: np.ndarray, path: str | Path) -> Path:
    """Write ``data`` (num_rows × n_samples) to ``path`` in BrainFlow's file format."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2:
        raise SimError(f"'data' must be 2-D (num_rows, n_samples); got shape {arr.shape}.")
    path = Path(path)
    n_rows = arr.shape[0]
    line = "\t".join(["%f"] * n_rows) + "\n"
    samples = np.ascontiguousarray(arr.T)
    with path.open("w", encoding="ascii", newline="\n") as fh:
        for i in range(0, samples.shape[0], _CHUNK_LINES):
            block = samples[i: i + _CHUNK_LINES]
            fh.write((line * block.shape[0]) % tuple(block.ravel().tolist()))
    return path


def aux_path(path: str | Path) -> Path:
    """Path of the auxiliary-preset file written beside ``path``: ``PATH.aux``."""
    return Path(f"{path}.aux")


def truth_paths(path: str | Path) -> tuple[Path, Path]:
    """Paths of the ground truth written beside ``path``: ``PATH.truth.npz``, ``.truth.json``."""
    return Path(f"{path}.truth.npz"), Path(f"{path}.truth.json")
