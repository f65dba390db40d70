"""Replay: run the whole pipeline on a recorded session through BrainFlow's playback board.

The playback board paces samples by the file's timestamps, so ``speed`` K rewrites them into
a temporary copy from the sample index and the nominal rate: t' = t₀ + i/(fs·K) (K = 0: all
zero, as fast as the board can). K is therefore K × the data's own rate, also for a session
recorded from a sped-up scenario, whose timestamps are compressed. The copy also leaves out
a torn last line (a crash's leftover). The daemon then runs with ``[source] board =
"playback"``, ``master_board`` = the recorded board, and the copies as ``file``/``file_aux``.
A session of one person whose chunks named them (``persons/<person>/raw.csv``) replays
that person's files, the playback source stamped with the same person; a session several
people streamed into is refused, naming them (:func:`runtime.recorder.only_board`).

Everything downstream runs on the data clock (features time samples by index and nominal
rate, the feature stage releases them in data-time order, the controller steps on their
``time_s``, the resolver draws from the recorded session seed), so a replay gives the same
features, controls and decisions as the original at any K. The replay's bus keeps up to
:data:`REPLAY_HWM` messages per peer, so a flat-out burst loses nothing to a slow reader.
A watcher stage counts samples and waits until the pipeline is done: every sample played,
the driver reporting the file's end, and the bus quiet (it reads the typed bodies of
``runtime.messages``; a replay publishes nothing of its own).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.bus import Message
from runtime.config import Config, config_from_mapping, with_overrides
from runtime.errors import ConfigError
from runtime.messages import (
    AttentionFeature,
    Control,
    Decision,
    DriverStatus,
    RawChunk,
    StressFeature,
)
from runtime.recorder import (
    SessionError,
    board_presets,
    complete_lines_size,
    only_board,
    read_metadata,
)
from runtime.supervisor import StageContext, confirm_subscribed

logger = logging.getLogger("runtime.lab")

#: High-water mark of a replay's bus (messages per peer): a flat-out replay publishes
#: minutes of features in seconds, and nothing may be dropped.
REPLAY_HWM = 1_000_000
#: Once every sample has played and the driver reported the end: the bus quiet this long
#: (no feature, control or decision) means the pipeline has finished.
QUIET_S = 0.5
#: Without the driver's end report, the bus quiet this long after the last sample.
QUIET_WITHOUT_END_S = 3.0

#: [source] keys of the playback board's file per preset.
_FILE_KEYS = {"default": "file", "auxiliary": "file_aux"}


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay runs: the config, the re-timed copies and their sample counts."""

    config: Config
    files: dict[str, Path]
    samples: dict[str, int]
    speed: float


@dataclass
class ReplayResult:
    """What a replay did: samples played, and the messages the pipeline produced."""

    samples: int
    total: int
    wall_s: float
    features: int = 0
    controls: int = 0
    decisions: int = 0
    modes: dict[str, int] = field(default_factory=dict)
    complete: bool = False
    #: The signal that stopped the replay early (``"SIGINT"``), None otherwise.
    signal: str | None = None


def check_speed(speed: float) -> float:
    """``--speed`` must be a finite number ≥ 0 (0 = as fast as possible)."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
        raise ConfigError(f"--speed must be a number ≥ 0; {speed!r} is invalid")
    if speed < 0:
        raise ConfigError(f"--speed must be ≥ 0 (0 = as fast as possible); {speed} is invalid")
    return float(speed)


def retime_file(source: Path, target: Path, timestamp_row: int, num_rows: int,
                speed: float, fs: float) -> int:
    """Copy a BrainFlow file with sample i stamped t₀ + i/(``fs``·``speed``) (``speed`` 0:
    zeros), dropping a torn last line; returns the number of samples copied.

    The stamps come from the index and the nominal rate ``fs`` (Hz), not from the recorded
    ones, so ``speed`` is relative to the data's own rate even when the recording's stamps
    were compressed (a scenario rendered at ``[source] speed`` > 1)."""
    if not (math.isfinite(fs) and fs > 0):
        raise SessionError(f"the sampling rate of {source} is {fs!r}; expected a rate > 0 Hz")
    good = complete_lines_size(source, num_rows)
    count = 0
    t0: float | None = None
    with open(source, "rb") as src, open(target, "wb") as dst:
        remaining = good
        for line in src:
            remaining -= len(line)
            if remaining < 0:
                break
            fields = line.rstrip(b"\n").split(b"\t")
            t0 = float(fields[timestamp_row]) if t0 is None else t0
            new = 0.0 if speed == 0 else t0 + count / (fs * speed)
            fields[timestamp_row] = b"%.6f" % new
            dst.write(b"\t".join(fields) + b"\n")
            count += 1
    return count


def prepare_replay(
    directory: Path | str,
    workdir: Path,
    speed: float = 1.0,
    config: Config | None = None,
) -> ReplayPlan:
    """Re-timed copies of a session's raw files in ``workdir`` and the config to replay them.

    ``config`` replaces the recorded one (e.g. to try other thresholds on the same data);
    its ``[source]`` is replaced by the playback board in any case. A session of several
    people raises :class:`SessionError` naming them.
    """
    directory = Path(directory)
    speed = check_speed(speed)
    metadata = read_metadata(directory)
    person = only_board(
        metadata, directory, "replay",
        "`kintsugi verify DIR OTHER` compares two recorded runs of it (features, controls "
        "and decisions, which name each person)",
    )
    presets = board_presets(metadata, person, directory=directory)
    if "default" not in presets or not (directory / presets["default"]["file"]).is_file():
        raise SessionError(
            f"{directory} has no raw data of the default preset (raw.csv): the driver did not "
            "publish raw.board.* while it was recorded, so it cannot be replayed"
        )
    if config is None:
        config = config_from_mapping(metadata["config"], origin=f"{directory}/session.json")
    files: dict[str, Path] = {}
    samples: dict[str, int] = {}
    keys: dict[str, Any] = {}
    for preset, info in presets.items():
        if preset not in _FILE_KEYS:
            logger.warning("replay: the %s preset cannot be replayed (no playback key)", preset)
            continue
        layout = info["layout"]
        target = workdir / Path(info["file"]).name  # persons/P01/raw.csv → raw.csv
        samples[preset] = retime_file(
            directory / info["file"], target, int(layout["timestamp_row"]),
            int(info["num_rows"]), speed, float(info.get("fs") or layout["sampling_rate"]),
        )
        files[preset] = target
        keys[_FILE_KEYS[preset]] = str(target)
    source = config.source.model_dump()
    source.update(
        board="playback", master_board=metadata["master_board"], scenario="", loop=False,
        file="", file_aux="",
    )
    source.update(keys)
    if person is not None:  # the replayed chunks name the person the recorded ones did
        source["person"] = person
    data = config.model_dump()
    data["source"] = source
    data.pop("sources", None)  # [[sources]]: the one playback board replaces them all
    # Whose session this is does not change with the thresholds tried on it: a replay with
    # another config (-c) keeps the recorded participant and baseline.
    data["session"] = metadata["config"].get("session", data["session"])
    data["bus"]["hwm"] = max(int(data["bus"]["hwm"]), REPLAY_HWM)
    replay_config = config_from_mapping(data, origin="replay")
    return ReplayPlan(replay_config, files, samples, speed)


class ReplayWatcher:
    """A stage that counts what the pipeline does during a replay (thread-safe reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples = 0
        self.driver_samples = 0
        self.driver_state = ""
        self.features = self.controls = self.decisions = 0
        self.modes: dict[str, int] = {}
        self.last_activity = time.monotonic()
        self.ended = False

    def __call__(self, context: StageContext) -> None:
        subscriber = context.subscriber(
            ("raw.eeg", "raw.ecg", "status.driver", "features", "control", "decision")
        )
        try:
            confirm_subscribed(subscriber)
            context.ready.set()
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=0.1)
                if message is not None:
                    self._observe(message)
        finally:
            subscriber.close()

    def _observe(self, message: Message) -> None:
        data = message.data
        with self._lock:
            if isinstance(data, AttentionFeature | StressFeature | Control | Decision):
                self.last_activity = time.monotonic()
            if isinstance(data, RawChunk) and message.array is not None:
                if data.preset == "default":
                    end = data.first_index + int(message.array.shape[-1])
                    self.samples = max(self.samples, end)
            elif isinstance(data, DriverStatus):
                self.driver_state = data.state
                self.ended |= data.state == "ended"
                self.driver_samples = max(self.driver_samples, data.samples.get("default", 0))
            elif isinstance(data, AttentionFeature | StressFeature):
                self.features += 1
            elif isinstance(data, Control):
                self.controls += 1
                self.modes[data.mode] = self.modes.get(data.mode, 0) + 1
            elif isinstance(data, Decision):
                self.decisions += 1

    def progress(self) -> int:
        with self._lock:
            return max(self.samples, self.driver_samples)

    def done(self, total: int, quiet_s: float = QUIET_S) -> bool:
        """Every sample played and the pipeline finished: the driver reported the file's
        end and no feature, control or decision came for ``quiet_s`` (or, without that
        report, for :data:`QUIET_WITHOUT_END_S`)."""
        with self._lock:
            played = max(self.samples, self.driver_samples) >= total
            quiet = time.monotonic() - self.last_activity
            return played and quiet >= (quiet_s if self.ended else QUIET_WITHOUT_END_S)


def replay_session(
    directory: Path | str,
    *,
    speed: float = 1.0,
    config: Config | None = None,
    record: Path | str | None = None,
    bus_overrides: dict[str, str | None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    drain_s: float = QUIET_S,
) -> ReplayResult:
    """Replay a session through the whole pipeline; returns once the file's end has played
    and the pipeline has finished with it (the driver reported the end, then ``drain_s``
    without a feature, control or decision), or when ``stop`` is set.

    ``record`` writes the replay as a new session; ``bus_overrides`` (``publish_endpoint``,
    ``subscribe_endpoint``) move the replay's bus off a running daemon's ports.
    """
    from runtime.daemon import Daemon
    from runtime.recorder import RecorderStage

    stop = stop or threading.Event()
    workdir = Path(tempfile.mkdtemp(prefix="kintsugi-replay-"))
    try:
        plan = prepare_replay(directory, workdir, speed, config)
        replay_config = with_overrides(plan.config, "bus", **(bus_overrides or {}))
        total = plan.samples.get("default", 0)
        watcher = ReplayWatcher()
        stages: dict[str, Any] = {"replay-watcher": watcher}
        if record is not None:
            stages["recorder"] = RecorderStage(Path(record), replay_config)
        daemon = Daemon(replay_config, extra_stages=stages, board_rows=record is not None)
        started = time.monotonic()

        def finished() -> bool:
            if stop.is_set():
                return True
            if on_progress is not None:
                on_progress(min(watcher.progress(), total), total)
            return watcher.done(total, drain_s)

        # The daemon's one run loop: SIGINT/SIGTERM stop the replay cleanly (main thread
        # only), a second SIGINT forces the exit, as for ``kintsugi run``.
        run = daemon.run_until_stopped(until=finished, name="replay", poll_s=0.1)
        return ReplayResult(
            samples=min(watcher.progress(), total),
            total=total,
            wall_s=time.monotonic() - started,
            features=watcher.features,
            controls=watcher.controls,
            decisions=watcher.decisions,
            modes=dict(watcher.modes),
            signal=run.signal,
            complete=watcher.progress() >= total,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
