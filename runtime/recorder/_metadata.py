"""``session.json``: what a session was recorded from, so it can be replayed and exported."""

from __future__ import annotations

import importlib.metadata
import platform
import time
from typing import Any

from runtime.config import Config

#: Bumped when the layout of a session directory changes incompatibly.
SESSION_FORMAT = 1


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the recorded data."""
    versions = {"python": platform.python_version()}
    for name in ("kintsugi-biofeedback", "brainflow", "numpy", "scipy", "pyzmq"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def replay_board(config: Config) -> str:
    """The board whose row layout the raw files have (a playback's ``master_board``)."""
    source = config.source
    return source.master_board if source.board == "playback" else source.board


def initial_metadata(config: Config) -> dict[str, Any]:
    """Metadata known before the first sample: config, board, versions, start time."""
    return {
        "format": SESSION_FORMAT,
        "board": config.source.board,
        "master_board": replay_board(config),
        "started_at": time.time(),
        "ended_at": None,
        "complete": False,
        "presets": {},
        "config": config.model_dump(mode="json"),
        "versions": package_versions(),
    }
