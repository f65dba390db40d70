"""Scenario sources: a sim/ scenario rendered in a board's layout and replayed by BrainFlow.

The daemon replays a scenario through BrainFlow's PLAYBACK_FILE_BOARD, so the real driver
code path runs in CI with known ground truth. This module bridges drivers/ (which knows
BrainFlow's board descriptors: :func:`drivers.board_descr`) and sim/ (which knows
physiology, not BrainFlow); it imports neither brainflow nor sim at module level.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from drivers import board_descr, board_presets

logger = logging.getLogger("runtime.scenario")


def sim_layout_for(board: str) -> Any:
    """The :class:`sim.BoardLayout` of ``board``, built from BrainFlow's descriptors.

    Only presets the board has are queried. The auxiliary preset is included when the
    default preset has no PPG (Galea: PPG at 50 Hz on the auxiliary preset). Boards without
    PPG carry an ECG lead on their last EEG channel.
    """
    from sim import BoardLayout

    default = board_descr(board, "default")
    aux = None
    if "auxiliary" in board_presets(board) and not default.get("ppg_channels"):
        aux = board_descr(board, "auxiliary")
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
        board_eeg = list(board_descr(master_board, "default")["eeg_channels"])
        keys["heart_signal"] = "ecg"
        keys["ecg_channels"] = tuple(board_eeg.index(r) for r in layout.ecg_rows)
    return keys
