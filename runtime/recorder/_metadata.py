"""``session.json``: the session manifest, everything reproducing a session needs.

Besides the board, its presets and the times, the manifest holds the whole config and its
hash (:func:`config_sha256`), the versions of the packages that shape the data, the
resolver's session seed, the sim scenario and its seed when one was replayed, the
participant's pseudonymous id and the baseline the features started from (its content and
hash, or ``"calibrated"``). Format 2 added these; a format-1 ``session.json`` still reads
(:func:`runtime.recorder.read_manifest`). See docs/lab-sessions.md, "The manifest".
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runtime.config import Config
from runtime.errors import ConfigError

#: Bumped when the layout of a session directory changes incompatibly. 2: the manifest
#: fields (session_id, config_sha256, resolver, resolver_seed, scenario, participant,
#: baseline); versions name torch, qiskit and qiskit-aer too.
SESSION_FORMAT = 2
#: Packages whose versions the manifest records (read with importlib.metadata: none is
#: imported, so recording never loads torch or qiskit).
VERSIONED_PACKAGES = (
    "kintsugi-biofeedback",
    "brainflow",
    "numpy",
    "scipy",
    "pyzmq",
    "torch",
    "qiskit",
    "qiskit-aer",
)
#: ``baseline.source`` when the features calibrated on the session's first minutes.
CALIBRATED = "calibrated"


def canonical_json(data: Any) -> bytes:
    """The canonical JSON of ``data``: keys sorted at every level, no whitespace
    (``","`` and ``":"`` separators), UTF-8 with non-ASCII kept as is, numbers as Python
    writes them; NaN and infinities are refused (JSON has none)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.encode("utf-8")


def config_sha256(config: Config | Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON (:func:`canonical_json`) of a config as the
    manifest stores it (``Config.model_dump(mode="json")``): recompute it from
    ``session.json``'s ``config`` to check a manifest, compare it to know two sessions
    ran the same settings."""
    data = config.model_dump(mode="json") if isinstance(config, Config) else config
    return hashlib.sha256(canonical_json(data)).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the recorded data."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def replay_board(config: Config) -> str:
    """The board whose row layout the raw files have (a playback's ``master_board``)."""
    source = config.source
    return source.master_board if source.board == "playback" else source.board


def resolver_seed(config: Config) -> int | None:
    """The session seed the quantum resolver derives every draw's seed from
    (``[controller] decision_seed``); None for the deterministic resolver, which draws
    nothing."""
    controller = config.controller
    return controller.decision_seed if controller.decision == "quantum" else None


def scenario_manifest(config: Config) -> dict[str, Any] | None:
    """The sim scenario replayed (``[source] scenario``): name, file, its sha256, its seed
    and the replay speed; None when the session did not come from a scenario."""
    source = config.source
    if not source.scenario:
        return None
    from sim import load_scenario, scenario_path

    try:
        path = scenario_path(source.scenario)
        scenario = load_scenario(path)
    except ValueError as exc:  # sim's ScenarioError
        raise ConfigError(f"[source] scenario = {source.scenario!r}: {exc}") from exc
    return {
        "name": scenario.name,
        "path": str(path.resolve()),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "seed": scenario.seed,
        "speed": source.speed,
    }


def baseline_manifest(config: Config) -> dict[str, Any]:
    """The baseline the features start from: ``{"source": "calibrated"}`` (path, sha256 and
    content null) when ``[session] baseline`` is unset, else ``"file"`` with the file's
    path, the sha256 of its bytes and its JSON content."""
    given = config.session.baseline
    if not given:
        return {"source": CALIBRATED, "path": None, "sha256": None, "content": None}
    path = Path(given)
    try:
        raw = path.read_bytes()
        content = json.loads(raw)
    except OSError as exc:
        raise ConfigError(
            f"[session] baseline = {given!r}: cannot read it ({exc.strerror or exc}); give the "
            "path of a saved baseline file, or leave it unset to calibrate"
        ) from None
    except ValueError as exc:
        raise ConfigError(
            f"[session] baseline = {given!r} is not a JSON baseline file ({exc}); give the "
            "path of a saved baseline file, or leave it unset to calibrate"
        ) from None
    return {
        "source": "file",
        "path": str(path.resolve()),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "content": content,
    }


def initial_metadata(config: Config, *, seed: int | None = None) -> dict[str, Any]:
    """The manifest known before the first sample (``started_at`` is now; the recorder
    adds presets as they arrive and the end time, samples and ``complete`` at the end).

    ``seed`` overrides the resolver's session seed when a session chooses its own (None:
    :func:`resolver_seed` of the config). Raises :class:`ConfigError` when the scenario
    or the baseline file named by the config cannot be read.
    """
    config_json = config.model_dump(mode="json")
    return {
        "format": SESSION_FORMAT,
        "session_id": uuid.uuid4().hex,
        "board": config.source.board,
        "master_board": replay_board(config),
        "started_at": time.time(),
        "ended_at": None,
        "complete": False,
        "presets": {},
        "participant": config.session.participant,
        "baseline": baseline_manifest(config),
        "resolver": config.controller.decision,
        "resolver_seed": resolver_seed(config) if seed is None else int(seed),
        "scenario": scenario_manifest(config),
        "config": config_json,
        "config_sha256": config_sha256(config_json),
        "versions": package_versions(),
    }
