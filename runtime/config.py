"""Daemon configuration: TOML files in configs/ load into a frozen, validated object.

pydantic does the validation (types, ranges, ``Literal`` choices, unknown keys) so every
error names the key, the bad value and what is allowed; this module only turns its
errors into one readable :class:`ConfigError`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from runtime.bus import DEFAULT_PUBLISH_ENDPOINT, DEFAULT_SUBSCRIBE_ENDPOINT
from runtime.controller import ControllerSettings
from runtime.errors import ConfigError
from runtime.features import EegFeatureSettings, HeartFeatureSettings
from runtime.messages import person_id_problem

BoardName = Literal["synthetic", "playback", "cyton", "cyton-daisy", "ganglion", "galea"]
MasterBoardName = Literal["synthetic", "cyton", "cyton-daisy", "ganglion", "galea"]
#: The daemon's built-in stages, as ``[daemon] stages`` names them.
StageName = Literal["driver", "features", "controller"]
ALL_STAGES: tuple[StageName, ...] = ("driver", "features", "controller")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BusSettings(_Section):
    """``[bus]``: where the broker listens. Publishers connect to ``publish_endpoint``,
    subscribers (clients, ``kintsugi watch``) to ``subscribe_endpoint``.

    ``connect`` makes this daemon a *sensor host* (docs/multi-host.md): no broker of its
    own; its driver publishes to the hub's publish endpoint ``connect``
    (``tcp://HUB:5591``) and reads markers from the same host at the port of
    ``subscribe_endpoint``. ``keys`` is a keys directory from ``kintsugi keys DIR`` (as
    ``--keys``), ``key_name`` the client certificate this daemon's sockets present.
    """

    publish_endpoint: str = DEFAULT_PUBLISH_ENDPOINT
    subscribe_endpoint: str = DEFAULT_SUBSCRIBE_ENDPOINT
    hwm: int = Field(1000, ge=1, le=1_000_000, description="messages queued per peer")
    connect: str = Field("", description="a hub's publish endpoint: run as a sensor host")
    keys: str = Field("", description="CURVE keys directory (kintsugi keys DIR)")
    key_name: str = Field("client", description="the client certificate to present")
    uplink_buffer_messages: int = Field(
        20_000,
        ge=1,
        le=10_000_000,
        description="a sensor keeps up to this many messages while the hub is unreachable",
    )

    @model_validator(mode="after")
    def _check(self) -> BusSettings:
        if self.connect and not self.connect.startswith("tcp://"):
            raise ValueError(
                f"[bus] connect = {self.connect!r}: a hub is reached over TCP; write "
                "tcp://HUB:5591 (the hub's publish endpoint)"
            )
        name = self.key_name
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(
                f"[bus] key_name = {name!r}: a client certificate name is letters, digits, '-' or "
                "'_' (as made by `kintsugi keys DIR --client NAME`)"
            )
        return self


class SourceConfig(_Section):
    """``[source]``: the board and how to reach it, and which channels carry what."""

    board: BoardName = "synthetic"
    serial_port: str = ""
    ip_address: str = ""
    ip_port: int = Field(0, ge=0, le=65535)
    mac_address: str = ""
    serial_number: str = ""
    file: str = ""
    file_aux: str = ""
    master_board: MasterBoardName = "synthetic"
    loop: bool = False
    timeout_s: float = Field(5.0, gt=0, le=120)
    ring_buffer_samples: int = Field(450_000, ge=1000)
    poll_interval_s: float = Field(0.02, gt=0, le=1.0, description="how often the board is read")
    heart_signal: Literal["ppg", "ecg", "none"] = "ppg"
    heart_channel: int = Field(0, ge=0, description="index into the board's PPG or ECG channels")
    ecg_channels: tuple[int, ...] = Field(
        (), description="0-based EEG channel indices wired to ECG electrodes"
    )
    stall_timeout_s: float = Field(0.5, gt=0, description="no samples this long → stalled")
    lost_after_s: float = Field(
        3.0, gt=0, description="stalled this long → device lost: reconnect with backoff"
    )
    scenario: str = Field(
        "", description="a sim/ scenario (name or path) replayed through the playback board"
    )
    speed: float = Field(
        1.0, ge=0, description="scenario replay speed (×real time); 0 = as fast as possible"
    )
    person: str | None = Field(
        None, description="pseudonymous id (P01) of the person the board is on; on raw.*"
    )

    @model_validator(mode="after")
    def _check(self) -> SourceConfig:
        problem = "" if self.person is None else person_id_problem(self.person)
        if problem:
            raise ValueError(
                f"[source] person = {self.person!r} is invalid: {problem}; use a pseudonymous "
                "code such as P01 or sub-07"
            )
        if self.scenario and self.board != "playback":
            raise ValueError(
                f"scenario = {self.scenario!r} replays through the playback board: set "
                f"board = 'playback' (and master_board to the board to imitate), not "
                f"{self.board!r}"
            )
        if self.heart_signal == "ecg" and not self.ecg_channels:
            raise ValueError(
                "heart_signal = 'ecg' needs ecg_channels (the EEG channel indices wired to ECG "
                "electrodes, e.g. ecg_channels = [7])"
            )
        return self


class FeaturesConfig(_Section):
    """``[features.eeg]`` and ``[features.heart]``."""

    eeg: EegFeatureSettings = Field(default_factory=EegFeatureSettings)
    heart: HeartFeatureSettings = Field(default_factory=HeartFeatureSettings)


class DaemonSettings(_Section):
    """``[daemon]``: which stages run, supervision and status.

    ``stages`` chooses the host's role (docs/multi-host.md): all three on one machine;
    ``["driver"]`` on a sensor host (with ``[bus] connect``); ``["features", "controller"]``
    on a hub, which has no board of its own.
    """

    stages: tuple[StageName, ...] = Field(ALL_STAGES, description="the stages this host runs")
    status_interval_s: float = Field(1.0, gt=0)
    restart_backoff_s: float = Field(0.5, gt=0)
    restart_backoff_max_s: float = Field(10.0, gt=0)
    shutdown_deadline_s: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> DaemonSettings:
        if not self.stages or len(set(self.stages)) != len(self.stages):
            raise ValueError(
                f"[daemon] stages = {list(self.stages)!r}: name each stage once, some of "
                f"{list(ALL_STAGES)!r}"
            )
        return self


class SessionSettings(_Section):
    """``[session]``: who a session is of and what it starts from.

    ``participant`` is a pseudonymous id (``P01``), never a name: it is what recordings,
    baselines and training logs are filed under, and what ``kintsugi forget`` removes.
    ``baseline`` is the path of a saved baseline file the features start from instead of
    calibrating on the session's first minutes (None: calibrate).
    """

    participant: str | None = Field(
        None, description="pseudonymous participant id (P01), never a name"
    )
    baseline: str | None = Field(
        None, description="saved baseline file to start from (no calibration wait)"
    )


class Config(_Section):
    """A whole daemon configuration.

    The board comes from ``[source]`` (one source), or from ``[[sources]]``: several
    source tables, each a whole ``[source]`` with its own board and a required, unique
    ``person``, all run by one daemon (each in its own driver stage). With ``[[sources]]``
    ``source`` is the first of them, for what reads one source's settings (the feature
    stage's heart channel, a recording's board); :attr:`all_sources` is every source this
    daemon runs, and :meth:`for_source` one source's view of the config.
    """

    bus: BusSettings = Field(default_factory=BusSettings)
    source: SourceConfig = Field(default_factory=SourceConfig)
    sources: tuple[SourceConfig, ...] = Field(
        (), description="[[sources]]: several boards, each on one person"
    )
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    controller: ControllerSettings = Field(default_factory=ControllerSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)

    @model_validator(mode="after")
    def _check_role(self) -> Config:
        if self.bus.connect and self.daemon.stages != ("driver",):
            raise ValueError(
                f"[bus] connect = {self.bus.connect!r} makes this a sensor host, which runs "
                f"only the driver: set [daemon] stages = [\"driver\"] (not "
                f"{list(self.daemon.stages)!r}); features and control run on the hub"
            )
        return self

    @model_validator(mode="after")
    def _check_sources(self) -> Config:
        if not self.sources:
            return self
        if self.source != SourceConfig() and self.source != self.sources[0]:
            raise ValueError(
                "[source] and [[sources]] are both set: a config has one [source] table (one "
                "board) or several [[sources]] tables (one board per person), not both; move "
                "the [source] settings into a [[sources]] entry with its person"
            )
        seen: set[str] = set()
        for number, source in enumerate(self.sources, start=1):
            if source.person is None:
                raise ValueError(
                    f"[[sources]] entry {number} (board = {source.board!r}) has no person: "
                    "each of several sources is one person's; set person = "
                    f"\"P{number:02d}\" (a pseudonymous id) in it"
                )
            if source.person in seen:
                raise ValueError(
                    f"[[sources]] person = {source.person!r} is set on more than one source: "
                    "each source is one person's board; give each its own person"
                )
            seen.add(source.person)
        _check_distinct_boards(self.sources)
        if self.bus.connect and len(self.sources) > 1:
            raise ValueError(
                f"[[sources]] has {len(self.sources)} sources, but [bus] connect makes this a "
                "sensor host, whose clock the hub knows by one person (docs/clocks.md): run "
                "one sensor host per person, or run the sources on the hub's machine"
            )
        # ``source`` is the first source: what reads one source's settings reads it.
        object.__setattr__(self, "source", self.sources[0])
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A config without [[sources]] dumps as it always did (its hash stays the same).
        data = handler(self)
        if not self.sources:
            data.pop("sources", None)
        return data

    @property
    def all_sources(self) -> tuple[SourceConfig, ...]:
        """The sources this daemon runs: the ``[[sources]]``, else the one ``[source]``."""
        return self.sources or (self.source,)

    def for_source(self, source: SourceConfig) -> Config:
        """This config as one source's daemon would have it: ``source`` as its only
        ``[source]`` (what a source factory reads). The config itself without
        ``[[sources]]``."""
        if not self.sources:
            return self
        return self.model_copy(update={"source": source, "sources": ()})


#: What BrainFlow tells one board from another: two sources alike in all of these are one
#: board, which it opens once (ANOTHER_BOARD_IS_CREATED_ERROR for the second).
_BOARD_IDENTITY = ("board", "serial_port", "ip_address", "ip_port", "mac_address",
                   "serial_number", "file", "file_aux", "master_board")


def _check_distinct_boards(sources: tuple[SourceConfig, ...]) -> None:
    """Refuse two ``[[sources]]`` that would open the same board (a scenario's file is
    rendered per source, so scenarios differ)."""
    owners: dict[tuple[Any, ...], str | None] = {}
    for source in sources:
        if source.scenario:
            continue
        key = tuple(getattr(source, name) for name in _BOARD_IDENTITY)
        if key in owners:
            raise ValueError(
                f"[[sources]] person = {owners[key]!r} and person = {source.person!r} name the "
                f"same {source.board} board (the same connection settings), which BrainFlow "
                "opens once: give each its own serial_port / ip_address / mac_address / file; "
                "for two synthetic boards set a different serial_number in each "
                '(serial_number = "P02")'
            )
        owners[key] = source.person


def _format_errors(exc: ValidationError, origin: str) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error["loc"]]
        key = loc[-1] if loc else "(top level)"
        table = "[" + ".".join(loc[:-1]) + "] " if len(loc) > 1 else ""
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            lines.append(f"{table}{key}: unknown key (check its spelling and table)")
        elif error["type"] == "value_error" or not loc:
            lines.append(
                f"{table.strip() or 'config'}: {error['msg'].removeprefix('Value error, ')}"
            )
        else:
            lines.append(f"{table}{key} = {value!r}: {error['msg']}")
    return f"{origin}: invalid configuration:\n  " + "\n  ".join(lines)


def config_from_mapping(data: Mapping[str, Any], origin: str = "config") -> Config:
    """Validate a mapping (parsed TOML) into a Config, or raise ConfigError."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin)) from None


def load_config(path: str | Path) -> Config:
    """Load and validate a TOML config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} does not exist; see configs/ for examples "
            "(configs/synthetic.toml)"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_mapping(data, origin=str(path))


def with_overrides(config: Config, section: str, **values: Any) -> Config:
    """A validated copy with the given keys of one table replaced (None values are skipped).

    ``source`` with ``[[sources]]``: the one entry is changed; with several, which one is
    meant is not known, and a ConfigError says so."""
    updates = {k: v for k, v in values.items() if v is not None}
    if not updates:
        return config
    data = config.model_dump()
    if section == "source" and config.sources:
        if len(config.sources) > 1:
            keys = ", ".join(sorted(updates))
            raise ConfigError(
                f"command line: cannot override [source] {keys}: this config has "
                f"{len(config.sources)} [[sources]]; set them in each [[sources]] entry"
            )
        data["sources"][0].update(updates)
    data[section].update(updates)
    return config_from_mapping(data, origin="command line")


def with_sources(config: Config, sources: tuple[SourceConfig, ...]) -> Config:
    """A validated copy whose ``[[sources]]`` (several) or ``[source]`` (one, when the
    config has no ``[[sources]]``) are ``sources``."""
    data = config.model_dump()
    if config.sources:
        data["sources"] = [source.model_dump() for source in sources]
        data["source"] = data["sources"][0]
    else:
        (data["source"],) = (source.model_dump() for source in sources)
    return config_from_mapping(data, origin="config")
