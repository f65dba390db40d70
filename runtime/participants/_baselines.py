"""The baseline store: each participant's saved baselines, versioned, one marked current.

Under ``ROOT/baselines/<ID>/``: ``v1.json``, ``v2.json`` … (one saved baseline each, never
changed after it is written) and ``current.json`` (``{"version": N}``, the one a session
starts from with ``--baseline current``). A saved baseline holds the calibration of both
estimators it covers (``attention``: each channel's median log engagement index, its δ/γ
shares and the spread of the smoothed value, which sets the noise scale; ``stress``: rest HR
and ln RMSSD), the settings each was made under, when, and from which session or file.
Every write is atomic (:mod:`runtime.participants._atomic`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError
from runtime.features import (
    BASELINE_SET_FORMAT,
    EegFeatureSettings,
    HeartFeatureSettings,
    RobustBaseline,
    attention_baseline_settings,
    differing_settings,
    stress_baseline_settings,
)
from runtime.participants._atomic import write_json_atomic
from runtime.participants._ids import check_participant_id
from runtime.participants._root import BASELINES_DIR

__all__ = [
    "BASELINE_KINDS",
    "BaselineStore",
    "SessionBaseline",
    "StoredBaseline",
    "read_baseline_sections",
]

logger = logging.getLogger("runtime.participants")

#: The estimators a baseline can cover, in the order they are listed.
BASELINE_KINDS = ("attention", "stress")
_CURRENT = "current.json"
_VERSION_FILE = re.compile(r"^v(\d+)\.json$")


@dataclass(frozen=True)
class StoredBaseline:
    """One saved baseline: whose, which version, where, and what it holds."""

    participant: str
    version: int
    path: Path
    current: bool
    content: dict[str, Any]

    @property
    def covers(self) -> tuple[str, ...]:
        """The estimators it holds a calibration for (``attention``, ``stress``)."""
        return tuple(k for k in BASELINE_KINDS if isinstance(self.content.get(k), dict))

    @property
    def created_at(self) -> float:
        return float(self.content.get("created_at", 0.0))

    @property
    def source(self) -> dict[str, Any]:
        return dict(self.content.get("source") or {})

    def settings(self, kind: str) -> dict[str, Any]:
        """The settings the ``kind`` baseline was made under (no statistics)."""
        section = self.content.get(kind) or {}
        return {k: v for k, v in section.items() if k not in ("stats", "n", "format")}


def read_baseline_sections(path: Path) -> dict[str, dict[str, Any]]:
    """The per-estimator baselines of a file: a saved set, or one estimator's baseline file
    (``AttentionEstimator.save_baseline``); each section validated (finite statistics)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"baseline file {str(path)!r} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"baseline file {str(path)!r} is not a JSON object")
    if data.get("format") == BASELINE_SET_FORMAT:
        sections = {k: data[k] for k in BASELINE_KINDS if isinstance(data.get(k), dict)}
    elif data.get("kind") in BASELINE_KINDS:
        sections = {data["kind"]: data}
    else:
        raise ConfigError(
            f"baseline file {str(path)!r} is not a kintsugi baseline (no attention or stress "
            "section): give a file from `kintsugi baseline show` or an estimator's "
            "save_baseline"
        )
    for kind in sections:
        RobustBaseline.load(path, (), expect={"kind": kind})  # statistics readable, finite
    if not sections:
        raise ConfigError(f"baseline file {str(path)!r} covers neither attention nor stress")
    return sections


class BaselineStore:
    """The saved baselines under ``root`` (``ROOT/baselines/<ID>/``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.directory = self.root / BASELINES_DIR

    def participant_dir(self, participant: str) -> Path:
        return self.directory / check_participant_id(participant)

    def participants(self) -> list[str]:
        """Ids with at least one saved baseline."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p.name for p in self.directory.iterdir()
            if p.is_dir() and not p.name.startswith(".") and self._version_numbers(p)
        )

    @staticmethod
    def _version_numbers(directory: Path) -> list[int]:
        numbers = []
        for p in directory.iterdir():
            match = _VERSION_FILE.match(p.name)
            if match:
                numbers.append(int(match.group(1)))
        return sorted(numbers)

    def current_version(self, participant: str) -> int | None:
        path = self.participant_dir(participant) / _CURRENT
        try:
            version = json.loads(path.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return version if isinstance(version, int) else None

    def versions(self, participant: str) -> list[StoredBaseline]:
        """Every saved baseline of ``participant``, oldest first."""
        directory = self.participant_dir(participant)
        if not directory.is_dir():
            return []
        current = self.current_version(participant)
        return [self._read(participant, n, current) for n in self._version_numbers(directory)]

    def _read(self, participant: str, version: int, current: int | None) -> StoredBaseline:
        path = self.participant_dir(participant) / f"v{version}.json"
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"baseline {path} is unreadable: {exc}") from exc
        return StoredBaseline(participant, version, path, version == current, content)

    def get(self, participant: str, version: int | str = "current") -> StoredBaseline:
        """One saved baseline: ``current``, a version number, or ``vN``."""
        saved = self._version_numbers(self.participant_dir(participant)) if (
            self.participant_dir(participant).is_dir()) else []
        if not saved:
            raise ConfigError(
                f"participant {participant!r} has no saved baseline under {self.directory}: "
                f"save one with `kintsugi baseline save {participant} --from SESSION_DIR`"
            )
        current = self.current_version(participant)
        wanted = current if version == "current" else _parse_version(version)
        if wanted is None or wanted not in saved:
            raise ConfigError(
                f"participant {participant!r} has no baseline version {version!r}; saved "
                f"versions: {', '.join(str(n) for n in saved)} (see `kintsugi baseline list "
                f"{participant}`)"
            )
        return self._read(participant, wanted, current)

    def save(
        self,
        participant: str,
        sections: dict[str, dict[str, Any]],
        source: dict[str, Any],
        *,
        make_current: bool = True,
    ) -> StoredBaseline:
        """Save a new version (the next number) from per-estimator baselines; it becomes
        the current one unless ``make_current`` is False."""
        directory = self.participant_dir(participant)
        directory.mkdir(parents=True, exist_ok=True)
        saved = self._version_numbers(directory)
        version = (saved[-1] if saved else 0) + 1
        created = time.time()
        content = {
            "format": BASELINE_SET_FORMAT,
            "participant": participant,
            "version": version,
            "created_at": created,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
            "source": source,
            **{k: sections[k] for k in BASELINE_KINDS if k in sections},
        }
        write_json_atomic(directory / f"v{version}.json", content)
        if make_current or self.current_version(participant) is None:
            write_json_atomic(directory / _CURRENT, {"version": version})
        return self.get(participant, version)

    def use(self, participant: str, version: int | str) -> StoredBaseline:
        """Make ``version`` the current baseline of ``participant``."""
        chosen = self.get(participant, version)
        write_json_atomic(self.participant_dir(participant) / _CURRENT, {"version": chosen.version})
        return self.get(participant, chosen.version)


def _parse_version(version: int | str) -> int | None:
    if isinstance(version, int):
        return version
    text = str(version).strip().lower().removeprefix("v")
    return int(text) if text.isdigit() else None


class SessionBaseline:
    """The saved baseline a session starts from (``[session] baseline``), checked against
    the session's feature settings when the daemon is built, so a baseline made under other
    settings is refused before anything runs. The sampling rate and channels, known only
    from the data, are checked when each estimator loads it (:meth:`start`)."""

    def __init__(
        self,
        path: str | Path,
        eeg: EegFeatureSettings,
        heart: HeartFeatureSettings,
        heart_signal: str,
    ) -> None:
        self.path = Path(path)
        sections = read_baseline_sections(self.path)
        self.covers = tuple(sections)
        expected = {"attention": attention_baseline_settings(eeg)}
        if heart_signal in ("ppg", "ecg"):
            expected["stress"] = stress_baseline_settings(heart, heart_signal)
        for kind, section in sections.items():
            differ = differing_settings(section, expected.get(kind, {}))
            if differ:
                raise ConfigError(
                    f"[session] baseline {str(self.path)!r}: its {kind} baseline was made "
                    f"under other settings: {'; '.join(differ)}. Start from a baseline made "
                    "under this config's settings (`kintsugi baseline list`), or calibrate "
                    "afresh (start without --baseline) and save that one"
                )

    def start(self, estimator: Any, kind: str) -> None:
        """Load the ``kind`` baseline into a new estimator; one it does not cover calibrates
        on the session's first minutes as usual (logged)."""
        if kind in self.covers:
            estimator.load_baseline(self.path)
        else:
            logger.info(
                "participants: %s covers %s only; %s calibrates on this session",
                self.path, ", ".join(self.covers), kind,
            )
