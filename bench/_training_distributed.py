"""The distributed benchmark of ``bench.bench_training``: agreement overhead on two gloo ranks.

Two ranks (``torch.multiprocessing``, one thread each) train the MLP of
``bench/_training_single.py`` under DistributedDataParallel, with and without
``DistributedControl.current()`` (``sync`` and ``async`` every step, ``async`` every 4
steps, and the default), interleaved on the same A/B harness; see ``bench/bench_training.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench._common import free_tcp_port
from bench._training_single import _interleave, _Job, _pct, make_mlp


class _BlockClock:
    """A monotonic clock that runs only between ``start()`` and ``stop()``."""

    def __init__(self) -> None:
        self.total = 0.0
        self.started: float | None = None

    def start(self) -> None:
        self.started = time.monotonic()

    def stop(self) -> None:
        if self.started is not None:
            self.total += time.monotonic() - self.started
            self.started = None

    def __call__(self) -> float:
        running = 0.0 if self.started is None else time.monotonic() - self.started
        return self.total + running


def _rank_main(rank: int, world: int, port: int, quick: bool, out_path: str) -> None:
    from runtime.training import gloo_process_group

    torch.set_num_threads(1)
    with gloo_process_group(rank, world, init_method=f"tcp://127.0.0.1:{port}"):
        medians = _measure_distributed(rank, quick)
        if rank == 0:
            Path(out_path).write_text(json.dumps(medians))


def _measure_distributed(rank: int, quick: bool) -> dict[str, float]:
    """One rank's interleaved A/B medians, inside the two ranks' process group."""
    from torch.nn.parallel import DistributedDataParallel

    from runtime.training import DistributedControl

    rounds, block = (30, 10) if quick else (120, 10)
    generator = torch.Generator().manual_seed(10 + rank)
    batches = [
        (
            torch.randn(64, 512, generator=generator),
            torch.randint(0, 10, (64,), generator=generator),
        )
        for _ in range(32)
    ]

    class _Source:
        def current(self):
            from runtime.client import safe_control

            return safe_control("bench")

        def report(self, status):
            return None

    source = _Source() if rank == 0 else None
    sync = DistributedControl(source, mode="sync", every=1)
    asyn = DistributedControl(source, mode="async", every=1)
    asyn4 = DistributedControl(source, mode="async", every=4)
    # The default (async, a broadcast about every 100 ms), with a clock that runs only during
    # its own blocks: the step time it measures is then that of a run of its own, not one
    # stretched by the other variants' blocks in between (which would shorten its holds).
    own_time = _BlockClock()
    auto = DistributedControl(source, clock=own_time)
    ddp = DistributedDataParallel(make_mlp())  # one model for all variants (see bench_single)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-4)
    inside = {"sync": [0.0, 0], "async": [0.0, 0], "async4": [0.0, 0], "auto": [0.0, 0]}

    def timed(name: str, call: Callable[[], Any]) -> Callable[[], Any]:
        # Time spent inside current() on the training thread (blocking cost only).
        def run() -> Any:
            start = time.perf_counter()
            result = call()
            inside[name][0] += time.perf_counter() - start
            inside[name][1] += 1
            return result

        return run

    jobs = {
        "plain": _Job(ddp, opt=opt),
        "sync": _Job(ddp, timed("sync", sync.current), opt=opt),
        "async": _Job(ddp, timed("async", asyn.current), opt=opt),
        "async4": _Job(ddp, timed("async4", asyn4.current), opt=opt),
        "auto": _Job(
            ddp, timed("auto", auto.current), opt=opt, enter=own_time.start, leave=own_time.stop
        ),
    }
    _interleave(jobs, 2, block, batches)
    medians = _interleave(jobs, rounds, block, batches)
    # CPU time of the whole process (training thread and gloo's threads): robust to other
    # processes taking the cores, blind to time spent waiting for the other rank.
    cpu = _interleave(jobs, rounds, block, batches, clock=time.process_time)
    medians.update({f"cpu_{k}": v for k, v in cpu.items()})
    medians.update({f"inside_{k}": total / max(n, 1) for k, (total, n) in inside.items()})
    asyn.close()
    auto.close()
    asyn4.close()
    return medians


def bench_distributed(quick: bool) -> dict[str, Any]:
    """Agreement overhead with two gloo ranks (see the module docstring)."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        mp.spawn(_rank_main, args=(2, free_tcp_port(), quick, out), nprocs=2, join=True)
        medians = json.loads(Path(out).read_text())
    return {
        "ddp_step_ms": medians["plain"] * 1e3,
        "sync_overhead_pct": _pct(medians, "sync"),
        "async_overhead_pct": _pct(medians, "async"),
        "async4_overhead_pct": _pct(medians, "async4"),
        "auto_overhead_pct": _pct(medians, "auto"),
        "inside_sync_pct": medians["inside_sync"] / medians["plain"] * 100,
        "inside_async_pct": medians["inside_async"] / medians["plain"] * 100,
        "inside_async4_pct": medians["inside_async4"] / medians["plain"] * 100,
        "inside_auto_pct": medians["inside_auto"] / medians["plain"] * 100,
        "cpu_sync_overhead_pct": (medians["cpu_sync_ratio"] - 1) * 100,
        "cpu_async_overhead_pct": (medians["cpu_async_ratio"] - 1) * 100,
        "cpu_async4_overhead_pct": (medians["cpu_async4_ratio"] - 1) * 100,
        "cpu_auto_overhead_pct": (medians["cpu_auto_ratio"] - 1) * 100,
    }
