"""The single-process benchmark of ``bench.bench_training``, and the paired A/B it rests on.

Client and actuator overhead on one MLP 512→512→512→10 with Adam on batch 64: the variants
(``plain``, ``client``, ``repair``, ``sampled``, ``sampled4``, ``floor``) run in interleaved
blocks of 10 steps on one model and optimiser; see ``bench/bench_training.py`` for what each
variant is and how the figures are read. The A/B harness here (``make_mlp``, ``_Job``,
``_interleave``, ``_pct``) is also the one ``bench/_training_distributed.py`` runs.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

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
                ),
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
    if not client.is_live():
        # Without live control the A/B would time a client that only expires to safe: a
        # figure that does not measure what its name says (a broken stand-in publisher
        # once went unnoticed this way). Refuse to report it.
        client.close()
        stop.set()
        publisher.join(2)
        broker.stop()
        raise RuntimeError(
            "bench_training: the client received no live control within 5 s; the stand-in "
            "controller thread failed (see its traceback above), so no overhead is measured"
        )
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
