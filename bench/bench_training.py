"""Overhead of the model side on a small CPU training step, and of distributed agreement.

Run: ``python -m bench.bench_training`` (``--quick`` for a short run). Target: each ≤ 1 %.

1. One process, an MLP 512→512→512→10 with Adam on batch 64 (about 3 ms a step here), in
   interleaved blocks of 10 steps on one model and optimiser (each variant's checks are
   attached for its own blocks only):

   * ``plain``: the step alone;
   * ``client``: plus ``Biofeedback(repair=False)`` fed by a real ``ControlClient``
     subscribed to a real broker that publishes control at 20 Hz (``current()`` once per
     step, apply at the boundary, ``model.status`` every 10 steps);
   * ``repair``: plus ``GoldenRepair`` on the two hidden Linear layers (the actuator),
     checking every forward (the default), and the same client plumbing;
   * ``sampled``: the same with ``GoldenRepair(check_every=8)``, and ``sampled4`` with
     ``check_every=4``;
   * ``floor``: the client plumbing plus a bare check on the same two layers (attached the
     way GoldenRepair attaches, as a wrapper of the module's ``forward``) that reads
     ``aminmax`` of the activations: the cheapest exact check any actuator that looks at
     every activation of every forward can do, beside which the ``repair`` figure is read.

   Overheads are medians over rounds of (variant block time / plain block time of the
   same round) − 1: paired, so load from other processes that comes and goes cancels.
   Two A/Bs: wall clock with two torch threads (a ≈ 2–2.5 ms step), and the training
   thread's CPU time with one torch thread (a ≈ 3.5 ms step, the step the target is
   stated for, and blind to other processes taking the cores: the headline). On this
   shared 2-core machine the wall-clock A/B moves by ±1–2 % between runs, so the time
   spent inside our code is also timed where it runs, and the client's cost alone in a
   loop (``Biofeedback.step()``, reports included).
2. Two gloo ranks (``torch.multiprocessing``, one thread each) training the same MLP under
   DistributedDataParallel: the step alone vs the step plus ``DistributedControl.current()``
   in ``sync`` and ``async`` mode every step, ``async`` every 4 steps, and the default (async,
   about every 100 ms), interleaved; as wall-clock
   and process-CPU A/B, and as the time the training thread spends inside ``current()``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

TARGET_PCT = 1.0
#: ``check_every`` of the sampled GoldenRepair variant (and of its denser neighbour).
SAMPLED_CHECK_EVERY = 8
DENSER_CHECK_EVERY = 4


def make_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


class _Job:
    """One training variant: what runs after each step, and set-up/tear-down per block."""

    def __init__(
        self,
        model: nn.Module,
        after_step: Callable[[], Any] | None = None,
        opt: torch.optim.Optimizer | None = None,
        enter: Callable[[], Any] | None = None,
        leave: Callable[[], Any] | None = None,
    ) -> None:
        self.model = model
        self.opt = opt if opt is not None else torch.optim.Adam(model.parameters(), lr=1e-4)
        self.after_step = after_step
        self.enter, self.leave = enter, leave
        self.loss_fn = nn.CrossEntropyLoss()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.loss_fn(self.model(x), y).backward()
        self.opt.step()
        if self.after_step is not None:
            self.after_step()


def _interleave(
    jobs: dict[str, _Job],
    rounds: int,
    block: int,
    batches: list[tuple[torch.Tensor, ...]],
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Per job: median seconds per step, and ``<name>_ratio``: the median over rounds of its
    block time divided by the ``plain`` block of the same round (paired, so load that comes
    and goes during the run cancels)."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    names = list(jobs)
    rng = random.Random(rounds)
    previous = None
    for r in range(rounds):
        # A fresh order each round, never one variant twice in a row: a block that follows
        # a block of the same variant runs with its code paths warm, and a fixed order
        # (or one alternated, which ran plain twice in a row at every round boundary) made
        # that a bias of about +0.5 % against every variant.
        order = rng.sample(names, len(names))
        if order[0] == previous:
            order.append(order.pop(0))
        previous = order[-1]
        for name in order:
            job = jobs[name]
            if job.enter is not None:
                job.enter()
            start = clock()
            for i in range(block):
                x, y = batches[(r * block + i) % len(batches)]
                job.step(x, y)
            times[name].append((clock() - start) / block)
            if job.leave is not None:
                job.leave()
    out = {name: statistics.median(values) for name, values in times.items()}
    for name in names:
        ratios = [t / p for t, p in zip(times[name], times["plain"], strict=True)]
        out[f"{name}_ratio"] = statistics.median(ratios)
    return out


def _pct(medians: dict[str, float], name: str) -> float:
    return (medians[f"{name}_ratio"] - 1.0) * 100


def _control_publisher(endpoint: str, stop: threading.Event) -> None:
    """A stand-in controller: publishes control at 20 Hz through the real broker."""
    from runtime.bus import BusPublisher
    from runtime.client import Control

    publisher = BusPublisher(endpoint, "bench-controller")
    seq = 0
    try:
        while not stop.wait(0.05):
            now = time.time()
            publisher.publish(
                "control",
                Control(
                    intensity=1.0 + 0.25 * (seq // 20 % 3),
                    gentle=seq // 40 % 2 == 1,
                    rule="bench",
                    ttl_s=2.0,
                    issued_at=now,
                    expires_at=now + 2.0,
                    safe=False,
                    seq=seq,
                    source_time=now,
                ).to_dict(),
            )
            seq += 1
    finally:
        publisher.close()


def _range_checked(forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``forward`` followed by the cheapest exact check: one ``aminmax`` of the activations
    read on the host. Set as the module's ``forward``, the way GoldenRepair attaches."""

    def checked(*args: Any) -> torch.Tensor:
        output = forward(*args)
        low, high = torch.aminmax(output.detach())
        low.item(), high.item()
        return output

    return checked


def _time_inside(
    job: _Job,
    repair: Any,
    steps: int,
    batches: list[tuple[torch.Tensor, ...]],
) -> float:
    """Seconds per step the training thread spends inside ``repair``'s checks and the job's
    ``after_step`` (``Biofeedback.step``), timed where they run, in the training loop.

    Not an A/B: it sees our code's own time with the caches as the step leaves them (about
    five times its cost in a tight loop), not what its presence does to torch's own time.
    """
    inside = [0.0]

    def timed(call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args)
            finally:
                inside[0] += time.perf_counter() - start

        return run

    repair.attach()
    for site in repair._sites:  # the bench may peek
        site.wrapper.check = timed(site.wrapper.check)
    after, job.after_step = job.after_step, timed(job.after_step)
    try:
        for i in range(steps):
            x, y = batches[i % len(batches)]
            job.step(x, y)
    finally:
        job.after_step = after
        repair.remove()
    return inside[0] / steps


def bench_single(quick: bool) -> dict[str, Any]:
    """Client and actuator overhead on one process (see the module docstring)."""
    from runtime.bus import Broker
    from runtime.client import ControlClient
    from runtime.training import Biofeedback, GoldenRepair, RepairLog

    torch.set_num_threads(2)
    rounds, block = (40, 10) if quick else (200, 10)
    cpu_rounds = 300 if quick else 600  # the headline A/B: more rounds
    generator = torch.Generator().manual_seed(1)
    batches = [
        (
            torch.randn(64, 512, generator=generator),
            torch.randint(0, 10, (64,), generator=generator),
        )
        for _ in range(64)
    ]
    broker = Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", status_interval_s=1.0)
    broker.start()
    stop = threading.Event()
    publisher = threading.Thread(
        target=_control_publisher, args=(broker.publish_endpoint, stop), daemon=True
    )
    publisher.start()
    client = ControlClient(broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint)
    deadline = time.monotonic() + 5
    while not client.is_live() and time.monotonic() < deadline:
        time.sleep(0.01)
    # One model and one optimiser for every variant: separate copies differ in memory
    # placement, which moves a 3 ms step by a few percent on its own. The variants differ
    # only in what runs: each variant's checks are attached for its own blocks alone.
    # Adam runs with a learning rate of 0: every step does all of its work, but the weights
    # stay put. Otherwise each GoldenRepair would see the model only during its own blocks
    # (one in six) while the others trained it, its statistics would lag the activations
    # by far more than in a run of its own, and the lag would read as fractures (each one
    # escalates sampled checking to every forward for 200 forwards).
    model = make_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=0.0)
    layers = ["0", "2"]

    def attach_floor() -> None:
        for name in layers:
            module = model.get_submodule(name)
            module.forward = _range_checked(module.forward)

    def remove_floor() -> None:
        for name in layers:
            model.get_submodule(name).__dict__.pop("forward", None)

    bf_client = Biofeedback(model, client, repair=False, status_every=10)
    jobs = {
        "plain": _Job(model, opt=opt),
        "client": _Job(model, bf_client.step, opt=opt),
        "floor": _Job(model, bf_client.step, opt=opt, enter=attach_floor, leave=remove_floor),
    }
    repairs: dict[str, GoldenRepair] = {}
    feedback = [bf_client]
    for name, every in (
        ("repair", 1),
        ("sampled", SAMPLED_CHECK_EVERY),
        ("sampled4", DENSER_CHECK_EVERY),
    ):
        # The log counts the forwards that found a fracture: each costs a repair, and under
        # sampling starts escalation_forwards of checking every forward.
        repair = repairs[name] = GoldenRepair(
            model, layers, check_every=every, log=RepairLog(maxlen=100_000)
        )
        repair.remove()
        feedback.append(Biofeedback(model, client, repair=repair, status_every=10))
        jobs[name] = _Job(
            model, feedback[-1].step, opt=opt, enter=repair.attach, leave=repair.remove
        )
    exact, sampled = repairs["repair"], repairs["sampled"]
    try:
        with contextlib.ExitStack() as stack:
            for bf in feedback:
                stack.enter_context(bf)
            _interleave(jobs, 3, block, batches)  # warm-up (and GoldenRepair's warm-up)
            medians = _interleave(jobs, rounds, block, batches)
            # CPU time of this thread with one torch thread: robust to other processes
            # taking the cores (the client's own thread is not counted here; it sleeps in
            # a 50 ms poll and shows in the wall-clock numbers above).
            torch.set_num_threads(1)
            cpu = _interleave(jobs, cpu_rounds, block, batches, clock=time.thread_time)
            torch.set_num_threads(2)
            direct_steps = 500 if quick else 3000
            inside_exact = _time_inside(jobs["repair"], exact, direct_steps, batches)
            inside_sampled = _time_inside(jobs["sampled"], sampled, direct_steps, batches)
            # Direct cost of the plumbing: bf.step() alone (read, apply, a report every 10).
            calls = 20_000
            start = time.perf_counter()
            for _ in range(calls):
                bf_client.step()
            client_call_s = (time.perf_counter() - start) / calls
            live = client.is_live()
            changes = feedback[1].control.seq
    finally:
        for repair in repairs.values():
            repair.remove()
        remove_floor()
        client.close()
        stop.set()
        publisher.join(2)
        broker.stop()
    return {
        "step_ms": medians["plain"] * 1e3,
        "client_step_ms": medians["client"] * 1e3,
        "repair_step_ms": medians["repair"] * 1e3,
        "client_overhead_pct": _pct(medians, "client"),
        "actuator_overhead_pct": _pct(medians, "repair") - _pct(medians, "client"),
        "client_plus_actuator_overhead_pct": _pct(medians, "repair"),
        "range_check_floor_pct": _pct(medians, "floor"),
        "sampled_check_every": SAMPLED_CHECK_EVERY,
        "sampled_actuator_overhead_pct": _pct(medians, "sampled") - _pct(medians, "client"),
        "sampled_client_plus_actuator_overhead_pct": _pct(medians, "sampled"),
        "denser_check_every": DENSER_CHECK_EVERY,
        "denser_client_plus_actuator_overhead_pct": _pct(medians, "sampled4"),
        "inside_exact_us": inside_exact * 1e6,
        "inside_exact_pct": inside_exact / medians["plain"] * 100,
        "inside_sampled_us": inside_sampled * 1e6,
        "inside_sampled_pct": inside_sampled / medians["plain"] * 100,
        "client_call_us": client_call_s * 1e6,
        "client_call_pct": client_call_s / medians["plain"] * 100,
        "cpu_step_ms": cpu["plain"] * 1e3,
        "cpu_client_overhead_pct": _pct(cpu, "client"),
        "cpu_actuator_overhead_pct": _pct(cpu, "repair") - _pct(cpu, "client"),
        "cpu_client_plus_actuator_overhead_pct": _pct(cpu, "repair"),
        "cpu_range_check_floor_pct": _pct(cpu, "floor"),
        "cpu_sampled_client_plus_actuator_overhead_pct": _pct(cpu, "sampled"),
        "cpu_denser_client_plus_actuator_overhead_pct": _pct(cpu, "sampled4"),
        "control_live": live,
        "last_control_seq": changes,
        "repair_events_exact": len(exact.log),
        "repair_events_sampled": len(sampled.log),
    }


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    ddp = DistributedDataParallel(make_mlp())  # one model for all variants (see above)
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
        mp.spawn(_rank_main, args=(2, _free_port(), quick, out), nprocs=2, join=True)
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


def run(quick: bool) -> dict[str, Any]:
    """All measurements; keys ending in ``_pct`` are overheads in percent of a plain step."""
    single = bench_single(quick)
    distributed = bench_distributed(quick)
    return {
        **single,
        "distributed_step_ms": distributed["ddp_step_ms"],
        "distributed_sync_overhead_pct": distributed["sync_overhead_pct"],
        "distributed_async_overhead_pct": distributed["async_overhead_pct"],
        "distributed_async_every4_overhead_pct": distributed["async4_overhead_pct"],
        "distributed_auto_overhead_pct": distributed["auto_overhead_pct"],
        "distributed_cpu_sync_overhead_pct": distributed["cpu_sync_overhead_pct"],
        "distributed_cpu_async_overhead_pct": distributed["cpu_async_overhead_pct"],
        "distributed_cpu_async_every4_overhead_pct": distributed["cpu_async4_overhead_pct"],
        "distributed_cpu_auto_overhead_pct": distributed["cpu_auto_overhead_pct"],
        "distributed_inside_sync_pct": distributed["inside_sync_pct"],
        "distributed_inside_async_pct": distributed["inside_async_pct"],
        "distributed_inside_async_every4_pct": distributed["inside_async4_pct"],
        "distributed_inside_auto_pct": distributed["inside_auto_pct"],
        "distributed_overhead_pct": distributed["auto_overhead_pct"],
        "target_pct": TARGET_PCT,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    result = run(args.quick)
    print(
        f"single process: MLP 2x512, batch 64, Adam; plain step {result['step_ms']:.3f} ms "
        f"(2 threads, wall) | {result['cpu_step_ms']:.3f} ms (1 thread, CPU time)"
    )
    print(f"  {'':<52s} {'wall A/B':>9s} {'CPU A/B':>9s}   (target <= {TARGET_PCT:.0f} %)")
    k = result["sampled_check_every"]
    rows = [
        ("client (Biofeedback + ControlClient)", "client_overhead_pct", "cpu_client_overhead_pct"),
        (
            "client + GoldenRepair on 2 layers, every forward",
            "client_plus_actuator_overhead_pct",
            "cpu_client_plus_actuator_overhead_pct",
        ),
        (
            f"client + GoldenRepair, check_every={k}",
            "sampled_client_plus_actuator_overhead_pct",
            "cpu_sampled_client_plus_actuator_overhead_pct",
        ),
        (
            f"client + GoldenRepair, check_every={result['denser_check_every']}",
            "denser_client_plus_actuator_overhead_pct",
            "cpu_denser_client_plus_actuator_overhead_pct",
        ),
        (
            "floor: client + bare aminmax check on 2 layers",
            "range_check_floor_pct",
            "cpu_range_check_floor_pct",
        ),
    ]
    for label, wall, cpu in rows:
        print(f"  {label:<52s} {result[wall]:+8.2f}% {result[cpu]:+8.2f}%")
    print(
        f"  Biofeedback.step() alone: {result['client_call_us']:.2f} us per step "
        f"= {result['client_call_pct']:.3f} % of the plain step (direct timing)"
    )
    print(
        "  time inside GoldenRepair's checks + Biofeedback.step(), timed in the loop: "
        f"every forward {result['inside_exact_us']:.1f} us/step "
        f"({result['inside_exact_pct']:.2f} %), check_every={k} "
        f"{result['inside_sampled_us']:.1f} us/step ({result['inside_sampled_pct']:.2f} %)"
    )
    print(f"  control live: {result['control_live']}, last seq {result['last_control_seq']}")
    print(
        f"two gloo ranks, DDP step {result['distributed_step_ms']:.3f} ms "
        "(wall A/B | process CPU A/B | time blocked inside current())"
    )
    for label, key in (
        ("sync broadcast every step", "sync"),
        ("async (apply one step later)", "async"),
        ("default: async, about every 100 ms", "auto"),
        ("async, broadcast every 4 steps", "async_every4"),
    ):
        wall = result[f"distributed_{key}_overhead_pct"]
        cpu = result[f"distributed_cpu_{key}_overhead_pct"]
        inside = result[f"distributed_inside_{key}_pct"]
        print(f"  agreement, {label:<32s} {wall:+7.2f} % | {cpu:+7.2f} % | {inside:6.3f} %")


if __name__ == "__main__":
    main()
