"""The headline A/B of ``bench.bench_training``: process CPU time, client thread included.

``time.process_time()`` counts every thread of the training process: the training thread,
the client's receive thread and ZeroMQ's I/O thread (the broker and the stand-in controller
run in another process, ``bench/_control_source.py``). One torch thread, so the figure is
not OpenMP's spinning. Each client variant gets a fresh ``ControlClient`` and
``Biofeedback`` for each of its blocks (:class:`ClientPerBlock`: made before the block's
clock starts, closed after it stops), so the ``plain`` blocks run with no client thread at
all: A is the job without the client, B the same job with it. Blocks of
``CPU_BLOCK_STEPS`` steps; every variant once per round in a fresh order, each variant
block between two plain blocks (:func:`run_sandwiched`). Each round gives one pair per
variant (its block against the mean of its two plain neighbours), read by
``bench/_paired.py``: median over pairs, interquartile range, and "noise-bound" when the
range is wider than the 1 % target. The floor is the plain step, not a check of ours.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench._paired import pair_overheads_pct, summarise_pairs
from bench._training_ab import _Job, attach_floor, remove_floor

#: The target of every single-process overhead, % of a plain step.
TARGET_PCT = 1.0
#: Steps per block of the process-CPU A/B (≈ 0.35 s of a 3.5 ms step: the client thread
#: wakes 7 times and receives control once or twice), and untimed steps before each.
CPU_BLOCK_STEPS = 100
CPU_BLOCK_WARM_STEPS = 10
#: Rounds (pairs per variant) of the process-CPU A/B.
CPU_ROUNDS_QUICK, CPU_ROUNDS_FULL = 6, 30
#: Training forwards before measuring: GoldenRepair's statistics interval ramps with the
#: forwards it has checked (``max(1, n // 16)``) and reaches its steady 128 at 2048.
REPAIR_WARMUP_STEPS = 2100


class ClientPerBlock:
    """A variant's client side, made anew for each of its blocks: a ``ControlClient`` (its
    receive thread and ZeroMQ context), a ``Biofeedback`` on it, and the variant's checks
    (``attach``/``detach``). Between its blocks none of it exists, so the other variants'
    blocks (and the plain one) have no client thread. Counts the blocks whose control was
    live, and keeps the last control seq applied."""

    def __init__(
        self,
        job: _Job,
        source: Any,
        repair: Any = None,
        attach: Callable[[], Any] | None = None,
        detach: Callable[[], Any] | None = None,
    ) -> None:
        self.job, self.source, self.repair = job, source, repair
        self.attach, self.detach = attach, detach
        self.blocks = self.live_blocks = 0
        self.last_seq = -1
        self._client: Any = None
        self._feedback: Any = None
        job.enter, job.leave = self.enter, self.leave

    def enter(self) -> None:
        from runtime.client import ControlClient
        from runtime.training import Biofeedback

        self._client = ControlClient(
            self.source.subscribe_endpoint, publish_endpoint=self.source.publish_endpoint
        )
        wait_for_live(self._client, 5.0)
        self._feedback = Biofeedback(
            self.job.model, self._client, repair=self.repair or False, status_every=10
        )
        self._feedback.start()
        if self.attach is not None:
            self.attach()
        self.job.after_step = self._feedback.step

    def leave(self) -> None:
        self.job.after_step = None
        if self.detach is not None:
            self.detach()
        self.blocks += 1
        self.live_blocks += bool(self._client.is_live())
        self.last_seq = max(self.last_seq, self._feedback.control.seq)
        self._feedback.close()
        self._client.close()
        self._client = self._feedback = None


def wait_for_live(client: Any, timeout_s: float) -> None:
    """Wait until ``client`` holds live control; a RuntimeError if it does not in time.

    Without live control an A/B would time a client that only expires to safe: a figure
    that does not measure what its name says (a broken stand-in publisher once went
    unnoticed this way), so none is reported."""
    deadline = time.monotonic() + timeout_s
    while not client.is_live() and time.monotonic() < deadline:
        time.sleep(0.005)
    if not client.is_live():
        raise RuntimeError(
            f"bench_training: the client received no live control within {timeout_s:.0f} s; "
            "the control source process failed (see its traceback above), so no overhead "
            "is measured"
        )


def warm_repairs(
    model: nn.Module, opt: torch.optim.Optimizer, repairs: list[Any], batches: list
) -> None:
    """Bring every GoldenRepair to its steady state (statistics interval 128): attached
    together (each wraps the previous one's wrapper), all checking every forward for
    ``REPAIR_WARMUP_STEPS`` training steps, then removed in reverse order."""
    job = _Job(model, opt=opt)
    every = [repair.check_every for repair in repairs]
    for repair in repairs:
        repair.check_every = 1  # sampled ones too: the ramp counts checked forwards
        repair.attach()
    try:
        for i in range(REPAIR_WARMUP_STEPS):
            job.step(*batches[i % len(batches)])
    finally:
        for repair, k in zip(reversed(repairs), reversed(every), strict=True):
            repair.remove()
            repair.check_every = k


def measure_cpu_ab(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    layers: list[str],
    repairs: dict[str, Any],
    source: Any,
    batches: list,
    rounds: int,
) -> tuple[dict[str, Any], dict[str, ClientPerBlock]]:
    """The process-CPU A/B (one torch thread) of the plain step against each variant:
    :func:`run_sandwiched`'s block times, and each client variant's per-block client (its
    live counts)."""
    clients: dict[str, ClientPerBlock] = {
        "client": ClientPerBlock(_Job(model, opt=opt), source),
        "floor": ClientPerBlock(
            _Job(model, opt=opt),
            source,
            attach=lambda: attach_floor(model, layers),
            detach=lambda: remove_floor(model, layers),
        ),
    }
    for name, repair in repairs.items():
        clients[name] = ClientPerBlock(
            _Job(model, opt=opt), source, repair=repair, attach=repair.attach, detach=repair.remove
        )
    variants = {name: client.job for name, client in clients.items()}
    # A/A: the plain step against itself, in the same sandwich: the spread a null
    # difference shows in this run (the noise floor of every pair above).
    variants["plain_again"] = _Job(model, opt=opt)
    times = run_sandwiched(
        _Job(model, opt=opt),
        variants,
        rounds,
        CPU_BLOCK_STEPS,
        batches,
        clock=time.process_time,
        warm=CPU_BLOCK_WARM_STEPS,
    )
    return times, clients


def run_sandwiched(
    plain: _Job,
    variants: dict[str, _Job],
    rounds: int,
    block: int,
    batches: list,
    clock: Callable[[], float],
    warm: int = 0,
) -> dict[str, Any]:
    """Every variant once per round, in a fresh order, each between two ``plain`` blocks
    (P V₁ P V₂ P … : one plain block between every two variant blocks). A variant's
    reference is the mean of the plain blocks just before and just after it, so load that
    changes linearly over the three blocks cancels. Each block runs ``warm`` untimed steps
    after the job's ``enter`` and before its clock starts.

    Returns ``{"plain": [seconds per step of every plain block], "variants": {name:
    [seconds per step of each of its blocks]}, "references": {name: [its references]}}``.
    """
    offset = [0]

    def run(job: _Job) -> float:
        if job.enter is not None:
            job.enter()
        for _ in range(warm):
            job.step(*batches[offset[0] % len(batches)])
            offset[0] += 1
        start = clock()
        for _ in range(block):
            job.step(*batches[offset[0] % len(batches)])
            offset[0] += 1
        seconds = (clock() - start) / block
        if job.leave is not None:
            job.leave()
        return seconds

    rng = random.Random(rounds)
    names = list(variants)
    plain_s = [run(plain)]
    times: dict[str, list[float]] = {name: [] for name in names}
    references: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in rng.sample(names, len(names)):
            times[name].append(run(variants[name]))
            plain_s.append(run(plain))
            references[name].append((plain_s[-2] + plain_s[-1]) / 2)
    return {"plain": plain_s, "variants": times, "references": references}


def cpu_ab_keys(times: dict[str, Any]) -> dict[str, Any]:
    """The process-CPU A/B's keys: every variant's pairs (its block against its plain
    neighbours) read by ``summarise_pairs``."""
    pairs = {
        name: pair_overheads_pct(times["references"][name], values)
        for name, values in times["variants"].items()
    }
    summaries = {name: summarise_pairs(values, TARGET_PCT) for name, values in pairs.items()}
    plain_ms = statistics.median(times["plain"]) * 1e3
    actuator = [r - c for r, c in zip(pairs["repair"], pairs["client"], strict=True)]
    headline = summaries["repair"]
    sampled = summaries["sampled"]
    return {
        # The keys: client + GoldenRepair checking every forward, process CPU.
        "client_overhead_pct": headline["median_pct"],
        "client_overhead_pct_spread": headline["spread_pct"],
        "client_overhead_pct_q25": headline["q25_pct"],
        "client_overhead_pct_q75": headline["q75_pct"],
        "client_overhead_pct_pairs": pairs["repair"],
        "client_overhead_noise_bound": headline["noise_bound"],
        "client_overhead_verdict": headline["verdict"],
        "client_overhead_floor": "plain training step",
        "client_overhead_floor_step_ms": plain_ms,
        # The same A/B with nothing added (plain against plain): what noise alone reads.
        "client_overhead_aa_pct": summaries["plain_again"]["median_pct"],
        "client_overhead_aa_spread": summaries["plain_again"]["spread_pct"],
        "client_overhead_sampled_pct_spread": sampled["spread_pct"],
        "client_overhead_sampled_noise_bound": sampled["noise_bound"],
        "client_overhead_sampled_verdict": sampled["verdict"],
        # The CPU A/B's keys as before (now process CPU, medians over pairs).
        "cpu_step_ms": plain_ms,
        "cpu_client_overhead_pct": summaries["client"]["median_pct"],
        "cpu_actuator_overhead_pct": statistics.median(actuator),
        "cpu_client_plus_actuator_overhead_pct": headline["median_pct"],
        "cpu_range_check_floor_pct": summaries["floor"]["median_pct"],
        "cpu_sampled_client_plus_actuator_overhead_pct": sampled["median_pct"],
        "cpu_denser_client_plus_actuator_overhead_pct": summaries["sampled4"]["median_pct"],
        "cpu_ab": {
            "clock": "time.process_time() of the training process (all threads)",
            "torch_threads": 1,
            "block_steps": CPU_BLOCK_STEPS,
            "rounds": len(times["variants"]["repair"]),
            "order": "P V P V ...: each variant block between two plain blocks, fresh order",
            "spread": "interquartile range (75th - 25th percentile of the pairs), points",
            "plain_step_ms_per_block": [t * 1e3 for t in times["plain"]],
            "variants": {name: {**s, "pairs_pct": pairs[name]} for name, s in summaries.items()},
        },
    }
