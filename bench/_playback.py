"""A 64-channel, 1000 Hz recording replayed by BrainFlow's playback board, through drivers/.

BrainFlow's PLAYBACK_FILE_BOARD replays a file in the row layout of a *master board* and
paces it by the file's own timestamps. No board in BrainFlow 5.23 has a descriptor with
64 EEG channels at 1000 Hz: the boards with ≥ 64 EEG rows are ANT Neuro's eego EE-211 and
EE-215 (64 EEG at 2000 Hz), EE-224 and EE-225 (64 at 16 000 Hz) and FreeEEG128 (128 at
256 Hz); the fastest 16-channel board is Cyton+Daisy over WiFi (16 at 1000 Hz). The
nearest real layout is the eego **EE-211** (``ANT_NEURO_EE_211_BOARD``: 70 rows, the
package counter in row 0, EEG in rows 1–64, the timestamp in row 68). Its descriptor
states the amplifier's default rate, 2000 Hz; BrainFlow's ANT Neuro driver sets the
amplifier to another of its rates with ``config_board("sampling_rate:1000")``, and a
recording made so has EE-211's rows at 1000 Hz. That is the file :func:`write_ee211_file`
writes (1 ms between timestamps), and :class:`MasterPlaybackSource` tells the driver the
rate the file was recorded at instead of the descriptor's default.

drivers/ accepts as a playback's ``master_board`` only the boards the runtime supports
(none has 64 channels), so :class:`MasterPlaybackSource` is the driver's own
:class:`~drivers.BrainFlowSource` with the master's id and layout put in; opening,
streaming, reading, chunking and drop counting are the driver's. :class:`PlaybackDriverStage`
is the daemon's driver stage opening that source.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

from bench._pipeline import eeg_channel_names, synthetic_eeg
from drivers import BrainFlowSource, SourceSettings, StreamLayout, describe_presets
from runtime.config import SourceConfig
from runtime.stages import DriverStage, source_settings

#: ANT Neuro eego EE-211: 64 EEG rows (BrainFlow's descriptor: 2000 Hz, the default rate).
EE211_BOARD_ID = int(BoardIds.ANT_NEURO_EE_211_BOARD)
#: Samples in the file: a multiple of 256, so the package counter (mod 256) runs on without
#: a jump when the playback board loops, and of the 16.384 s the periodic EEG repeats over.
LOOP_SAMPLES = 16_384


def ee211_layout(sampling_rate: float) -> StreamLayout:
    """EE-211's default preset as BrainFlow describes it, recorded at ``sampling_rate`` Hz
    (a rate the amplifier was set to), with 10-10 names on the first two EEG rows (Fp1,
    Fp2: the feature stage's blink check runs on them, as in the injected cases)."""
    layout = describe_presets(EE211_BOARD_ID)["default"]
    return replace(
        layout,
        sampling_rate=float(sampling_rate),
        eeg_names=tuple(eeg_channel_names(len(layout.eeg_rows))),
    )


def write_ee211_file(path: str | Path, fs: float = 1000.0, n_samples: int = LOOP_SAMPLES) -> Path:
    """Write ``n_samples`` of a 64-channel EE-211 recording at ``fs`` Hz to ``path``.

    Rows as BrainFlow's EE-211 descriptor places them: package counter 0, 1, … (mod 256),
    the periodic EEG of :func:`bench._pipeline.synthetic_eeg` in µV on the 64 EEG rows
    (so a looped playback has no seam), timestamps ``1 + i / fs`` s (the playback board
    waits the difference between consecutive ones), zeros elsewhere (impedance, trigger
    and marker rows).
    """
    from sim import write_brainflow_file

    layout = ee211_layout(fs)
    data = np.zeros((layout.num_rows, n_samples))
    data[layout.package_num_row] = np.arange(n_samples) % 256
    eeg = synthetic_eeg(len(layout.eeg_rows), fs, seconds=n_samples / fs)
    data[list(layout.eeg_rows)] = eeg[:, :n_samples]
    data[layout.timestamp_row] = 1.0 + np.arange(n_samples) / fs
    return write_brainflow_file(data, path)


class MasterPlaybackSource(BrainFlowSource):
    """The driver's BrainFlow source on the playback board, with any BrainFlow board as the
    master: ``master_id`` its id, ``layout`` its default preset at the recording's rate."""

    def __init__(self, settings: SourceSettings, master_id: int, layout: StreamLayout) -> None:
        self._master_id = master_id
        self._master_layout = layout
        super().__init__(settings)

    def _describe(self) -> dict[str, StreamLayout]:
        return {"default": self._master_layout}

    def _params(self) -> BrainFlowInputParams:
        params = super()._params()
        params.master_board = self._master_id
        return params


def ee211_source(file: str | Path, fs: float = 1000.0, *, loop: bool = True) -> BrainFlowSource:
    """The EE-211 playback of ``file`` (recorded at ``fs`` Hz) as the driver opens it."""
    settings = SourceSettings(board="playback", file=str(file), loop=loop)
    return MasterPlaybackSource(settings, EE211_BOARD_ID, ee211_layout(fs))


class PlaybackDriverStage(DriverStage):
    """The daemon's driver stage on :func:`ee211_source` (also when it reopens the board)."""

    def __init__(self, source: SourceConfig, status_interval_s: float, fs: float) -> None:
        super().__init__(source, status_interval_s)
        self.fs = fs

    def open_board(self) -> BrainFlowSource:
        settings = source_settings(self.source)
        board = ee211_source(settings.file, self.fs, loop=settings.loop)
        board.open()
        return board


def open_bare_playback(file: str | Path, *, loop: bool = True) -> BoardShim:
    """The same file on a bare BoardShim (no drivers/ code), prepared and streaming."""
    params = BrainFlowInputParams()
    params.master_board = EE211_BOARD_ID
    params.file = str(file)
    board = BoardShim(int(BoardIds.PLAYBACK_FILE_BOARD), params)
    board.prepare_session()
    board.config_board("loopback_true" if loop else "loopback_false")
    board.start_stream(450_000)
    return board
