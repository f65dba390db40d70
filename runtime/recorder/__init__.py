"""Crash-safe session recording: a stage that writes a session directory, and its readers.

A session directory holds ``session.json`` (board, presets, layouts, config, versions),
``raw.csv``/``raw.aux.csv`` (every row of each preset in BrainFlow's file format, so the
playback board replays it as it is) and JSON-lines files of features, control, decisions,
markers, status events and model status. ``load_session`` reads one back, each recorded
message as a :class:`SessionRecord` with its typed body. See docs/lab-sessions.md.
"""

from runtime.recorder._errors import SessionError
from runtime.recorder._files import JSONL_FILES, METADATA_FILE, RAW_FILES, raw_file_name
from runtime.recorder._readers import (
    BoardFile,
    RecordedSession,
    RecordFile,
    SessionRecord,
    SkippedRecord,
    complete_lines_size,
    iter_jsonl,
    load_session,
    read_board_file,
    read_jsonl,
    read_metadata,
    read_records,
)
from runtime.recorder._stage import RECORDED_TOPICS, RecorderStage

__all__ = [
    "JSONL_FILES",
    "METADATA_FILE",
    "RAW_FILES",
    "RECORDED_TOPICS",
    "BoardFile",
    "RecordFile",
    "RecordedSession",
    "RecorderStage",
    "SessionError",
    "SessionRecord",
    "SkippedRecord",
    "complete_lines_size",
    "iter_jsonl",
    "load_session",
    "raw_file_name",
    "read_board_file",
    "read_jsonl",
    "read_metadata",
    "read_records",
]
