"""DistributedControl: the control's wire format, the one-step lag of async mode, and the
torchrun example with two real gloo ranks (the agreement check runs inside it)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from runtime.errors import ConfigError
from runtime.messages import Control, ModelStatus, safe_control
from runtime.training import (
    Biofeedback,
    DistributedControl,
    decode_control,
    encode_control,
    gloo_process_group,
)
from tests.conftest import free_tcp_port
from tests.training._sources import CountingSource, make_control

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "train_distributed.py"
TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.fixture
def single_rank_group(tmp_path):
    """A real gloo process group of one rank (collectives run through gloo's code path)."""
    with gloo_process_group(0, 1, init_method=f"file://{tmp_path / 'store'}"):
        yield


def test_gloo_process_group_yields_rank_and_world_and_destroys_the_group(tmp_path):
    with gloo_process_group(0, 1, init_method=f"file://{tmp_path / 'store'}") as world:
        assert world == (0, 1)
        assert dist.is_initialized() and dist.get_backend() == "gloo"
        total = torch.ones(3)
        dist.all_reduce(total)
        assert total.tolist() == [1.0, 1.0, 1.0]
    assert not dist.is_initialized()


def test_gloo_process_group_is_destroyed_after_an_exception(tmp_path):
    group = gloo_process_group(0, 1, init_method=f"file://{tmp_path / 'store'}")
    with pytest.raises(RuntimeError, match="step failed"), group:
        raise RuntimeError("step failed")
    assert not dist.is_initialized()


@pytest.mark.parametrize(
    ("rank", "world_size", "message"),
    [
        (0, None, "'rank' and 'world_size' go together"),
        (None, 2, "'rank' and 'world_size' go together"),
        (2, 2, r"'rank' must be an integer in \[0, 1\]; 2 is invalid"),
        (0, 0, "'world_size' must be a strictly positive integer. 0 is invalid"),
    ],
)
def test_gloo_process_group_names_a_bad_rank_or_world_size(rank, world_size, message):
    with pytest.raises(ConfigError, match=message), gloo_process_group(rank, world_size):
        pass
    assert not dist.is_initialized()


def test_gloo_process_group_refuses_a_second_group_and_leaves_the_first(single_rank_group):
    second = gloo_process_group(0, 1, init_method="tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="already exists"), second:
        pass
    assert dist.is_initialized() and dist.get_world_size() == 1


def _sum_ranks(rank: int, world: int, init_method: str) -> None:
    with gloo_process_group(rank, world, init_method=init_method) as (got_rank, got_world):
        assert (got_rank, got_world) == (rank, world)
        total = torch.tensor([float(rank + 1)])
        dist.all_reduce(total)
        assert total.item() == world * (world + 1) / 2


def test_gloo_process_group_joins_two_ranks_over_tcp():
    """The way bench/bench_training.py starts its two ranks (torch.multiprocessing)."""
    import torch.multiprocessing as mp

    port = free_tcp_port()
    mp.spawn(_sum_ranks, args=(2, f"tcp://127.0.0.1:{port}"), nprocs=2, join=True)


def test_encode_decode_round_trips_the_fields_that_matter():
    control = make_control(41, intensity=1.2345678901234567, gentle=True)
    back = decode_control(encode_control(control, torch.empty(9, dtype=torch.float64)), "x")
    fields = ("intensity", "gentle", "safe", "seq", "issued_at", "expires_at", "ttl_s")
    for field in (*fields, "source_time", "sample_time"):
        assert getattr(back, field) == getattr(control, field), field
    safe = decode_control(
        encode_control(safe_control("t"), torch.empty(9, dtype=torch.float64)), ""
    )
    assert safe.safe and safe.gentle and safe.source_time is None


def test_async_mode_applies_at_step_k_what_the_source_read_at_step_k_minus_1(single_rank_group):
    source = CountingSource()
    control = DistributedControl(source, mode="async", every=1)
    got = [control.current().seq for _ in range(6)]
    control.close()
    # Call 1 broadcasts synchronously (seq 0) and starts the broadcast of read 1; call k
    # returns read k−1 and starts read k.
    assert got == [0, 1, 2, 3, 4, 5]
    assert source.calls == 7  # the source is always one read ahead


def test_sync_mode_reads_and_applies_in_the_same_step(single_rank_group):
    source = CountingSource()
    control = DistributedControl(source, mode="sync", every=1)
    assert [control.current().seq for _ in range(4)] == [0, 1, 2, 3]
    assert source.calls == 4


def test_every_n_holds_the_control_between_broadcasts(single_rank_group):
    source = CountingSource()
    control = DistributedControl(source, mode="async", every=3)
    got = [control.current().seq for _ in range(8)]
    control.close()
    # Broadcasts at calls 1, 4, 7; async: call 4 applies what was read at call 1's end.
    assert got == [0, 0, 0, 1, 1, 1, 2, 2]
    assert source.calls == 4  # read only at broadcast steps (one read ahead)


class StepClock:
    """A clock that the test advances by one training step at a time."""

    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 100.0, step_s

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step_s


def test_by_default_the_hold_follows_the_step_time(single_rank_group):
    """2 ms steps and a 10 ms interval: after one step to measure, a broadcast every 5."""
    source = CountingSource()
    clock = StepClock(0.002)
    control = DistributedControl(source, mode="sync", interval_s=0.01, clock=clock)
    got = []
    for _ in range(17):
        got.append(control.current().seq)
        clock.tick()
    assert got == [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4]
    clock.step_s = 0.02  # the steps slow down past the interval: a broadcast every step
    got = []
    for _ in range(6):
        got.append(control.current().seq)
        clock.tick()
    assert got == [4, 4, 4, 4, 5, 6]  # the hold already sent (5) runs out first


def test_the_hold_is_sent_with_the_control_in_async_mode_too(single_rank_group):
    source = CountingSource()
    clock = StepClock(0.001)
    control = DistributedControl(
        source, mode="async", interval_s=0.003, max_every=2, clock=clock
    )  # fmt: skip
    got = []
    for _ in range(9):
        got.append(control.current().seq)
        clock.tick()
    control.close()
    # Reads 0 and 1 have no step time yet (hold 1); read 2 measures one step → hold 3,
    # capped at max_every=2; each call applies the read before it.
    assert got == [0, 1, 2, 2, 3, 3, 4, 4, 5]


def test_missing_or_failing_source_broadcasts_the_safe_state(single_rank_group):
    class Broken:
        def current(self) -> Control:
            raise TimeoutError("daemon gone")

        def report(self, status):
            raise AssertionError("never called")

    assert DistributedControl(None, mode="sync").current().safe
    broken = DistributedControl(Broken(), mode="async")
    assert broken.current().rule == "safe:client-error"
    assert broken.current().safe
    broken.close()


def test_biofeedback_uses_the_broadcast_under_a_process_group(single_rank_group):
    source = CountingSource()
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with Biofeedback(model, source, distributed=True, distributed_every=1, status_every=2) as bf:
        assert isinstance(bf.source, DistributedControl)
        for _ in range(4):
            model(torch.randn(2, 4))
            bf.step()
    assert bf.control.seq == 4
    assert [r.step for r in source.reports] == [2, 4, 4]


def test_bad_arguments_are_config_errors(single_rank_group):
    with pytest.raises(ConfigError, match="'mode'"):
        DistributedControl(None, mode="eventually")
    with pytest.raises(ConfigError, match="'src'.*3"):
        DistributedControl(None, src=3)
    with pytest.raises(ConfigError, match="'every'.*0"):
        DistributedControl(None, every=0)


def test_without_a_process_group_distributed_control_says_how_to_fix_it():
    with pytest.raises(ConfigError, match="init_process_group"):
        DistributedControl(None)


def run_example(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("mode", "cadence"),
    [
        ("async", ["--every", "1"]),
        ("sync", ["--every", "1"]),
        ("async", ["--every", "4"]),
        # By time: the source picks the hold from its step time and sends it along.
        ("async", ["--interval", "0.004"]),
        ("sync", ["--interval", "0.004"]),
    ],
)
def test_torchrun_example_ranks_agree_at_every_step(mode, cadence):
    result = run_example("--steps", "60", "--scripted-control", "--mode", mode, *cadence)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("ranks agreed"))
    assert line.startswith("ranks agreed on 60 steps (world size 2")
    changes = int(line.split("control changed ")[1].split(" ")[0])
    assert changes > 0, line  # the agreement covered real control changes


def test_torchrun_example_end_to_end_with_the_control_client(broker):
    """Control published on a real broker reaches rank 0's ControlClient and both ranks;
    model.status comes back on the bus."""
    from runtime.bus import BusPublisher, BusSubscriber

    stop = threading.Event()
    statuses = []

    def daemon_side() -> None:
        publisher = BusPublisher(broker.publish_endpoint, "test-controller")
        subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
        seq = 0
        try:
            while not stop.is_set():
                now = time.time()
                body = Control(
                    intensity=1.0 + (seq % 3) * 0.25,
                    gentle=seq % 2 == 1,
                    rule=f"test:{seq}",
                    ttl_s=5.0,
                    issued_at=now,
                    expires_at=now + 5.0,
                    safe=False,
                    seq=seq,
                    source_time=now,
                )
                publisher.publish("control", body)
                seq += 1
                message = subscriber.recv(timeout_s=0.02)
                while message is not None:
                    statuses.append(message.data)
                    message = subscriber.recv_nowait()
        finally:
            publisher.close()
            subscriber.close()

    thread = threading.Thread(target=daemon_side, daemon=True)
    thread.start()
    try:
        result = run_example(
            "--steps", "300",
            "--endpoint", broker.subscribe_endpoint,
            "--publish-endpoint", broker.publish_endpoint,
            "--wait-for-control", "10",
            "--status-every", "20",
        )  # fmt: skip
        time.sleep(0.3)  # let the last model.status arrive
    finally:
        stop.set()
        thread.join(5)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("ranks agreed"))
    assert "last seq -1" not in line, line  # live control from the bus was applied
    assert statuses, "no model.status came back on the bus"
    assert all(isinstance(s, ModelStatus) for s in statuses)
    assert all(s.rank == 0 and s.world_size == 2 for s in statuses)
    live = [s for s in statuses if not s.control.safe]
    assert live and all(math.isfinite(s.applied_at) for s in live)
    assert all(s.applied_at >= s.control.issued_at - 1.0 for s in live)
