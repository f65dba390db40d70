"""GoldenRepair's statistics follow a young network: the update interval ramps up to
``stats_every`` (``runtime.training._repair_detect.compute_stats_interval``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from runtime.training import GoldenRepair
from runtime.training._repair_detect import STATS_RAMP, compute_stats_interval
from tests.training._repair_helpers import FEATURES, Probe


def test_interval_grows_with_the_run_up_to_stats_every():
    assert compute_stats_interval(20, 128) == 1
    assert compute_stats_interval(10 * STATS_RAMP, 128) == 10
    assert compute_stats_interval(100_000, 128) == 128
    assert compute_stats_interval(100_000, 4) == 4


def drifting_run(repair_kwargs: dict, steps: int = 400) -> GoldenRepair:
    """Activations whose scale grows by 2 % of its start a step after warm-up (as a young
    network's do): ×≈ 8.6 over 400 steps, never a fracture."""
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=20, **repair_kwargs)
    repair.apply_control(1.0, gentle=False)
    generator = torch.Generator().manual_seed(0)
    for step in range(steps):
        scale = 1.0 + 0.02 * max(0, step - 20)
        model(torch.randn(64, FEATURES, generator=generator) * scale + 3.0 * scale)
    return repair


def test_statistics_follow_a_growing_activation_so_a_clean_run_repairs_nothing():
    repair = drifting_run({})
    assert repair.summary()["repairs"] == 0


def test_a_fixed_interval_would_flag_the_same_clean_growth():
    # The rule's counterpart: with the ramp pinned at stats_every (the old behaviour),
    # the same clean drift is "repaired" wholesale.
    import runtime.training._repair as repair_module

    original = repair_module.compute_stats_interval
    repair_module.compute_stats_interval = lambda calls, every: every
    try:
        repair = drifting_run({})
    finally:
        repair_module.compute_stats_interval = original
    assert repair.summary()["repairs"] > 1000


def test_a_real_spike_is_still_repaired_after_the_ramp():
    repair = drifting_run({}, steps=200)
    model = repair._sites[0].module
    scale = 1.0 + 0.02 * 180
    x = torch.randn(64, FEATURES) * scale + 3.0 * scale
    x[0, 0] = 1e6
    out = model(x)
    assert repair.summary()["modules"]["probe"]["outliers"] == 1
    assert out[0, 0] < 1e6
    assert out[1:].equal(x[1:])


@pytest.mark.parametrize("stats_every", [4, 128])
def test_statistics_update_at_the_ramped_interval(stats_every):
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=5, stats_every=stats_every)
    site = repair._sites[0]
    updates = []
    x = torch.randn(16, FEATURES)
    for _ in range(3000):
        before = site.version
        model(x)
        if site.version != before:
            updates.append(site.forwards)
    gaps = [b - a for a, b in zip(updates, updates[1:], strict=False)]
    assert max(gaps) == stats_every
    assert min(gaps) == 1  # right after warm-up
