"""Crash-safe session recording: a stage that writes a session directory, and its readers.

A session directory holds ``session.json`` (the manifest: board, presets, layouts, the
config and its hash, versions, resolver seed, scenario, participant, baseline),
``raw.csv``/``raw.aux.csv`` (every row of each preset in BrainFlow's file format, so the
playback board replays it as it is; ``persons/<person>/raw.csv`` … for each person's board
when several people stream into one hub) and JSON-lines files of features, control,
decisions, markers, status events and model status. ``load_session`` reads one back, each recorded
message as a :class:`SessionRecord` with its typed body; ``read_manifest`` gives the
manifest as a :class:`SessionManifest`. See docs/lab-sessions.md.
"""

from runtime.recorder._errors import SessionError
from runtime.recorder._files import (
    JSONL_FILES,
    METADATA_FILE,
    PERSONS_DIR,
    RAW_FILES,
    raw_file_name,
)
from runtime.recorder._manifest import BaselineUsed, ScenarioUsed, SessionManifest, read_manifest
from runtime.recorder._metadata import SESSION_FORMAT, canonical_json, config_sha256
from runtime.recorder._readers import (
    BoardFile,
    RecordedSession,
    RecordFile,
    SessionRecord,
    SkippedRecord,
    board_presets,
    complete_lines_size,
    iter_jsonl,
    load_session,
    only_board,
    read_board_file,
    read_jsonl,
    read_metadata,
    read_persons,
    read_raw,
    read_records,
    session_persons,
)
from runtime.recorder._stage import RECORDED_TOPICS, RecorderStage

__all__ = [
    "JSONL_FILES",
    "METADATA_FILE",
    "PERSONS_DIR",
    "RAW_FILES",
    "RECORDED_TOPICS",
    "SESSION_FORMAT",
    "BaselineUsed",
    "BoardFile",
    "RecordFile",
    "RecordedSession",
    "RecorderStage",
    "ScenarioUsed",
    "SessionError",
    "SessionManifest",
    "SessionRecord",
    "SkippedRecord",
    "board_presets",
    "canonical_json",
    "complete_lines_size",
    "config_sha256",
    "iter_jsonl",
    "load_session",
    "only_board",
    "raw_file_name",
    "read_board_file",
    "read_jsonl",
    "read_manifest",
    "read_metadata",
    "read_persons",
    "read_raw",
    "read_records",
    "session_persons",
]
