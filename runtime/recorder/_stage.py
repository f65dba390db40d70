"""The recorder stage: writes a session directory from the bus, chunk by chunk, crash-safe.

It subscribes to ``raw.board.<preset>`` (every row of every preset, exactly as BrainFlow
returned it; the driver publishes these when a recorder runs), ``features``, ``control``,
``decision``, ``marker``, ``status.*`` and ``model.status``. Raw rows go to BrainFlow-format
text files (``raw.csv``, ``raw.aux.csv``: what the playback board replays as they are), the
rest to JSON-lines files (bodies as they came), and ``session.json`` holds the metadata
(each preset's rate, rows and layout, from its first
:class:`~runtime.messages.RawBoardChunk`). Chunks that name a ``person`` (several people
streaming into one hub) go to that person's own files, ``persons/<person>/raw.csv`` …, and
their presets to ``persons.<person>.presets`` in ``session.json``; chunks without one (a
single-person session) go to ``raw.csv`` … and ``presets`` as they always did, so such a
session's files are what they were before persons existed. The recorder's own status and
events are :class:`~runtime.messages.RecorderStatus`. After each batch of messages every file that
changed is fsynced, so a ``kill -9`` loses at most the chunk being written (a torn last
line, which the readers skip).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from runtime.bus import BusPublisher, BusSubscriber, Message
from runtime.config import Config
from runtime.errors import ConfigError
from runtime.messages import BusCounters, RawBoardChunk, RecorderStatus
from runtime.recorder._files import (
    JSONL_FILES,
    METADATA_FILE,
    PERSONS_DIR,
    AppendFile,
    format_board_rows,
    json_line,
    jsonl_file_for,
    message_record,
    raw_file_name,
    write_json_atomic,
)
from runtime.recorder._metadata import initial_metadata
from runtime.supervisor import StageContext, confirm_subscribed

logger = logging.getLogger("runtime.recorder")

#: Topic prefixes the recorder subscribes to.
RECORDED_TOPICS = ("raw.board.", *JSONL_FILES)
#: At most this many messages are written between two fsyncs (bounds the loss on a crash).
MAX_BATCH = 200
#: Longest time the recorder keeps receiving after it was asked to stop.
DRAIN_S = 1.0


def _is_training_log(path: Path) -> bool:
    """A training job's step log (``training.jsonl``, ``training-2.jsonl``), which may
    be written into the session directory before the recording starts."""
    return path.is_file() and path.name.startswith("training") and path.suffix == ".jsonl"


def _flat(counts: dict[str | None, dict[str, int]]) -> dict[str, int]:
    """Per-board counts as one map: the preset for the board that names nobody,
    ``"<person>/<preset>"`` for a person's (what :class:`RecorderStatus` carries)."""
    flat: dict[str, int] = {}
    for person, presets in counts.items():
        for preset, count in presets.items():
            flat[preset if person is None else f"{person}/{preset}"] = count
    return flat


def _make_directory(path: Path) -> None:
    """Create ``path`` (and ``persons/``) and fsync its parent, so that after a crash the
    directory holding a person's raw files is there with the files written into it."""
    path.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class RecorderStage:
    """Records a session into ``directory`` (created; it must not hold another session).

    A stage for :class:`runtime.daemon.Daemon` (``extra_stages={"recorder": stage}``, with
    the driver publishing ``raw.board.*``). Restarted by the supervisor, it appends to the
    same files. The directory may already hold training logs (``training*.jsonl``: a job
    started with ``--session DIR`` before the daemon). ``resolver_seed`` is the session
    seed the manifest records when the session chose its own (None: the config's
    ``[controller] decision_seed`` for the quantum resolver).
    """

    def __init__(
        self,
        directory: Path | str,
        config: Config,
        *,
        status_interval_s: float | None = None,
        resolver_seed: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigError(
                f"the recording directory (--record) {str(self.directory)!r} is a file: "
                "give a new directory for the session"
            )
        if self.directory.is_dir() and any(
            not _is_training_log(p) for p in self.directory.iterdir()
        ):
            raise ConfigError(
                f"the recording directory (--record) {str(self.directory)!r} is not empty: give "
                "a new directory (a recording never overwrites or appends to another one)"
            )
        self.config = config
        # Built now, so that a scenario or baseline file that cannot be read fails before
        # the daemon starts (ConfigError naming the key); started_at is set at the start.
        self._manifest = initial_metadata(config, seed=resolver_seed)
        self.status_interval_s = (
            config.daemon.status_interval_s if status_interval_s is None else status_interval_s
        )
        self._metadata: dict[str, Any] | None = None
        # Per board: the person (None: the chunks that name nobody) → preset → count.
        self._expected_index: dict[str | None, dict[str, int]] = {}
        self._samples: dict[str | None, dict[str, int]] = {}
        self._lost: dict[str | None, dict[str, int]] = {}
        self.messages = 0

    @property
    def samples(self) -> dict[str, int]:
        """Samples written per preset (``"<person>/<preset>"`` for a person's board)."""
        return _flat(self._samples)

    @property
    def lost_samples(self) -> dict[str, int]:
        """Samples missed on the bus per preset (keys as in :attr:`samples`)."""
        return _flat(self._lost)

    def __call__(self, context: StageContext) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._metadata is None:
            self._metadata = dict(self._manifest, started_at=time.time())
            self._metadata["directory"] = str(self.directory.resolve())
            write_json_atomic(self.directory / METADATA_FILE, self._metadata)
        files: dict[str, AppendFile] = {}
        subscriber = context.subscriber(RECORDED_TOPICS)
        publisher = context.publisher()
        try:
            confirm_subscribed(subscriber)
            context.ready.set()
            logger.info("recorder: recording into %s", self.directory)
            self._loop(context, subscriber, publisher, files)
        finally:
            for f in files.values():
                f.close()
            if context.stop.is_set():
                self._finish()
            self._status(publisher, subscriber, files, "stopped")
            subscriber.close()
            publisher.close()

    def _loop(
        self,
        context: StageContext,
        subscriber: BusSubscriber,
        publisher: BusPublisher,
        files: dict[str, AppendFile],
    ) -> None:
        next_status = 0.0
        while not context.stop.is_set():
            message = subscriber.recv(timeout_s=0.1)
            batch = 0
            while message is not None:
                self._record(message, files, publisher.publisher_id)
                batch += 1
                message = subscriber.recv_nowait() if batch < MAX_BATCH else None
            for f in files.values():
                f.sync()
            now = time.monotonic()
            if now >= next_status:
                next_status = now + self.status_interval_s
                self._status(publisher, subscriber, files, "recording")
        self._drain(subscriber, files, publisher.publisher_id)

    def _drain(
        self, subscriber: BusSubscriber, files: dict[str, AppendFile], own_id: str
    ) -> None:
        """On stop, keep what the other stages still send (their last status, the last
        features) until the bus is quiet for 0.2 s, at most DRAIN_S."""
        end = time.monotonic() + DRAIN_S
        while time.monotonic() < end:
            message = subscriber.recv(timeout_s=0.2)
            if message is None:
                break
            self._record(message, files, own_id)
        for f in files.values():
            f.sync()

    def _file(self, files: dict[str, AppendFile], name: str) -> AppendFile:
        """The open file ``name`` (a path relative to the session directory, whose
        directory exists: a person's is made when their first preset is added)."""
        if name not in files:
            files[name] = AppendFile(self.directory / name)
        return files[name]

    def _record(self, message: Message, files: dict[str, AppendFile], own_id: str) -> None:
        self.messages += 1
        if message.topic.startswith("raw.board."):
            self._record_raw(message, files, own_id)
            return
        name = jsonl_file_for(message.topic)
        if name is not None:
            self._file(files, name).append(json_line(message_record(message, time.time())))

    def _record_raw(self, message: Message, files: dict[str, AppendFile], own_id: str) -> None:
        chunk, data = message.data, message.array
        if not isinstance(chunk, RawBoardChunk):  # the bus types every raw.board.* body
            return
        preset, num_rows, person = chunk.preset, chunk.num_rows, chunk.person
        # A person's events name them; a single-person session's are as they always were.
        who: dict[str, Any] = {} if person is None else {"person": person}
        if data is None or data.ndim != 2 or data.shape[0] != num_rows or data.shape[1] == 0:
            shape = None if data is None else data.shape
            self._event(files, own_id, "rejected", **who, preset=preset, shape=shape,
                        num_rows=num_rows)
            return
        known = self._presets_of(person).get(preset)
        if known is None:
            self._add_preset(chunk)
        elif known["num_rows"] != num_rows:
            self._event(
                files, own_id, "rejected", **who, preset=preset, num_rows=num_rows,
                expected_rows=known["num_rows"],
            )
            return
        first = chunk.first_index
        expected_index = self._expected_index.setdefault(person, {})
        expected = expected_index.get(preset)
        if expected is not None and first > expected:
            lost = first - expected
            counts = self._lost.setdefault(person, {})
            counts[preset] = counts.get(preset, 0) + lost
            self._event(
                files, own_id, "lost", **who, preset=preset, missed_samples=lost,
                first_index=first,
            )
        elif expected is not None and first < expected:
            self._event(files, own_id, "driver-restarted", **who, preset=preset,
                        first_index=first)
        expected_index[preset] = first + data.shape[1]
        samples = self._samples.setdefault(person, {})
        samples[preset] = samples.get(preset, 0) + int(data.shape[1])
        self._file(files, raw_file_name(preset, person)).append(
            format_board_rows(np.asarray(data))
        )

    def _presets_of(self, person: str | None) -> dict[str, Any]:
        """The presets recorded so far of one board: ``presets`` for the chunks that name
        nobody, ``persons.<person>.presets`` for a person's (empty before their first)."""
        assert self._metadata is not None
        if person is None:
            presets: dict[str, Any] = self._metadata["presets"]
            return presets
        entry = self._metadata.get("persons", {}).get(person)
        return {} if entry is None else entry["presets"]

    def _add_preset(self, chunk: RawBoardChunk) -> None:
        assert self._metadata is not None
        person = chunk.person
        if person is None:
            presets = self._metadata["presets"]
        else:
            persons = self._metadata.setdefault("persons", {})
            if person not in persons:
                _make_directory(self.directory / PERSONS_DIR / person)
                persons[person] = {"presets": {}}
            presets = persons[person]["presets"]
        name = raw_file_name(chunk.preset, person)
        presets[chunk.preset] = {
            "file": name,
            "fs": chunk.fs,
            "num_rows": chunk.num_rows,
            "layout": dict(chunk.layout or {}),
        }
        write_json_atomic(self.directory / METADATA_FILE, self._metadata)
        logger.info("recorder: %s preset → %s", chunk.preset, name)

    def _status_body(
        self,
        state: str,
        files: dict[str, AppendFile],
        *,
        bus: BusCounters | None = None,
        event: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> RecorderStatus:
        """The recorder's status: its counters, and for an event what happened
        (``details``, e.g. the preset and the samples missed, kept as extra fields)."""
        return RecorderStatus(
            component="recorder",
            state=state,
            directory=str(self.directory),
            samples=dict(self.samples),
            lost_samples=dict(self.lost_samples),
            messages=self.messages,
            bytes=sum(f.bytes_written for f in files.values()),
            bus=bus,
            event=event,
            extra=details or {},
        )

    def _event(self, files: dict[str, AppendFile], own_id: str, event: str, **fields: Any) -> None:
        """A recorder event, written straight into status.jsonl (and logged)."""
        logger.warning("recorder: %s %s", event, fields)
        body = self._status_body("recording", files, event=event, details=fields)
        record = {
            "topic": "status.recorder",
            "publisher": own_id,
            "seq": None,
            "source_time": None,
            "publish_time": time.time(),
            "recv_time": time.time(),
            "body": body.to_dict(),
        }
        self._file(files, JSONL_FILES["status."]).append(json_line(record))

    def _finish(self) -> None:
        if self._metadata is None:
            return
        self._metadata.update(
            ended_at=time.time(),
            complete=True,
            samples=dict(self._samples.get(None, {})),
            lost_samples=dict(self._lost.get(None, {})),
        )
        for person, entry in self._metadata.get("persons", {}).items():
            entry.update(
                samples=dict(self._samples.get(person, {})),
                lost_samples=dict(self._lost.get(person, {})),
            )
        write_json_atomic(self.directory / METADATA_FILE, self._metadata)

    def _status(
        self,
        publisher: BusPublisher,
        subscriber: BusSubscriber,
        files: dict[str, AppendFile],
        state: str,
    ) -> None:
        counters = BusCounters.from_dict(subscriber.stats.to_dict(), "status.recorder")
        publisher.publish("status.recorder", self._status_body(state, files, bus=counters))
