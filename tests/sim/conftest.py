"""Fixtures for sim/ tests: board layouts from BrainFlow's own descriptors, rendered sessions."""

from __future__ import annotations

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowPresets

import sim


def _layout(board_id: int, with_aux: bool) -> sim.BoardLayout:
    presets = {int(p) for p in BoardShim.get_board_presets(board_id)}
    default = BoardShim.get_board_descr(board_id, BrainFlowPresets.DEFAULT_PRESET)
    aux = None
    if with_aux and int(BrainFlowPresets.AUXILIARY_PRESET) in presets:
        aux = BoardShim.get_board_descr(board_id, BrainFlowPresets.AUXILIARY_PRESET)
    return sim.BoardLayout.from_descr(default, aux)


@pytest.fixture(scope="session")
def synthetic_layout() -> sim.BoardLayout:
    return _layout(int(BoardIds.SYNTHETIC_BOARD), with_aux=False)


@pytest.fixture(scope="session")
def cyton_layout() -> sim.BoardLayout:
    return _layout(int(BoardIds.CYTON_BOARD), with_aux=False)


@pytest.fixture(scope="session")
def galea_layout() -> sim.BoardLayout:
    return _layout(int(BoardIds.GALEA_BOARD), with_aux=True)


@pytest.fixture(scope="session")
def artifact_pair(
    synthetic_layout: sim.BoardLayout,
) -> tuple[sim.SimRecording, sim.SimRecording]:
    """artifacts.toml on the synthetic layout, rendered with and without its artifacts."""
    scenario = sim.load_scenario("artifacts")
    dirty = sim.render_session(scenario, synthetic_layout, speed=0)
    clean = sim.render_session(scenario.without_artifacts(), synthetic_layout, speed=0)
    return dirty, clean


def window_log_engagement(
    eeg_uv: np.ndarray, fs: float, window_s: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """ln β/(α+θ) per channel on consecutive windows, band powers from scipy's Welch.

    Returns (log_e of shape (n_windows, n_channels), window index bounds (n_windows, 2)).
    """
    from scipy.signal import welch

    w = int(round(window_s * fs))
    n_win = eeg_uv.shape[1] // w
    blocks = eeg_uv[:, : n_win * w].reshape(eeg_uv.shape[0], n_win, w).transpose(1, 0, 2)
    nper = int(round(2 * fs))
    f, psd = welch(blocks, fs=fs, nperseg=nper, noverlap=nper // 2, axis=-1)

    def band(lo: float, hi: float) -> np.ndarray:
        sel = (f >= lo) & (f <= hi)
        return np.trapezoid(psd[..., sel], f[sel], axis=-1)

    log_e = np.log(band(13, 30) / (band(4, 8) + band(8, 13)))
    bounds = np.stack([np.arange(n_win) * w, (np.arange(n_win) + 1) * w], axis=1)
    return log_e, bounds
