"""The training job's step-aligned log (Biofeedback(log=...)) and lockstep reproduction
(Biofeedback(follow=...)): exact lines against the controls published on a real bus, a
kill -9 leaves a readable log, a log that cannot be written never stops training, and a
job following a log beside the same controls writes the same log."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from runtime.bus import BusPublisher
from runtime.client import ControlClient
from runtime.errors import ConfigError
from runtime.messages import Control
from runtime.training import (
    TRAINING_LOG_FILE,
    Biofeedback,
    GoldenRepair,
    LockstepTimeoutError,
    TrainingStep,
    first_difference,
    read_training_log,
)
from tests.conftest import free_tcp_port
from tests.training._sources import ScriptedSource, make_control

REPO = Path(__file__).resolve().parents[2]
#: The step whose batch carries a NaN row: Linear(8, 16) repairs that row's 16 outputs.
NAN_STEP = 5
NAN_REPAIRS = 16


def seeded_job(bf_kwargs: dict, client, steps: int, *, between=None, seed: int = 3) -> Biofeedback:
    """A seeded job (model, data, a NaN validation batch at NAN_STEP) of ``steps`` steps;
    ``between(n)`` runs after step n's training, before its boundary."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    repair = GoldenRepair(model, ["0"], warmup_steps=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    data = torch.Generator().manual_seed(seed)
    with Biofeedback(model, client, repair=repair, status_every=4, **bf_kwargs) as bf:
        for n in range(steps):
            x = torch.randn(16, 8, generator=data)
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            if n == NAN_STEP:  # a validation batch with a NaN row (no gradient: the
                x[3] = float("nan")  # weights stay finite)
                with torch.no_grad():
                    model(x)
            if between is not None:
                between(n)
            bf.step()
    return bf


def publish_and_wait(publisher: BusPublisher, client: ControlClient, control: Control) -> None:
    """Publish ``control`` until the client holds it (the first sends may be dropped while
    the PUB socket connects)."""
    end = time.monotonic() + 10
    while client.current().seq != control.seq:
        assert time.monotonic() < end, f"control seq {control.seq} never reached the client"
        publisher.publish("control", control)
        time.sleep(0.02)


def live(seq: int, intensity: float, gentle: bool) -> Control:
    """A control that stays live for the test however loaded the machine is."""
    # Built at import (SCHEDULE): the TTL must outlast a whole suite run before this test.
    control = make_control(seq, intensity, gentle)
    return replace(control, ttl_s=1e6, expires_at=control.issued_at + 1e6)


#: Controls published during the live job: (after step n's training, the control).
SCHEDULE = (
    (-1, live(10, 1.2, False)),
    (2, live(11, 1.5, False)),
    (6, live(12, 0.8, True)),
)
STEPS = 10


def expected_seq(step: int) -> int:
    """Step n runs on the last control published before its boundary (boundary n follows
    step n−1's training)."""
    return max(c.seq for after, c in SCHEDULE if after < step)


def live_job(broker, log_target: Path) -> Biofeedback:
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    client = ControlClient(broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint)
    by_step = {after: control for after, control in SCHEDULE}
    try:
        publish_and_wait(publisher, client, by_step[-1])

        def between(n: int) -> None:
            if n in by_step:
                publish_and_wait(publisher, client, by_step[n])

        return seeded_job({"log": log_target, "log_info": {"model_seed": 3}}, client, STEPS,
                          between=between)
    finally:
        client.close()
        publisher.close()


def test_a_live_job_logs_each_step_with_the_control_it_applied(broker, tmp_path):
    session = tmp_path / "session"
    session.mkdir()
    (session / "session.json").write_text(json.dumps({"format": 2, "session_id": "abc123",
                                                           "participant": "P07"}))
    live_job(broker, session)
    log = read_training_log(session / TRAINING_LOG_FILE)
    controls = {c.seq: c for _, c in SCHEDULE}
    # Steps 0 … STEPS: one per boundary (start, each step(), the last until close()).
    assert [s.step for s in log.steps] == list(range(STEPS + 1))
    assert [s.seq for s in log.steps] == [expected_seq(n) for n in range(STEPS + 1)]
    assert [s.seq for s in log.steps] == [10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12]
    for s in log.steps:
        control = controls[s.seq]
        assert (s.intensity, s.gentle, s.rule) == (control.intensity, control.gentle,
                                                   control.rule)
    # The NaN row of step 5's batch: 16 repaired outputs of module "0", at that step only.
    assert {s.step: s.repairs for s in log.steps if s.repairs} == {NAN_STEP: NAN_REPAIRS}
    assert log.steps[NAN_STEP].repairs_by_module == {"0": NAN_REPAIRS}
    header = log.header
    assert header is not None and header["kind"] == "job"
    assert header["model_seed"] == 3 and header["torch_seed"] == 3
    assert header["session"] == str(session.resolve()) and header["session_id"] == "abc123"
    assert header["participant"] == "P07"  # filed like its session, for kintsugi forget
    assert header["followed"] is None and header["status_every"] == 4
    assert log.end is not None and log.end["steps"] == STEPS + 1 and not log.torn_last_line


def test_lockstep_reproduces_the_log_whenever_the_controls_arrive(broker, tmp_path):
    live_job(broker, tmp_path / "live")
    original = read_training_log(tmp_path / "live")
    publisher = BusPublisher(broker.publish_endpoint, "replay")
    client = ControlClient(broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint)
    try:
        # The replay sends every control at once ("--speed 0"), a step before the job
        # needs it; the client ends up holding only the last one.
        def replay_all(n: int) -> None:
            if n == 0:
                for _, control in SCHEDULE:
                    publisher.publish("control", control)

        # Step 0 needs seq 10 before any step ran: published once the lockstep subscribed.
        publish_and_wait(publisher, client, SCHEDULE[0][1])
        seeded_job({"log": tmp_path / "again", "follow": tmp_path / "live",
                    "follow_timeout_s": 10}, client, STEPS, between=replay_all)
        # Without lockstep, the same job and the same controls give another log.
        publish_and_wait(publisher, client, SCHEDULE[-1][1])
        seeded_job({"log": tmp_path / "unfollowed"}, client, STEPS)
    finally:
        client.close()
        publisher.close()
    again = read_training_log(tmp_path / "again")
    assert first_difference(original.steps, again.steps) is None
    assert again.steps == original.steps and len(again.steps) == STEPS + 1
    assert again.header["followed"] == str((tmp_path / "live" / TRAINING_LOG_FILE).resolve())
    assert again.end["follow_mismatches"] == 0
    unfollowed = read_training_log(tmp_path / "unfollowed")
    assert [s.seq for s in unfollowed.steps] == [12] * (STEPS + 1)
    assert first_difference(original.steps, unfollowed.steps).startswith("step 0: expected")


def test_lockstep_waits_for_the_logged_seq_and_says_why_it_timed_out(broker, tmp_path):
    followed = tmp_path / "followed.jsonl"
    lines = [{"kind": "job", "format": "kintsugi-training-log/1"},
             TrainingStep(0, 77, 1.5, False, "test:77").to_dict()]
    followed.write_text("".join(json.dumps(line) + "\n" for line in lines))
    client = ControlClient(broker.subscribe_endpoint, publish_endpoint=None)
    publisher = BusPublisher(broker.publish_endpoint, "replay")
    try:
        publish_and_wait(publisher, client, make_control(76, 1.2))  # another seq: not it
        with pytest.raises(LockstepTimeoutError,
                           match=r"step 0 of .*followed\.jsonl applied control seq 77, which "
                                 r"has not arrived .* within 0\.3 s .*highest seq 76"):
            Biofeedback(None, client, repair=False, follow=followed,
                        follow_timeout_s=0.3).start()
    finally:
        client.close()
        publisher.close()


def test_follow_needs_a_bus_and_a_log_is_never_overwritten(tmp_path):
    source = ScriptedSource([make_control(0)])
    followed = tmp_path / "f.jsonl"
    followed.write_text(json.dumps(TrainingStep(0, 0, 1.0, False, "test:0").to_dict()) + "\n")
    with pytest.raises(ConfigError, match="'follow' needs the bus to wait on"):
        Biofeedback(None, source, repair=False, follow=followed)
    (tmp_path / TRAINING_LOG_FILE).write_text("")
    with pytest.raises(ConfigError, match=r"training log .*training\.jsonl' exists already"):
        Biofeedback(None, source, repair=False, log=tmp_path)


def test_a_log_in_a_read_only_place_warns_once_and_training_goes_on(caplog):
    source = ScriptedSource([make_control(0), make_control(1, 1.5)])
    caplog.set_level(logging.WARNING, logger="runtime.training")
    # /proc refuses new entries even to root (chmod would not stop root).
    with Biofeedback(None, source, repair=False, log="/proc/kintsugi-h6-test",
                     status_every=2) as bf:
        for _ in range(9):
            bf.step()
    assert bf.step_count == 9 and bf.control.seq == 1 and bf.log.failed
    warnings = [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(warnings) == 1 and "/proc/kintsugi-h6-test/training.jsonl" in warnings[0]


def test_a_disk_that_fills_up_mid_run_keeps_what_was_written(tmp_path, caplog):
    source = ScriptedSource([make_control(0)])
    caplog.set_level(logging.WARNING, logger="runtime.training")
    with Biofeedback(None, source, repair=False, log=tmp_path, status_every=2) as bf:
        for _ in range(4):
            bf.step()  # steps 0-3 are written at the status reports of steps 2 and 4
        full = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC
        os.dup2(full, bf.log._fd)
        os.close(full)
        for _ in range(6):
            bf.step()
    assert bf.step_count == 10 and bf.log.failed
    warnings = [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    kept = read_training_log(tmp_path)
    assert [s.step for s in kept.steps] == [0, 1, 2, 3] and kept.end is None


def test_kill_9_mid_run_leaves_a_readable_log(tmp_path):
    session = tmp_path / "session"
    job = subprocess.Popen(
        [sys.executable, str(REPO / "examples" / "train_with_biofeedback.py"),
         "--steps", "1000000", "--session", str(session), "--seed", "4",
         "--endpoint", f"tcp://127.0.0.1:{free_tcp_port()}", "--publish-endpoint", "",
         "--print-every", "1000000"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # one core each on a shared machine
    )
    path = session / TRAINING_LOG_FILE
    try:
        end = time.monotonic() + 60
        while not (path.exists() and path.read_bytes().count(b"\n") >= 41):
            assert job.poll() is None, job.stderr.read().decode()
            assert time.monotonic() < end, "the job wrote no 41 lines in 60 s"
            time.sleep(0.05)
        job.send_signal(signal.SIGKILL)
        job.wait(10)
    finally:
        if job.poll() is None:
            job.kill()
        job.stderr.close()
    log = read_training_log(path)
    assert log.header is not None and log.header["model_seed"] == 4 and log.end is None
    assert len(log.steps) >= 40  # written at the status reports, every 10 steps
    assert [s.step for s in log.steps] == list(range(len(log.steps)))  # none lost, in order
    # No daemon: every step ran on the client's local safe state.
    assert {(s.seq, s.gentle, s.rule) for s in log.steps} == {(-1, True, "safe:no-control-yet")}
