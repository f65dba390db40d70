"""bench_training's process-CPU A/B: how pairs are read (median, interquartile range,
noise-bound), how the blocks are sandwiched, and that the client exists only in its blocks.

Fixed numbers and a virtual clock, so nothing here depends on this machine's speed."""

from __future__ import annotations

import threading

import pytest
import torch

from bench._control_source import ControlSource
from bench._paired import MEETS, MISSES, NOISE_BOUND, pair_overheads_pct, summarise_pairs
from bench._training_ab import _Job
from bench._training_cpu import ClientPerBlock, cpu_ab_keys, run_sandwiched


def test_a_tight_spread_under_the_target_meets_it():
    summary = summarise_pairs([0.2, 0.4, 0.5, 0.6, 0.9], target_pct=1.0)
    assert summary["median_pct"] == pytest.approx(0.5)
    assert (summary["q25_pct"], summary["q75_pct"]) == pytest.approx((0.4, 0.6))
    assert summary["spread_pct"] == pytest.approx(0.2)
    assert (summary["min_pct"], summary["max_pct"], summary["n_pairs"]) == (0.2, 0.9, 5)
    assert summary["noise_bound"] is False and summary["verdict"] == MEETS


def test_a_tight_spread_above_the_target_misses_it():
    summary = summarise_pairs([1.2, 1.4, 1.5, 1.6, 1.9], target_pct=1.0)
    assert summary["median_pct"] == pytest.approx(1.5)
    assert summary["noise_bound"] is False and summary["verdict"] == MISSES


def test_a_spread_wider_than_the_target_is_noise_bound_whatever_the_median():
    # The median (0.5) is under the target, but the pairs range over 3 points: no verdict.
    summary = summarise_pairs([-3.0, -1.0, 0.5, 2.0, 4.0], target_pct=1.0)
    assert summary["median_pct"] == pytest.approx(0.5)
    assert summary["spread_pct"] == pytest.approx(3.0)
    assert summary["noise_bound"] is True and summary["verdict"] == NOISE_BOUND
    # A spread of exactly the target still resolves it.
    assert summarise_pairs([0.0, 0.5, 1.0, 1.5, 2.0], 2.0)["verdict"] == MEETS
    assert summarise_pairs([0.0, 0.5, 1.0, 1.5, 2.0], 0.999)["verdict"] == NOISE_BOUND


def test_pairs_are_b_over_a_and_bad_blocks_are_refused():
    assert pair_overheads_pct([2.0, 4.0], [2.02, 3.96]) == pytest.approx([1.0, -1.0])
    with pytest.raises(ValueError, match="every round needs one block of each"):
        pair_overheads_pct([1.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="'a_s' holds 0.0"):
        pair_overheads_pct([0.0], [1.0])
    with pytest.raises(ValueError, match="at least 2"):
        summarise_pairs([1.0], 1.0)


class _VirtualJob:
    """A job whose step advances a virtual clock by ``cost`` × the load at that time."""

    def __init__(self, name: str, cost: float, clock: _VirtualClock, log: list[str]) -> None:
        self.name, self.cost, self.clock, self.log = name, cost, clock, log
        self.enter = lambda: log.append(name)
        self.leave = None

    def step(self, x: object, y: object) -> None:
        self.clock.now += self.cost * self.clock.load()


class _VirtualClock:
    def __init__(self, drift_per_s: float) -> None:
        self.now, self.drift_per_s = 0.0, drift_per_s

    def load(self) -> float:
        return 1.0 + self.drift_per_s * self.now  # the machine slows down as the run goes on

    def __call__(self) -> float:
        return self.now


def test_each_variant_block_sits_between_plain_blocks_and_cancels_a_linear_drift():
    clock, log = _VirtualClock(drift_per_s=0.1), []  # a block is 0.1 s: +1 % load per block
    plain = _VirtualJob("plain", 1e-3, clock, log)
    variants = {
        "slower": _VirtualJob("slower", 1.02e-3, clock, log),  # +2 % of a plain step
        "same": _VirtualJob("same", 1e-3, clock, log),  # A/A: nothing added
    }
    times = run_sandwiched(plain, variants, rounds=5, block=100, batches=[(0, 0)], clock=clock)
    assert len(log) == 2 * 5 * 2 + 1 and log[::2] == ["plain"] * 11  # P V P V … P
    order = log[1::2]
    assert "plain" not in order
    assert all(sorted(order[i : i + 2]) == ["same", "slower"] for i in range(0, 10, 2))
    assert len(times["plain"]) == 11 and all(len(v) == 5 for v in times["variants"].values())
    slower = pair_overheads_pct(times["references"]["slower"], times["variants"]["slower"])
    same = pair_overheads_pct(times["references"]["same"], times["variants"]["same"])
    # The mean of the two plain neighbours cancels the drift.
    assert slower == pytest.approx([2.0] * 5, abs=0.02)
    assert same == pytest.approx([0.0] * 5, abs=0.02)
    # Read against the plain block just before it, the same drift reads as ≈ +1 % overhead.
    k_same = [k for k, name in enumerate(order) if name == "same"]
    against_before = pair_overheads_pct(
        [times["plain"][k] for k in k_same], times["variants"]["same"]
    )
    assert all(0.8 < p < 1.3 for p in against_before), against_before


def test_the_headline_keys_come_from_the_every_forward_variant_against_the_plain_step():
    plain = [4e-3] * 9
    ref = [4e-3] * 8
    offsets = {
        "repair": [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 9.0],  # wide: noise-bound
        "client": [0.0, 0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6],
        "floor": [1.0] * 8,
        "sampled": [0.4, 0.5, 0.5, 0.6, 0.6, 0.6, 0.7, 0.8],
        "sampled4": [0.5] * 8,
        "plain_again": [0.0] * 8,
    }
    times = {
        "plain": plain,
        "references": {name: ref for name in offsets},
        "variants": {name: [4e-3 * (1 + p / 100) for p in v] for name, v in offsets.items()},
    }
    keys = cpu_ab_keys(times)
    assert keys["client_overhead_pct"] == pytest.approx(2.75)
    assert keys["client_overhead_pct_pairs"] == pytest.approx(offsets["repair"])
    assert keys["client_overhead_pct_spread"] == pytest.approx(3.625 - 1.875)
    assert keys["client_overhead_noise_bound"] is True
    assert keys["client_overhead_verdict"] == NOISE_BOUND
    assert keys["client_overhead_floor"] == "plain training step"
    assert keys["client_overhead_floor_step_ms"] == pytest.approx(4.0)
    assert keys["cpu_client_plus_actuator_overhead_pct"] == keys["client_overhead_pct"]
    assert keys["client_overhead_sampled_verdict"] == MEETS
    assert keys["client_overhead_aa_pct"] == pytest.approx(0.0)
    # The actuator alone: the median of the per-pair differences (repair − client).
    assert keys["cpu_actuator_overhead_pct"] == pytest.approx((2.2 + 2.7) / 2)


def _client_threads() -> int:
    return sum(t.name == "kintsugi-client" for t in threading.enumerate())


def test_the_client_and_its_thread_exist_only_inside_the_variants_blocks():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    job = _Job(model, opt=torch.optim.SGD(model.parameters(), lr=0.0))
    x, y = torch.randn(2, 4), torch.tensor([0, 1])
    with ControlSource(hop_s=0.05) as source:
        per_block = ClientPerBlock(job, source)
        before = _client_threads()
        for _ in range(2):
            job.enter()
            assert _client_threads() == before + 1  # the client's receive thread runs
            job.step(x, y)
            assert per_block._feedback.step_count == 1  # Biofeedback.step ran after the step
            job.leave()
            assert _client_threads() == before and job.after_step is None
            job.step(x, y)  # a block of another variant: no client at all
    assert (per_block.blocks, per_block.live_blocks) == (2, 2)
    assert per_block.last_seq >= 0
