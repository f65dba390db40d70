"""The session manifest read back as a typed object, for this format and the ones before.

``read_metadata`` gives ``session.json`` as JSON; :func:`read_manifest` gives a
:class:`SessionManifest` whose fields say what each key means, with a format-1 session
(written before the manifest fields) read as it was: no session id, resolver seed,
scenario details or participant, and a baseline of unknown origin, while its config hash
is recomputed from the config it holds (the hash is defined on that config alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.recorder._errors import SessionError
from runtime.recorder._metadata import CALIBRATED, SESSION_FORMAT, config_sha256
from runtime.recorder._readers import read_metadata

#: ``BaselineUsed.source`` of a format-1 session, which did not record its baseline.
UNKNOWN = "unknown"


@dataclass(frozen=True)
class BaselineUsed:
    """The baseline a session's features started from.

    ``source``: ``"calibrated"`` (from the session's own first minutes), ``"file"`` (a saved
    baseline: ``path``, ``sha256`` of its bytes and its JSON ``content``) or ``"unknown"``
    (a format-1 session).
    """

    source: str
    path: str | None = None
    sha256: str | None = None
    content: Any = None


@dataclass(frozen=True)
class ScenarioUsed:
    """The sim scenario a session replayed: name, file and its sha256, seed and speed."""

    name: str
    path: str
    sha256: str
    seed: int
    speed: float


@dataclass(frozen=True)
class SessionManifest:
    """``session.json``, typed. ``config_sha256`` is :func:`config_sha256` of ``config``;
    ``resolver_seed`` is None for the deterministic resolver and for format-1 sessions.
    ``presets`` are the board's that named no person; ``persons`` maps each person whose
    chunks named them to ``{"presets", "samples", "lost_samples"}`` (empty in a
    single-person session)."""

    directory: Path
    format: int
    session_id: str | None
    board: str
    master_board: str
    started_at: float
    ended_at: float | None
    complete: bool
    config: dict[str, Any]
    config_sha256: str
    versions: dict[str, str]
    resolver: str | None
    resolver_seed: int | None
    scenario: ScenarioUsed | None
    participant: str | None
    baseline: BaselineUsed
    presets: dict[str, Any]
    persons: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], directory: Path) -> SessionManifest:
        """The manifest of a parsed ``session.json``; :class:`SessionError` names a bad key."""
        where = f"{directory}/session.json"
        fmt = data.get("format")
        if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
            raise SessionError(f"{where}: 'format' is {fmt!r}; expected an integer ≥ 1")
        if fmt > SESSION_FORMAT:
            raise SessionError(
                f"{where}: format {fmt} was written by a newer kintsugi (this one reads up to "
                f"{SESSION_FORMAT}); upgrade kintsugi to read it"
            )
        config = _typed(data, "config", dict, where)
        if fmt == 1:
            baseline = BaselineUsed(UNKNOWN)
            scenario = None
            stored_hash = None
        else:
            baseline = _baseline(_typed(data, "baseline", dict, where), where)
            found = data.get("scenario")
            scenario = None if found is None else _scenario(found, where)
            stored_hash = _typed(data, "config_sha256", str, where)
        return cls(
            directory=directory,
            format=fmt,
            session_id=_optional(data, "session_id", str, where),
            board=_typed(data, "board", str, where),
            master_board=_typed(data, "master_board", str, where),
            started_at=float(_typed(data, "started_at", (int, float), where)),
            ended_at=_optional(data, "ended_at", (int, float), where),
            complete=bool(data.get("complete", False)),
            config=config,
            config_sha256=stored_hash or config_sha256(config),
            versions=dict(_typed(data, "versions", dict, where)),
            resolver=_optional(data, "resolver", str, where),
            resolver_seed=_optional(data, "resolver_seed", int, where),
            scenario=scenario,
            participant=_optional(data, "participant", str, where),
            baseline=baseline,
            presets=dict(data.get("presets") or {}),
            persons=dict(_optional(data, "persons", dict, where) or {}),
        )


def read_manifest(directory: Path | str) -> SessionManifest:
    """The typed manifest of a session directory (format 1 or 2)."""
    directory = Path(directory)
    return SessionManifest.from_dict(read_metadata(directory), directory)


def _typed(data: dict[str, Any], key: str, kind: Any, where: str) -> Any:
    value = data.get(key)
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise SessionError(f"{where}: {key!r} is {value!r}; expected {_kind_name(kind)}")
    return value


def _optional(data: dict[str, Any], key: str, kind: Any, where: str) -> Any:
    return None if data.get(key) is None else _typed(data, key, kind, where)


def _kind_name(kind: Any) -> str:
    names = {dict: "an object", str: "a string", int: "an integer", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _baseline(data: dict[str, Any], where: str) -> BaselineUsed:
    source = _typed(data, "source", str, f"{where} baseline")
    if source not in (CALIBRATED, "file"):
        raise SessionError(f"{where}: baseline source {source!r}; expected 'calibrated' or 'file'")
    return BaselineUsed(
        source=source,
        path=_optional(data, "path", str, where),
        sha256=_optional(data, "sha256", str, where),
        content=data.get("content"),
    )


def _scenario(data: Any, where: str) -> ScenarioUsed:
    if not isinstance(data, dict):
        raise SessionError(f"{where}: 'scenario' is {data!r}; expected an object or null")
    inner = f"{where} scenario"
    return ScenarioUsed(
        name=_typed(data, "name", str, inner),
        path=_typed(data, "path", str, inner),
        sha256=_typed(data, "sha256", str, inner),
        seed=_typed(data, "seed", int, inner),
        speed=float(_typed(data, "speed", (int, float), inner)),
    )
