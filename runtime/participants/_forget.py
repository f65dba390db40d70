"""``forget``: remove every session, baseline and training log of one participant.

Order: finish tombstones an interrupted run left; find the participant's sessions
(``session.json``'s participant), its baseline directory and its training logs; rename each
to a tombstone (atomic: a reader sees the whole item or nothing); delete the tombstones;
scan again and report anything left; append an audit line. A ``kill -9`` at any point
leaves every session whole or gone (a tombstone, finished by the next run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runtime.errors import ConfigError
from runtime.participants._atomic import (
    delete_tombstone,
    find_tombstones,
    finish_tombstones,
    make_tombstone,
)
from runtime.participants._audit import append_audit, relative_paths
from runtime.participants._baselines import BaselineStore
from runtime.participants._ids import check_participant_id
from runtime.participants._sessions import find_sessions, find_training_logs

__all__ = ["ForgetReport", "ParticipantData", "find_participant_data", "forget_participant"]

logger = logging.getLogger("runtime.participants")


@dataclass(frozen=True)
class ParticipantData:
    """What a root holds of one participant."""

    sessions: tuple[Path, ...] = ()
    baselines: tuple[Path, ...] = ()
    training_logs: tuple[Path, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        """Logs first: a log found through its session's id must go before the session (a
        kill between the two would leave a log no later scan can tie to the participant)."""
        return self.training_logs + self.baselines + self.sessions

    def counts(self) -> dict[str, int]:
        return {
            "sessions": len(self.sessions),
            "baselines": len(self.baselines),
            "training_logs": len(self.training_logs),
        }


@dataclass(frozen=True)
class ForgetReport:
    """What ``forget`` removed, what is left (should be nothing) and the audit record."""

    participant: str
    removed: ParticipantData
    remaining: ParticipantData
    leftover_tombstones: tuple[Path, ...]
    finished_tombstones: tuple[Path, ...]
    unreadable_sessions: tuple[Path, ...]
    audit: dict[str, object] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when the re-scan found nothing of the participant and no tombstone."""
        return not self.remaining.paths and not self.leftover_tombstones


def check_root(root: Path) -> Path:
    """``root`` when it is an existing directory; a ConfigError naming ``--root`` otherwise."""
    if not root.is_dir():
        raise ConfigError(
            f"--root {str(root)!r} is not a directory: give the directory that holds the "
            "sessions and baselines (default $KINTSUGI_HOME or ~/.kintsugi)"
        )
    return root


def find_participant_data(root: Path, participant: str) -> ParticipantData:
    """Every session, baseline directory and training log of ``participant`` under ``root``."""
    check_participant_id(participant)
    baselines = BaselineStore(root).participant_dir(participant)
    return ParticipantData(
        sessions=tuple(e.path for e in find_sessions(root) if e.participant == participant),
        baselines=(baselines,) if baselines.exists() else (),
        training_logs=tuple(find_training_logs(root, participant)),
    )


def forget_participant(
    root: Path | str,
    participant: str,
    command: str,
    on_removed: Callable[[Path], None] | None = None,
) -> ForgetReport:
    """Remove everything of ``participant`` under ``root``, verify, and audit (see module)."""
    root = check_root(Path(root))
    check_participant_id(participant)
    finished = finish_tombstones(root)
    if finished:
        logger.warning("participants: finished %d interrupted deletion(s)", len(finished))
    found = find_participant_data(root, participant)
    unreadable = tuple(e.path for e in find_sessions(root) if not e.readable)
    tombstones = [(path, make_tombstone(path)) for path in found.paths]
    for path, tombstone in tombstones:
        delete_tombstone(tombstone)
        if on_removed is not None:
            on_removed(path)
    remaining = find_participant_data(root, participant)
    leftovers = tuple(find_tombstones(root))
    audit = append_audit(
        root,
        "forget",
        command,
        participant=participant,
        removed={
            "sessions": relative_paths(root, list(found.sessions)),
            "baselines": relative_paths(root, list(found.baselines)),
            "training_logs": relative_paths(root, list(found.training_logs)),
        },
        counts=found.counts(),
        finished_interrupted=len(finished),
        verified=not remaining.paths and not leftovers,
        remaining=relative_paths(root, [*remaining.paths, *leftovers]),
        unreadable_sessions=relative_paths(root, list(unreadable)),
    )
    return ForgetReport(
        participant, found, remaining, leftovers, tuple(finished), unreadable, audit
    )
