"""The driver stage: reads a BrainFlow board and publishes ``raw.*`` and ``status.driver``.

Its status goes on ``status.<stage name>``: ``status.driver``, or ``status.driver-P01`` for
one of several sources (``[[sources]]``), whose publisher stamps the person on it.

Raw topics: ``raw.eeg`` (EEG rows of the preset that has them, minus channels wired to
ECG), ``raw.ppg`` (PPG rows, from whichever preset carries them: Galea's auxiliary
preset), ``raw.ecg`` (the configured ECG channels). Payload: float32, shape
(n_channels, n_samples), µV for EEG/ECG as BrainFlow scales them.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from drivers import (
    BrainFlowSource,
    Chunk,
    DeviceError,
    DeviceLostError,
    RawStream,
    SourceSettings,
    plan_raw_streams,
)
from runtime.bus import BusPublisher, BusSubscriber
from runtime.config import SourceConfig
from runtime.messages import DriverStatus, Marker, RawBoardChunk, RawChunk
from runtime.stages._read_schedule import ReadSchedule
from runtime.supervisor import StageContext, confirm_publishing

logger = logging.getLogger("runtime.stages")


def _playback_ended(board: BrainFlowSource, samples: dict[str, int]) -> bool:
    """True when a playback board has delivered every sample of its default file."""
    if board.file_samples is None or board.settings.loop:
        return False
    total = board.file_samples.get("default")
    return total is not None and samples.get("default", 0) >= total


def source_settings(source: SourceConfig) -> SourceSettings:
    """The driver's connection settings from the ``[source]`` table."""
    fields = SourceSettings.__dataclass_fields__
    return SourceSettings(**{k: v for k, v in source.model_dump().items() if k in fields})


class DriverStage:
    """Reads the board every ``poll_interval_s`` and publishes what it read.

    Reads follow an absolute schedule, each just after an EEG sample is due when the board
    stamps samples with the host's clock (:class:`ReadSchedule`).
    """

    def __init__(
        self,
        source: SourceConfig,
        status_interval_s: float = 1.0,
        opened: BrainFlowSource | None = None,
        board_rows: bool = False,
    ) -> None:
        self.source = source
        self.status_interval_s = status_interval_s
        # Also publish every row as BrainFlow returned it (raw.board.<preset>), for recording.
        self.board_rows = board_rows
        self._opened = opened  # a board the daemon opened at start-up, used by the first run
        #: The stage's name: its status's component, and topic ``status.<name>``.
        self._name = "driver"

    def open_board(self) -> BrainFlowSource:
        """Open the configured board (raises DeviceError quickly when it is absent)."""
        board = BrainFlowSource(source_settings(self.source))
        # Config errors (an ECG channel the board lacks) before any streaming.
        plan_raw_streams(board.layouts, self.source.ecg_channels)
        board.open()
        return board

    def __call__(self, context: StageContext) -> None:
        self._name = context.name
        publisher = context.publisher()
        board, self._opened = (self._opened or self.open_board()), None
        streams = plan_raw_streams(board.layouts, self.source.ecg_channels)
        markers = context.subscriber(("marker",))
        confirm_publishing(context, publisher)
        context.ready.set()
        self._status(publisher, "opening", board, {})
        final_state = "stopped"
        try:
            board.start()
            self._loop(context, publisher, markers, board, streams)
        except DeviceError:
            final_state = "lost"  # the supervisor reconnects, reporting "reconnecting"
            raise
        finally:
            # Report first: closing a lost board can take seconds (BrainFlow joins its thread).
            self._status(publisher, final_state, board, {})
            board.close()
            publisher.close()
            markers.close()

    def _loop(
        self,
        context: StageContext,
        publisher: BusPublisher,
        markers: BusSubscriber,
        board: BrainFlowSource,
        streams: list[RawStream],
    ) -> None:
        samples: dict[str, int] = {}
        last_data = time.monotonic()
        next_status = 0.0
        state = "streaming"
        # The preset whose sample clock the reads follow: the EEG's (the first stream's).
        clock_preset = streams[0].preset if streams else None
        schedule = ReadSchedule(self.source.poll_interval_s)
        while not context.stop.is_set():
            chunks = board.read()  # DeviceLostError: the supervisor reconnects with backoff
            read_time = time.time()  # wall clock, as BrainFlow's timestamps (RawChunk.read_time)
            for chunk in chunks:
                samples[chunk.preset] = samples.get(chunk.preset, 0) + chunk.n_samples
                for stream in streams:
                    if stream.preset == chunk.preset:
                        self._publish_chunk(publisher, stream, chunk, read_time)
                if self.board_rows:
                    self._publish_board_rows(publisher, chunk)
                if chunk.preset == clock_preset:
                    newest = float(chunk.data[chunk.layout.timestamp_row, -1])
                    schedule.observe(newest, chunk.layout.sampling_rate)
            self._insert_markers(markers, board)  # after the samples left: off their path
            now = time.monotonic()
            if chunks:
                last_data = now
                if state != "streaming":
                    logger.info("driver: samples again after %s", state)
                    next_status = 0.0
                state = "streaming"
            silent_s = now - last_data
            if state == "streaming" and silent_s > self.source.stall_timeout_s:
                state = "ended" if _playback_ended(board, samples) else "stalled"
                logger.warning("driver: no samples for %.2f s: %s", silent_s, state)
                next_status = 0.0  # report a change of state at once
            if state == "stalled" and silent_s > self.source.lost_after_s:
                self._status(publisher, "lost", board, samples, since_data_s=silent_s)
                raise DeviceLostError(
                    f"the {board.spec.name} board sent nothing for {silent_s:.1f} s"
                )
            if now >= next_status:
                self._status(publisher, state, board, samples, since_data_s=now - last_data)
                next_status = now + self.status_interval_s
            wall = time.time()
            wait_s = schedule.next_read(wall) - wall
            if wait_s > 0:
                context.stop.wait(min(wait_s, 2 * self.source.poll_interval_s))

    @staticmethod
    def _insert_markers(markers: BusSubscriber, board: BrainFlowSource) -> None:
        """Write each ``marker`` message's ``value`` into the board's marker channel.

        The bus has already checked the body (a non-zero number), so only the board can
        refuse it; another topic sharing the ``marker`` prefix has no Marker and is skipped.
        """
        message = markers.recv_nowait()
        while message is not None:
            marker = message.data
            if isinstance(marker, Marker):
                try:
                    board.insert_marker(marker.value)
                except (DeviceError, ValueError) as exc:
                    logger.warning("driver: marker %r not inserted: %s", marker.value, exc)
            message = markers.recv_nowait()

    @staticmethod
    def _publish_board_rows(publisher: BusPublisher, chunk: Chunk) -> None:
        stamps = chunk.data[chunk.layout.timestamp_row]
        body = RawBoardChunk(
            preset=chunk.preset,
            fs=float(chunk.layout.sampling_rate),
            num_rows=int(chunk.data.shape[0]),
            first_index=int(chunk.first_index),
            dropped=int(chunk.dropped),
            layout=chunk.layout.to_dict(),
        )
        publisher.publish(
            f"raw.board.{chunk.preset}", body, array=chunk.data, source_time=float(stamps[-1])
        )

    @staticmethod
    def _publish_chunk(
        publisher: BusPublisher, stream: RawStream, chunk: Chunk, read_time: float | None = None
    ) -> None:
        data = chunk.data[list(stream.rows)].astype(np.float32)
        stamps = chunk.data[chunk.layout.timestamp_row]
        body = RawChunk(
            preset=stream.preset,
            fs=float(stream.fs),
            channels=stream.names,
            first_index=int(chunk.first_index),
            dropped=int(chunk.dropped),
            t_first=float(stamps[0]),
            t_last=float(stamps[-1]),
            read_time=read_time,
        )
        publisher.publish(stream.topic, body, array=data, source_time=float(stamps[-1]))

    def _status(
        self,
        publisher: BusPublisher,
        state: str,
        board: BrainFlowSource,
        samples: dict[str, int],
        since_data_s: float | None = None,
    ) -> None:
        body = DriverStatus(
            component=self._name,
            state=state,
            board=board.spec.name,
            samples=dict(samples),
            dropped=dict(board.dropped_total),
            since_data_s=since_data_s,
            presets={name: layout.to_dict() for name, layout in board.layouts.items()},
        )
        publisher.publish(f"status.{self._name}", body)
