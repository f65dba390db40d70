"""The single-process benchmark of ``bench.bench_training``.

Client and actuator overhead on one MLP 512→512→512→10 with Adam on batch 64 (the step the
docs state the 1 % target for: ≈ 3.5 ms of CPU on one thread here). The variants
(``plain``, ``client``, ``repair``, ``sampled``, ``sampled4``, ``floor``) run in interleaved
blocks on one model and optimiser; see ``bench/bench_training.py`` for what each variant is
and how the figures are read. Two A/Bs:

* the headline, process CPU time of this process (all threads, the client's receive thread
  included) with a fresh client for each client block: ``bench/_training_cpu.py``;
* wall clock with two torch threads, blocks of 10 steps, one client alive throughout;

beside them the time spent inside our code, timed in the loop, and ``Biofeedback.step()``
alone. The control comes from a broker and a stand-in controller in another process
(``bench/_control_source.py``) at the controller's cadence. The A/B harness is in
``bench/_training_ab.py`` (re-exported here for ``bench/_training_distributed.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench._training_ab import (
    _interleave,
    _Job,
    _pct,
    attach_floor,
    make_mlp,
    remove_floor,
)
from bench._training_cpu import (
    CPU_ROUNDS_FULL,
    CPU_ROUNDS_QUICK,
    TARGET_PCT,
    cpu_ab_keys,
    measure_cpu_ab,
    wait_for_live,
    warm_repairs,
)

__all__ = ["DENSER_CHECK_EVERY", "SAMPLED_CHECK_EVERY", "TARGET_PCT", "bench_single", "make_mlp"]
__all__ += ["_Job", "_interleave", "_pct"]  # the harness, for _training_distributed

#: ``check_every`` of the sampled GoldenRepair variant (and of its denser neighbour).
SAMPLED_CHECK_EVERY = 8
DENSER_CHECK_EVERY = 4


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
    from bench._control_source import ControlSource
    from runtime.client import ControlClient
    from runtime.training import GoldenRepair, RepairLog

    rounds, block = (40, 10) if quick else (200, 10)
    cpu_rounds = CPU_ROUNDS_QUICK if quick else CPU_ROUNDS_FULL
    generator = torch.Generator().manual_seed(1)
    batches = [
        (
            torch.randn(64, 512, generator=generator),
            torch.randint(0, 10, (64,), generator=generator),
        )
        for _ in range(64)
    ]
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
    repairs: dict[str, GoldenRepair] = {}
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
    exact, sampled = repairs["repair"], repairs["sampled"]
    with ControlSource() as source:
        torch.set_num_threads(1)
        try:
            warm_repairs(model, opt, list(repairs.values()), batches)
            cpu_times, per_block = measure_cpu_ab(
                model, opt, layers, repairs, source, batches, cpu_rounds
            )
        finally:
            torch.set_num_threads(2)
        client = ControlClient(source.subscribe_endpoint, publish_endpoint=source.publish_endpoint)
        try:
            wait_for_live(client, 5.0)
            direct_steps = 500 if quick else 3000
            wall = _wall_ab(
                model, opt, layers, repairs, client, batches, rounds, block, direct_steps
            )
        finally:
            for repair in repairs.values():
                repair.remove()
            remove_floor(model, layers)
            client.close()
    cpu = cpu_ab_keys(cpu_times)
    medians, inside_exact, inside_sampled, client_call_s, live, changes = wall
    blocks = sum(c.blocks for c in per_block.values())
    live_blocks = sum(c.live_blocks for c in per_block.values())
    return {
        **cpu,
        "step_ms": medians["plain"] * 1e3,
        "client_step_ms": medians["client"] * 1e3,
        "repair_step_ms": medians["repair"] * 1e3,
        "wall_client_only_overhead_pct": _pct(medians, "client"),
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
        "control_live": live,
        "last_control_seq": changes,
        "cpu_ab_blocks_live": f"{live_blocks}/{blocks}",
        "cpu_ab_last_control_seq": max(c.last_seq for c in per_block.values()),
        "repair_events_exact": len(exact.log),
        "repair_events_sampled": len(sampled.log),
    }


def _wall_ab(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    layers: list[str],
    repairs: dict[str, Any],
    client: Any,
    batches: list,
    rounds: int,
    block: int,
    direct_steps: int,
) -> tuple[dict[str, float], float, float, float, bool, int]:
    """The wall-clock A/B (two torch threads, one client alive throughout), the time inside
    our code timed in the loop, and ``Biofeedback.step()`` alone."""
    from runtime.training import Biofeedback

    bf_client = Biofeedback(model, client, repair=False, status_every=10)
    jobs = {
        "plain": _Job(model, opt=opt),
        "client": _Job(model, bf_client.step, opt=opt),
        "floor": _Job(
            model,
            bf_client.step,
            opt=opt,
            enter=lambda: attach_floor(model, layers),
            leave=lambda: remove_floor(model, layers),
        ),
    }
    feedback = [bf_client]
    for name, repair in repairs.items():
        feedback.append(Biofeedback(model, client, repair=repair, status_every=10))
        jobs[name] = _Job(
            model, feedback[-1].step, opt=opt, enter=repair.attach, leave=repair.remove
        )
    with contextlib.ExitStack() as stack:
        for bf in feedback:
            stack.enter_context(bf)
        _interleave(jobs, 3, block, batches)  # warm-up
        medians = _interleave(jobs, rounds, block, batches)
        inside_exact = _time_inside(jobs["repair"], repairs["repair"], direct_steps, batches)
        inside_sampled = _time_inside(jobs["sampled"], repairs["sampled"], direct_steps, batches)
        # Direct cost of the plumbing: bf.step() alone (read, apply, a report every 10).
        calls = 20_000
        start = time.perf_counter()
        for _ in range(calls):
            bf_client.step()
        client_call_s = (time.perf_counter() - start) / calls
        live = client.is_live()
        changes = feedback[1].control.seq
    return medians, inside_exact, inside_sampled, client_call_s, live, changes
