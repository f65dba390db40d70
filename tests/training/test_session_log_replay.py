"""End to end (slow): a seeded job's step log, recorded beside a live session on the
synthetic board, reproduced by the same job in lockstep beside `kintsugi replay`."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from runtime.client import ControlClient
from runtime.recorder import RecorderStage, read_manifest
from runtime.training import (
    TRAINING_LOG_FILE,
    Biofeedback,
    GoldenRepair,
    first_difference,
    read_training_log,
)
from tests.lab._helpers import fast_config, running_daemon, wait_for

REPO = Path(__file__).resolve().parents[2]
STEPS = 150


def run_job(client: ControlClient, log: Path, *, follow: Path | None = None,
            step_s: float = 0.04) -> Biofeedback:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    data = torch.Generator().manual_seed(0)
    extra = {} if follow is None else {"follow": follow, "follow_timeout_s": 30.0}
    with Biofeedback(model, client, repair=GoldenRepair(model, ["0"]), status_every=10,
                     log=log, log_info={"model_seed": 0}, **extra) as bf:
        for _ in range(STEPS):
            opt.zero_grad()
            model(torch.randn(16, 8, generator=data)).pow(2).mean().backward()
            opt.step()
            time.sleep(step_s)  # a live job's steps take time: controls change between them
            bf.step()
    return bf


@pytest.mark.slow
def test_a_replay_beside_the_same_job_in_lockstep_reproduces_its_log(tmp_path):
    _, config = fast_config(tmp_path)
    session, again = tmp_path / "session", tmp_path / "again"
    with running_daemon(config, {"recorder": RecorderStage(session, config)},
                        board_rows=True) as daemon:
        client = ControlClient(daemon.subscribe_endpoint,
                               publish_endpoint=daemon.publish_endpoint)
        with client:
            wait_for(lambda: client.current().seq >= 0, 20, "the first control")
            run_job(client, session)
    original = read_training_log(session / TRAINING_LOG_FILE)
    assert original.header["session_id"] == read_manifest(session).session_id
    assert len({s.seq for s in original.steps}) > 5  # controls changed during the job

    results: dict[str, object] = {}

    def follow_job() -> None:
        client = ControlClient(config.bus.subscribe_endpoint, publish_endpoint=None)
        try:
            results["job"] = run_job(client, again, follow=session / TRAINING_LOG_FILE,
                                     step_s=0.0)
        except Exception as exc:  # reported below
            results["error"] = exc
        finally:
            client.close()

    job = threading.Thread(target=follow_job)
    job.start()
    wait_for(lambda: (again / TRAINING_LOG_FILE).exists(), 20, "the following job's log")
    replay = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "replay", str(session), "--speed", "1",
         "--record", str(again), "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    job.join(60)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert "error" not in results, f"the following job failed: {results.get('error')}"
    reproduced = read_training_log(again / TRAINING_LOG_FILE)
    # Lockstep itself: every step waited for, and got, the control seq the session's job
    # applied there, and the job ran as many steps.
    assert [s.seq for s in reproduced.steps] == [s.seq for s in original.steps]
    difference = first_difference(original.steps, reproduced.steps)
    assert difference is None
    assert reproduced.end["follow_mismatches"] == 0
