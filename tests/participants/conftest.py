"""Fixtures of the participant tests: one real recorded session (in-process daemon on
BrainFlow's synthetic board with the recorder, participant P01), shared read-only; tests
copy it into their own root."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from drivers import set_brainflow_logging
from runtime.config import load_config
from runtime.recorder import RecorderStage
from tests.daemon._helpers import write_config
from tests.lab._helpers import running_daemon, wait_for

SESSION_EXTRA = '\n[session]\nparticipant = "P01"\n'


@pytest.fixture(scope="session")
def recorded_p01(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~5 s synthetic session of P01 (attention calibrates on its first 3 s)."""
    set_brainflow_logging(False)
    root = tmp_path_factory.mktemp("recorded-p01")
    config = load_config(write_config(root, SESSION_EXTRA, baseline_s=3.0)[0])
    directory = root / "session"
    with running_daemon(config, {"recorder": RecorderStage(directory, config)},
                        board_rows=True):
        wait_for(lambda: (directory / "features.jsonl").exists(), 15, "first features")
        time.sleep(3.0)
    return directory


def copy_session(source: Path, target: Path, participant: str | None = "P01") -> Path:
    """A copy of a recorded session under ``target`` whose session.json names
    ``participant`` (both the manifest's key and the config's), with its own session_id
    (``<dir name>-<participant>``)."""
    import json

    shutil.copytree(source, target)
    meta_path = target / "session.json"
    meta = json.loads(meta_path.read_text())
    meta["participant"] = participant
    meta["session_id"] = f"{target.name}-{participant}"
    meta["config"]["session"]["participant"] = participant
    meta_path.write_text(json.dumps(meta))
    return target
