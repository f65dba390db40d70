"""Real recordings shipped inside PyPI packages, read by path (see SIGNALS.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest


def package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed (dev extra): its recordings are the oracle data")
    path = Path(spec.origin).parent.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing from the installed {package}")
    return path


@pytest.fixture(scope="session")
def pyhrv_ecg() -> tuple[np.ndarray, float]:
    """pyhrv's SampleECG.txt: BITalino ECG, 1000 Hz, ~22 s (last column)."""
    return np.loadtxt(package_file("pyhrv", "files", "SampleECG.txt"))[:, -1], 1000.0


@pytest.fixture(scope="session")
def heartpy_ppg_short() -> tuple[np.ndarray, float]:
    """heartpy's data.csv: PPG, 100 Hz, ~25 s, clean."""
    return np.loadtxt(package_file("heartpy", "data", "data.csv")), 100.0


@pytest.fixture(scope="session")
def heartpy_ppg_long() -> tuple[np.ndarray, float]:
    """heartpy's data3.csv: PPG ≈100 Hz with datetimes, 11 min, with motion artifacts."""
    import pandas as pd

    frame = pd.read_csv(package_file("heartpy", "data", "data3.csv"))
    stamps = pd.to_datetime(frame["datetime"], format="ISO8601")
    duration_s = (stamps.iloc[-1] - stamps.iloc[0]).total_seconds()
    fs = (len(stamps) - 1) / duration_s
    return frame["hr"].to_numpy(dtype=float), fs


@pytest.fixture(scope="session")
def heartpy_ppg_dropouts() -> tuple[np.ndarray, float]:
    """heartpy's data2.csv: PPG ≈117 Hz (ms timer column), 128 s, motion and a dropout to 0."""
    import pandas as pd

    frame = pd.read_csv(package_file("heartpy", "data", "data2.csv"))
    fs = 1000.0 / float(np.median(np.diff(frame["timer"].to_numpy(dtype=float))))
    return frame["hr"].to_numpy(dtype=float), fs
