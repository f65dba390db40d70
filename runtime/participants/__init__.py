"""Participant data: pseudonymous ids, versioned per-person baselines, forget and retention.

Everything is filed under a store root (``--root``; default ``$KINTSUGI_HOME`` or
``~/.kintsugi``): ``baselines/<ID>/vN.json`` with ``current.json``, session directories
wherever the lab records them, training logs, and ``audit.jsonl``. Deletions are crash-safe
(atomic rename to a tombstone first). See docs/participants.md.
"""

from runtime.participants._atomic import PAUSE_ENV, finish_tombstones, is_tombstone
from runtime.participants._baselines import (
    BASELINE_KINDS,
    BaselineStore,
    SessionBaseline,
    StoredBaseline,
    read_baseline_sections,
)
from runtime.participants._derive import derive_session_baseline
from runtime.participants._forget import (
    ForgetReport,
    ParticipantData,
    check_root,
    find_participant_data,
    forget_participant,
)
from runtime.participants._ids import (
    MAX_ID_LENGTH,
    check_participant_id,
    name_like_reason,
    validate_participant,
)
from runtime.participants._retention import (
    RetentionReport,
    delete_sessions,
    parse_age,
    session_started_at,
    sessions_older_than,
)
from runtime.participants._root import AUDIT_FILE, ROOT_ENV, default_root, resolve_root
from runtime.participants._session_config import (
    apply_session_choice,
    resolve_baseline_choice,
)
from runtime.participants._sessions import (
    SessionEntry,
    find_sessions,
    find_training_logs,
    session_participant,
)

__all__ = [
    "AUDIT_FILE",
    "BASELINE_KINDS",
    "MAX_ID_LENGTH",
    "PAUSE_ENV",
    "ROOT_ENV",
    "BaselineStore",
    "ForgetReport",
    "ParticipantData",
    "RetentionReport",
    "SessionBaseline",
    "SessionEntry",
    "StoredBaseline",
    "apply_session_choice",
    "check_participant_id",
    "check_root",
    "default_root",
    "delete_sessions",
    "derive_session_baseline",
    "find_participant_data",
    "find_sessions",
    "find_training_logs",
    "finish_tombstones",
    "forget_participant",
    "is_tombstone",
    "name_like_reason",
    "parse_age",
    "read_baseline_sections",
    "resolve_baseline_choice",
    "resolve_root",
    "session_participant",
    "session_started_at",
    "sessions_older_than",
    "validate_participant",
]
