"""The paired A/B harness of the training benchmarks: the MLP, a job, interleaved blocks.

``bench/_training_single.py`` (one process) and ``bench/_training_distributed.py`` (two gloo
ranks) run their variants on it: every variant runs the same model and optimiser in blocks
of steps, the variants in a fresh order each round, and a variant's block is read against
the ``plain`` block of the same round, so load that comes and goes during the run cancels.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


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


def _interleave_blocks(
    jobs: dict[str, _Job],
    rounds: int,
    block: int,
    batches: list[tuple[torch.Tensor, ...]],
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Per job, seconds per step of each of its blocks, in round order."""
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
    return times


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
    times = _interleave_blocks(jobs, rounds, block, batches, clock)
    out = {name: statistics.median(values) for name, values in times.items()}
    for name in jobs:
        ratios = [t / p for t, p in zip(times[name], times["plain"], strict=True)]
        out[f"{name}_ratio"] = statistics.median(ratios)
    return out


def _pct(medians: dict[str, float], name: str) -> float:
    return (medians[f"{name}_ratio"] - 1.0) * 100


def _range_checked(forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``forward`` followed by the cheapest exact check: one ``aminmax`` of the activations
    read on the host. Set as the module's ``forward``, the way GoldenRepair attaches."""

    def checked(*args: Any) -> torch.Tensor:
        output = forward(*args)
        low, high = torch.aminmax(output.detach())
        low.item(), high.item()
        return output

    return checked


def attach_floor(model: nn.Module, layers: list[str]) -> None:
    """Set :func:`_range_checked` as the ``forward`` of each of ``layers``."""
    for name in layers:
        module = model.get_submodule(name)
        module.forward = _range_checked(module.forward)


def remove_floor(model: nn.Module, layers: list[str]) -> None:
    """Give each of ``layers`` its own ``forward`` back."""
    for name in layers:
        model.get_submodule(name).__dict__.pop("forward", None)
