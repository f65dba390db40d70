"""Supported boards by name: BrainFlow ids, what each needs to connect, and row layouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brainflow.board_shim import BoardIds, BoardShim

#: Preset ids (BrainFlowPresets) by the names used in configs, topics and file suffixes.
PRESET_NAMES: dict[int, str] = {0: "default", 1: "auxiliary", 2: "ancillary"}
#: File suffixes BrainFlow's playback board reads each preset from (``file``, ``file_aux``, …).
PRESET_FILE_PARAMS: dict[str, str] = {
    "default": "file",
    "auxiliary": "file_aux",
    "ancillary": "file_anc",
}


@dataclass(frozen=True)
class BoardSpec:
    """A board the runtime supports: its BrainFlow id and the connection field it needs."""

    name: str
    board_id: int
    needs: str | None  # "serial_port", "ip_address", "file" or None
    description: str


BOARDS: dict[str, BoardSpec] = {
    spec.name: spec
    for spec in (
        BoardSpec("synthetic", int(BoardIds.SYNTHETIC_BOARD), None, "BrainFlow synthetic board"),
        BoardSpec(
            "playback", int(BoardIds.PLAYBACK_FILE_BOARD), "file", "replays a BrainFlow file"
        ),
        BoardSpec("cyton", int(BoardIds.CYTON_BOARD), "serial_port", "OpenBCI Cyton, 8 ch"),
        BoardSpec(
            "cyton-daisy",
            int(BoardIds.CYTON_DAISY_BOARD),
            "serial_port",
            "OpenBCI Cyton + Daisy, 16 ch",
        ),
        BoardSpec(
            "ganglion", int(BoardIds.GANGLION_BOARD), "serial_port", "OpenBCI Ganglion (dongle)"
        ),
        BoardSpec("galea", int(BoardIds.GALEA_BOARD), "ip_address", "OpenBCI Galea (UDP)"),
    )
}

#: Boards a playback file may have been recorded from.
MASTER_BOARDS = tuple(name for name in BOARDS if name != "playback")


@dataclass(frozen=True)
class StreamLayout:
    """Where each kind of channel sits in one preset's data rows, and its nominal rate."""

    preset: int
    preset_name: str
    sampling_rate: float
    num_rows: int
    package_num_row: int
    timestamp_row: int
    marker_row: int | None
    eeg_rows: tuple[int, ...] = ()
    eeg_names: tuple[str, ...] = ()
    ppg_rows: tuple[int, ...] = ()
    ecg_rows: tuple[int, ...] = ()
    eda_rows: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (for status messages and recording metadata)."""
        return {
            "preset": self.preset_name,
            "sampling_rate": self.sampling_rate,
            "num_rows": self.num_rows,
            "package_num_row": self.package_num_row,
            "timestamp_row": self.timestamp_row,
            "marker_row": self.marker_row,
            "eeg_rows": list(self.eeg_rows),
            "eeg_names": list(self.eeg_names),
            "ppg_rows": list(self.ppg_rows),
            "ecg_rows": list(self.ecg_rows),
            "eda_rows": list(self.eda_rows),
        }


def lookup_board(name: str) -> BoardSpec:
    """The spec of a board by name; a ValueError lists the supported names."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; supported boards: {', '.join(BOARDS)}") from None


def describe_presets(board_id: int) -> dict[str, StreamLayout]:
    """Layouts of every preset the board has, keyed by preset name.

    Only presets that ``BoardShim.get_board_presets`` returns are queried: a failed
    descriptor query corrupts BrainFlow's process-wide state (later ``start_stream`` calls
    fail with GENERAL_ERROR:17).
    """
    layouts: dict[str, StreamLayout] = {}
    for preset in sorted(BoardShim.get_board_presets(board_id)):
        descr = BoardShim.get_board_descr(board_id, preset)
        if "sampling_rate" not in descr:  # the playback board describes nothing itself
            continue
        name = PRESET_NAMES.get(int(preset), f"preset{preset}")
        eeg_names = (
            tuple(str(descr.get("eeg_names", "")).split(",")) if "eeg_names" in descr else ()
        )
        eeg_rows = tuple(descr.get("eeg_channels", ()))
        if len(eeg_names) != len(eeg_rows):
            eeg_names = tuple(f"EEG{i + 1}" for i in range(len(eeg_rows)))
        layouts[name] = StreamLayout(
            preset=int(preset),
            preset_name=name,
            sampling_rate=float(descr["sampling_rate"]),
            num_rows=int(descr["num_rows"]),
            package_num_row=int(descr["package_num_channel"]),
            timestamp_row=int(descr["timestamp_channel"]),
            marker_row=int(descr["marker_channel"]) if "marker_channel" in descr else None,
            eeg_rows=eeg_rows,
            eeg_names=eeg_names,
            ppg_rows=tuple(descr.get("ppg_channels", ())),
            ecg_rows=tuple(descr.get("ecg_channels", ())),
            eda_rows=tuple(descr.get("eda_channels", ())),
        )
    return layouts


def board_presets(board: str) -> tuple[str, ...]:
    """Names of the presets ``board`` (by name) has, as ``BoardShim.get_board_presets`` says."""
    board_id = lookup_board(board).board_id
    return tuple(
        PRESET_NAMES.get(int(p), f"preset{int(p)}")
        for p in sorted(BoardShim.get_board_presets(board_id))
    )


def board_descr(board: str, preset: str = "default") -> dict[str, Any]:
    """BrainFlow's descriptor of one preset of ``board`` (by name), as BrainFlow returns it.

    Only a preset the board has is queried (see :func:`describe_presets` for why); another
    raises a ValueError naming the presets it has.
    """
    presets = board_presets(board)
    if preset not in presets:
        raise ValueError(
            f"the {board} board has no {preset!r} preset; it has: {', '.join(presets)}"
        )
    preset_id = next(i for i, name in PRESET_NAMES.items() if name == preset)
    return dict(BoardShim.get_board_descr(lookup_board(board).board_id, preset_id))
