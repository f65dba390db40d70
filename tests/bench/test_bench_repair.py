"""bench_repair: its fault injectors do what they say, and a tiny run reports every key."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench import bench_repair
from bench._repair_tasks import FaultyForward, LearningRateBurst, SpikeAudit, install_faults
from runtime.training import GoldenRepair


def make_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 100), nn.ReLU(), nn.Linear(100, 2))


@pytest.mark.parametrize("kind", ["nan", "inf", "spike_1e6"])
def test_fault_corrupts_one_percent_of_the_layer_output_at_the_chosen_steps_only(kind):
    model = make_mlp()
    (wrapper,) = install_faults(model, ["0"], "0", kind, steps=[3, 5], seed=1)
    outputs = {}
    model[0].register_forward_hook(lambda m, i, out: outputs.__setitem__("y", out))
    x = torch.randn(10, 8)
    for step in range(8):
        wrapper.step = step
        model(x)
        y = outputs["y"]
        bad = ~torch.isfinite(y) if kind != "spike_1e6" else y.abs() == 1e6
        assert int(bad.sum()) == (10 if step in (3, 5) else 0), step  # 1 % of 10×100
    assert wrapper.fired == [3, 5]
    assert wrapper.injected == 2 * 10
    assert wrapper.elements == 8 * 10 * 100


def test_fault_does_not_fire_in_evaluation():
    model = make_mlp()
    (wrapper,) = install_faults(model, ["0"], "0", "nan", steps=[0], seed=1)
    wrapper.step = 0
    model.eval()
    assert torch.isfinite(model(torch.randn(4, 8))).all()
    assert wrapper.fired == []


def test_repair_sees_a_fault_installed_before_it():
    model = make_mlp()
    (wrapper,) = install_faults(model, ["0"], "0", "nan", steps=[0], seed=1)
    repair = GoldenRepair(model, ["0"])
    wrapper.step = 0
    assert torch.isfinite(model(torch.randn(10, 8))).all()
    assert repair.summary()["modules"]["0"]["nonfinite"] == 10


def test_spike_audit_counts_injected_spikes_left_beyond_the_band():
    """Repaired, the 1e6 values land on the band's edge (none left); with the repair
    removed, the same fault passes and every injected value is counted."""
    model = make_mlp()
    (wrapper,) = install_faults(model, ["0"], "0", "spike_1e6", steps=[25, 26], seed=1)
    repair = GoldenRepair(model, ["0"])
    audit = SpikeAudit(model[0], "0", wrapper, repair)
    generator = torch.Generator().manual_seed(0)
    for step in range(26):  # 20 warm-up forwards, then the fault at step 25
        wrapper.step = step
        model(torch.randn(10, 8, generator=generator))
    assert (audit.audited, audit.left) == (10, 0)
    assert repair.summary()["spikes"] == 10
    repair.remove()
    wrapper.step = 26
    model(torch.randn(10, 8, generator=generator))
    assert (audit.audited, audit.left) == (20, 10)


def test_fault_kind_is_checked():
    with pytest.raises(ValueError, match="'kind'"):
        FaultyForward(nn.Linear(2, 2), "zeros", [], 0)


def test_learning_rate_burst_multiplies_the_rate_for_its_steps_only():
    optimizer = torch.optim.Adam(nn.Linear(2, 2).parameters(), lr=1e-3)
    burst = LearningRateBurst(optimizer, 1000.0, steps=[4, 5])
    seen = []
    for step in range(8):
        burst.apply(step)
        seen.append(optimizer.param_groups[0]["lr"])
    assert seen == pytest.approx([1e-3] * 4 + [1.0, 1.0] + [1e-3] * 2)


def test_plan_faults_is_deterministic_and_inside_the_run():
    layer, steps = bench_repair.plan_faults("nan", 3, 300, ("a", "b"))
    assert (layer, steps) == bench_repair.plan_faults("nan", 3, 300, ("a", "b"))
    assert len(steps) == 3 and all(75 <= s < 240 for s in steps)
    _, burst = bench_repair.plan_faults("lr_burst", 3, 300, ("a", "b"))
    assert burst == list(range(burst[0], burst[0] + 3))


def test_tiny_run_reports_every_key_finite():
    result = bench_repair.run(quick=True, seeds=2, steps=40, tasks=["digits_mlp"])
    keys = ["repair_clean_false_positive_rate", "repair_clean_quality_delta_pct"]
    for prefix in ("repair_rescue_rate", "repair_rescue_rate_without",
                   "repair_rescue_rate_intensity_1_5", "repair_rescue_rate_gentle"):  # fmt: skip
        keys += [prefix] + [f"{prefix}_{kind}" for kind in bench_repair.FAULT_KINDS]
    keys += ["repair_clean_quality_spread_pct_digits_mlp"]
    for suffix in ("", "_intensity_1_5", "_gentle"):
        keys += [f"repair_spikes_left{suffix}", f"repair_spikes_audited{suffix}"]
    for key in keys:
        assert math.isfinite(result[key]), key
    assert 0.0 <= result["repair_rescue_rate"] <= 1.0
