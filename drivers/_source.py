"""BrainFlowSource: open a named board, stream every preset it has, read chunks, count drops."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
from brainflow.board_shim import BoardShim, BrainFlowError, BrainFlowInputParams

from drivers._boards import (
    MASTER_BOARDS,
    StreamLayout,
    describe_presets,
    lookup_board,
)
from drivers._errors import (
    DeviceError,
    DeviceLostError,
    DeviceNotFoundError,
    find_hint,
    translate_brainflow_error,
)

logger = logging.getLogger("drivers")


_brainflow_log = {"enabled": False}


def set_brainflow_logging(enabled: bool) -> None:
    """Turn BrainFlow's own board log (printed to stderr by its C++ core) on or off.

    Off by default: it prints every session's parameters as JSON. ``kintsugi -vv`` turns it on.
    """
    _brainflow_log["enabled"] = enabled
    if enabled:
        BoardShim.enable_board_logger()
    else:
        BoardShim.disable_board_logger()


#: The package counter of OpenBCI boards and BrainFlow's synthetic board wraps at 256.
COUNTER_MODULUS = 256


@dataclass(frozen=True)
class SourceSettings:
    """How to reach a board. Only the field the board needs is used (see ``BoardSpec.needs``).

    ``file``/``file_aux``/``file_anc`` and ``master_board`` are for the playback board;
    ``loop`` replays the file forever. ``ring_buffer_samples`` is BrainFlow's per-preset
    buffer: it keeps the newest samples and silently drops older ones when nobody reads.
    """

    board: str = "synthetic"
    serial_port: str = ""
    ip_address: str = ""
    ip_port: int = 0
    mac_address: str = ""
    serial_number: str = ""
    file: str = ""
    file_aux: str = ""
    file_anc: str = ""
    master_board: str = "synthetic"
    loop: bool = False
    timeout_s: float = 5.0
    ring_buffer_samples: int = 450_000


@dataclass(frozen=True)
class Chunk:
    """New samples of one preset: all rows as BrainFlow returns them (a fresh array).

    ``first_index`` is the stream index of the chunk's first sample (samples received
    before it, on this preset, since start); ``dropped`` counts packets the board's
    counter says were lost just before or inside this chunk.
    """

    preset: str
    data: np.ndarray
    first_index: int
    dropped: int
    layout: StreamLayout = field(repr=False)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])


#: Boards whose package counter does not step by one, by (board, preset): Cyton+Daisy
#: merges two radio packets per sample (counter steps by 2); Galea's auxiliary preset is
#: sent every fifth packet (0, 5, …, 255, then 0).
COUNTER_STEPS: dict[tuple[str, str], int] = {
    ("cyton-daisy", "default"): 2,
    ("galea", "auxiliary"): 5,
}


def count_dropped(
    counters: np.ndarray,
    previous: int | None,
    modulus: int = COUNTER_MODULUS,
    step: int = 1,
) -> int:
    """Packets missing from a run of package counters (values 0, step, 2·step, … < modulus).

    ``previous`` is the last counter of the previous chunk (None at stream start). Counters
    are compared by position in their cycle (``value // step``), so a cycle whose last step
    is shorter (Galea: 255 → 0) counts right. A gap of a whole cycle or more cannot be seen
    from the counter alone.
    """
    # On Python ints: a chunk holds a few counters, and five numpy calls on them cost more
    # than the board read itself in a driver that wakes every few ms (round() rounds half
    # to even, as np.rint did).
    cycle = -(-modulus // step)
    positions = [(round(c) % modulus) // step for c in counters.tolist()]
    if not positions:
        return 0
    last = positions[0] if previous is None else (previous % modulus) // step
    missing = 0
    for position in positions:
        gap = (position - last) % cycle
        if gap:
            missing += gap - 1
        last = position
    return missing


class BrainFlowSource:
    """One board: ``open()``, ``start()``, ``read()`` every preset, ``stop()``, ``close()``.

    Safe to ``stop()``/``close()`` twice. Usable as a context manager (open + start, then
    stop + close). Not thread-safe: one thread owns a source.
    """

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.spec = lookup_board(settings.board)
        self._board: BoardShim | None = None
        self._streaming = False
        self._next_index: dict[str, int] = {}
        self._last_counter: dict[str, int | None] = {}
        self.dropped_total: dict[str, int] = {}
        self.layouts = self._describe()
        #: Samples in each preset's playback file (None for live boards): lets the driver
        #: tell a recording that ended from a device that froze.
        self.file_samples: dict[str, int] | None = None

    def _describe(self) -> dict[str, StreamLayout]:
        s = self.settings
        if self.spec.name != "playback":
            return describe_presets(self.spec.board_id)
        if s.master_board not in MASTER_BOARDS:
            raise DeviceError(
                f"master_board {s.master_board!r} is not a board a recording can come from; "
                f"use one of: {', '.join(MASTER_BOARDS)}"
            )
        master = describe_presets(lookup_board(s.master_board).board_id)
        files = {"default": s.file, "auxiliary": s.file_aux, "ancillary": s.file_anc}
        layouts = {name: layout for name, layout in master.items() if files.get(name)}
        if "default" not in layouts:
            raise DeviceError(
                "the playback board needs `file` (the default preset's recording) in the "
                "[source] table or --file PATH"
            )
        return layouts

    def _params(self) -> BrainFlowInputParams:
        s = self.settings
        params = BrainFlowInputParams()
        params.serial_port = s.serial_port
        params.ip_address = s.ip_address
        params.ip_port = s.ip_port
        params.mac_address = s.mac_address
        params.serial_number = s.serial_number
        params.timeout = max(1, int(round(s.timeout_s)))
        if self.spec.name == "playback":
            params.master_board = lookup_board(s.master_board).board_id
            params.file = s.file
            params.file_aux = s.file_aux
            params.file_anc = s.file_anc
        return params

    def _check_needs(self) -> None:
        need = self.spec.needs
        if need and not getattr(self.settings, need):
            flag = "--" + need.replace("_", "-")
            raise DeviceNotFoundError(
                f"the {self.spec.name} board needs `{need}`: set it in the [source] table or "
                f"pass {flag} on the command line. {find_hint(self.spec.name)}"
            )

    def open(self) -> None:
        """Connect to the board (fails within about ``timeout_s`` if it is absent)."""
        if self._board is not None:
            return
        self._check_needs()
        set_brainflow_logging(_brainflow_log["enabled"])
        board = BoardShim(self.spec.board_id, self._params())
        try:
            board.prepare_session()
        except BrainFlowError as exc:
            raise translate_brainflow_error(
                exc,
                action="open",
                board=self.spec.name,
                serial_port=self.settings.serial_port,
                ip_address=self.settings.ip_address,
                mac_address=self.settings.mac_address,
            ) from exc
        self._board = board
        if self.spec.name == "playback":
            self._config("loopback_true" if self.settings.loop else "loopback_false")
            files = {"default": self.settings.file, "auxiliary": self.settings.file_aux}
            self.file_samples = {
                name: _count_lines(files[name]) for name in self.layouts if files.get(name)
            }
        logger.info("%s: session prepared", self.spec.name)

    def config_board(self, command: str) -> str:
        """Send a board-specific command (e.g. Cyton's impedance ``z…Z``); returns the reply."""
        return self._config(command)

    def _config(self, command: str) -> str:
        if self._board is None:
            raise DeviceError(f"config {command!r} on the {self.spec.name} board before open()")
        try:
            return str(self._board.config_board(command) or "")
        except BrainFlowError as exc:
            raise translate_brainflow_error(
                exc, action=f"config {command!r}", board=self.spec.name
            ) from exc

    def start(self) -> None:
        """Start streaming every preset into BrainFlow's ring buffer."""
        self.open()
        if self._streaming or self._board is None:
            return
        try:
            self._board.start_stream(self.settings.ring_buffer_samples)
        except BrainFlowError as exc:
            raise translate_brainflow_error(
                exc, action="start_stream", board=self.spec.name
            ) from exc
        self._streaming = True
        for name in self.layouts:
            self._next_index[name] = 0
            self._last_counter[name] = None
            self.dropped_total[name] = 0
        logger.info("%s: streaming presets %s", self.spec.name, ", ".join(self.layouts))

    def read(self) -> list[Chunk]:
        """Drain every preset's buffer; one chunk per preset that had new samples."""
        if self._board is None or not self._streaming:
            raise DeviceError(f"read() on the {self.spec.name} board before start()")
        chunks = []
        for name, layout in self.layouts.items():
            try:
                # One call per preset: get_board_data counts the buffer itself (an empty one
                # gives 0 columns), so a separate count first only parsed the session's
                # parameters once more (about 15 us of a 240 us read of two presets).
                data = self._board.get_board_data(preset=layout.preset)
            except BrainFlowError as exc:
                raise DeviceLostError(
                    f"reading the {self.spec.name} board failed: {exc}",
                    exit_code=getattr(exc, "exit_code", None),
                ) from exc
            if data.shape[1] == 0:
                continue
            dropped = count_dropped(
                data[layout.package_num_row],
                self._last_counter[name],
                step=self._counter_step(name),
            )
            self._last_counter[name] = int(round(data[layout.package_num_row, -1]))
            self.dropped_total[name] += dropped
            chunks.append(Chunk(name, data, self._next_index[name], dropped, layout))
            self._next_index[name] += data.shape[1]
        return chunks

    def _counter_step(self, preset: str) -> int:
        board = self.settings.master_board if self.spec.name == "playback" else self.spec.name
        return COUNTER_STEPS.get((board, preset), 1)

    def insert_marker(self, value: float) -> None:
        """Write ``value`` into the marker row of the default preset at the current sample."""
        if self._board is None or not self._streaming:
            raise DeviceError("insert_marker() needs a streaming board")
        if value == 0:
            raise ValueError("marker value must be non-zero: 0 means 'no marker' in BrainFlow")
        self._board.insert_marker(float(value))

    def stop(self) -> None:
        """Stop streaming; safe to call twice."""
        if self._board is not None and self._streaming:
            self._streaming = False
            try:
                self._board.stop_stream()
            except BrainFlowError as exc:
                logger.warning("%s: stop_stream failed: %s", self.spec.name, exc)

    def close(self) -> None:
        """Stop and release the board; safe to call twice."""
        self.stop()
        if self._board is not None:
            board, self._board = self._board, None
            try:
                board.release_session()
            except BrainFlowError as exc:
                logger.warning("%s: release_session failed: %s", self.spec.name, exc)

    def __enter__(self) -> BrainFlowSource:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def open_source(settings: SourceSettings) -> Iterator[BrainFlowSource]:
    """Open and start a source for the duration of a ``with`` block."""
    source = BrainFlowSource(settings)
    try:
        source.start()
        yield source
    finally:
        source.close()


def _count_lines(path: str) -> int:
    """Samples in a BrainFlow file: one per non-empty line."""
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def with_overrides(settings: SourceSettings, **overrides: object) -> SourceSettings:
    """A copy of ``settings`` with the non-empty ``overrides`` applied (CLI flags over config)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v not in (None, "")})
