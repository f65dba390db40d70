"""Scenario sources: a sim/ scenario rendered in a board's layout and replayed by BrainFlow.

The daemon replays a scenario through BrainFlow's PLAYBACK_FILE_BOARD, so the real driver
code path runs in CI with known ground truth. This module bridges drivers/ (which knows
BrainFlow's board descriptors) and sim/ (which knows physiology, not BrainFlow).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from brainflow.board_shim import BoardShim, BrainFlowPresets

from drivers import lookup_board

logger = logging.getLogger("runtime.scenario")


def sim_layout_for(board: str) -> Any:
    """The :class:`sim.BoardLayout` of ``board``, built from BrainFlow's descriptors.

    Only presets ``BoardShim.get_board_presets`` returns are queried. The auxiliary preset
    is included when the default preset has no PPG (Galea: PPG at 50 Hz on the auxiliary
    preset). Boards without PPG carry an ECG lead on their last EEG channel.
    """
    from sim import BoardLayout

    board_id = lookup_board(board).board_id
    presets = {int(p) for p in BoardShim.get_board_presets(board_id)}
    default = BoardShim.get_board_descr(board_id, BrainFlowPresets.DEFAULT_PRESET)
    aux = None
    if int(BrainFlowPresets.AUXILIARY_PRESET) in presets and not default.get("ppg_channels"):
        aux = BoardShim.get_board_descr(board_id, BrainFlowPresets.AUXILIARY_PRESET)
    return BoardLayout.from_descr(default, aux)


def render_scenario_files(
    scenario: str, master_board: str, directory: Path, speed: float
) -> dict[str, str]:
    """Render ``scenario`` for ``master_board`` into ``directory``.

    Returns the ``[source]`` keys that replay it: ``file``, ``file_aux`` (when the board's
    heart signal is on the auxiliary preset), and ``ecg_channels``/``heart_signal`` for
    boards whose heart signal is an ECG lead on an EEG channel.
    """
    from sim import load_scenario, render_session

    layout = sim_layout_for(master_board)
    recording = render_session(load_scenario(scenario), layout, speed=speed)
    directory.mkdir(parents=True, exist_ok=True)
    written = recording.write(directory / f"{Path(scenario).stem}.csv")
    logger.info("scenario: rendered %s for %s into %s", scenario, master_board, directory)
    keys: dict[str, Any] = {"file": str(written.data)}
    if written.aux is not None:
        keys["file_aux"] = str(written.aux)
    if layout.ecg_rows and not layout.ppg_rows and not (layout.aux and layout.aux.ppg_rows):
        board_eeg = list(
            BoardShim.get_board_descr(
                lookup_board(master_board).board_id, BrainFlowPresets.DEFAULT_PRESET
            )["eeg_channels"]
        )
        keys["heart_signal"] = "ecg"
        keys["ecg_channels"] = tuple(board_eeg.index(r) for r in layout.ecg_rows)
    return keys
