"""GoldenRepair: fractures are detected and repaired with golden-ratio weights, under guards.

The golden constants and blend, the statistics of a warmed-up probe, what a fracture is
replaced by at each intensity and in gentle mode, the identity and entropy guards, counts
and gradients. Which forwards are checked: test_repair_checking.py; attaching and removing:
test_repair_attach.py.
"""

from __future__ import annotations

import logging
import math

import pytest
import torch
from torch import nn

from runtime.training import BLEND_WEIGHT, KEEP_FRACTION, PHI, GoldenRepair
from tests.training._repair_helpers import (
    FEATURES,
    GOLDEN,
    MEAN,
    STD,
    batch,
    expected_repair,
    land_at,
    run,
    warm_probe,
)


@pytest.fixture(params=[None, True], ids=["cpu-skip-when-clean", "branchless"])
def warmed(request):
    """A Probe with GoldenRepair whose statistics have converged on N(3, 2²) features."""
    model, repair = warm_probe(request.param)
    yield model, repair
    repair.remove()


def test_golden_constants_match_the_golden_ratio():
    assert math.isclose(PHI, GOLDEN, rel_tol=1e-15)
    assert math.isclose(KEEP_FRACTION, 1 / GOLDEN, rel_tol=1e-15)
    assert math.isclose(KEEP_FRACTION, 0.6180339887, abs_tol=1e-10)
    assert math.isclose(KEEP_FRACTION + BLEND_WEIGHT, 1.0)
    assert math.isclose(BLEND_WEIGHT, 1 / GOLDEN**2, rel_tol=1e-12)


def test_training_and_checkpoint_take_phi_from_the_one_golden_module():
    from runtime import checkpoint, golden

    assert (PHI, KEEP_FRACTION, BLEND_WEIGHT) == (
        golden.PHI,
        golden.KEEP_FRACTION,
        golden.BLEND_WEIGHT,
    )
    assert (checkpoint.PHI, checkpoint.KEEP) == (golden.PHI, golden.KEEP_FRACTION)
    assert math.isclose(golden.GENTLE_MAX_INTENSITY, 1 / GOLDEN, rel_tol=1e-15)


@pytest.mark.parametrize(
    ("intensity", "gentle", "weight"),
    [
        (1.0, False, 1 / GOLDEN**2),
        (2.0, False, 2 / GOLDEN**2),
        (GOLDEN**2, False, 1.0),  # full replacement
        (3.0, False, 1.0),  # a share over 1 would overshoot the target
        (0.0, False, 0.0),
        (2.0, True, 1 / GOLDEN**3),  # gentle: intensity capped at 1/φ
        (0.5, True, 0.5 / GOLDEN**2),  # under the cap: as sent
    ],
)
def test_golden_blend_weight_and_gentle_cap(intensity, gentle, weight):
    from runtime import golden

    capped = golden.apply_gentle_cap(intensity, gentle)
    assert golden.compute_blend_weight(capped) == pytest.approx(weight, rel=1e-12)


def test_golden_blend_keeps_one_over_phi_of_the_value():
    from runtime import golden

    assert golden.golden_blend(10.0, 0.0) == pytest.approx(10 / GOLDEN, rel=1e-15)
    assert golden.golden_blend(0.0, 10.0) == pytest.approx(10 / GOLDEN**2, rel=1e-15)
    assert golden.golden_blend(7.0, 7.0) == pytest.approx(7.0, rel=1e-15)


def test_running_stats_recover_the_simulated_distribution(warmed):
    _, repair = warmed
    mean, var = repair.running_stats("probe")
    assert torch.allclose(mean, torch.full((FEATURES,), MEAN), atol=0.15)
    assert torch.allclose(var.sqrt(), torch.full((FEATURES,), STD), rtol=0.1)


def test_clean_activations_pass_through_bit_identical(warmed):
    model, repair = warmed
    x = batch()
    assert torch.equal(run(model, x, None), x)
    assert repair.counts() == {"probe": 0}
    assert repair.collect(1) == []


def test_nonfinite_values_are_replaced_by_the_running_mean(warmed):
    model, repair = warmed
    mean, _ = repair.running_stats("probe")
    x = batch()
    spike = torch.zeros_like(x)
    spike[0, 1], spike[2, 5], spike[3, 0] = math.nan, math.inf, -math.inf
    out = run(model, x, spike)
    assert torch.isfinite(out).all()
    assert out[0, 1] == mean[1] and out[2, 5] == mean[5] and out[3, 0] == mean[0]
    untouched = torch.isfinite(spike)
    assert torch.equal(out[untouched], x[untouched])
    assert repair.summary()["modules"]["probe"]["nonfinite"] == 3


def test_outlier_keeps_one_over_phi_of_the_original_at_intensity_one(warmed):
    model, repair = warmed
    mean, var = repair.running_stats("probe")
    x = batch()
    # |z| = 14: over the threshold of 10, and its blend (14/φ ≈ 8.7) is back inside it
    spike = land_at(x, mean, var.sqrt(), 1, 3, 14.0)
    out = run(model, x, spike)
    original = x[1, 3] + spike[1, 3]
    expected = original / GOLDEN + mean[3] / GOLDEN**2
    assert out[1, 3].item() == pytest.approx(expected.item(), rel=1e-6)
    others = torch.ones_like(x, dtype=torch.bool)
    others[1, 3] = False
    assert torch.equal(out[others], x[others])
    assert repair.counts() == {"probe": 1}


@pytest.mark.parametrize("intensity", [0.5, 2.0, GOLDEN**2, 3.0, 10.0])
def test_intensity_scales_the_target_share_up_to_full_replacement(warmed, intensity):
    model, repair = warmed
    repair.apply_control(intensity, gentle=False)
    mean, var = repair.running_stats("probe")
    x = batch()
    # |z| = 12: blended back inside the threshold from intensity 0.5 up (12·(1 − 0.5/φ²)
    # ≈ 9.7); further out, or at intensity 0, the spike rule applies (test_repair_spikes)
    spike = land_at(x, mean, var.sqrt(), 2, 2, 12.0)
    original = (x + spike)[2, 2]
    weight = min(1.0, intensity / GOLDEN**2)  # the mean's share is 1 from intensity φ² up
    expected = (1 - weight) * original + weight * mean[2]
    assert run(model, x, spike)[2, 2].item() == pytest.approx(expected.item(), rel=1e-5)
    assert repair.summary()["intensity"] == intensity  # applied as sent: no model-side cap


def test_the_controllers_max_intensity_reaches_the_model_as_sent(warmed):
    """The ceiling is the controller's: its highest intensity is applied unchanged, and a
    spike under it is replaced by the running mean (3.0 > φ²: full replacement)."""
    from runtime.controller import ControllerSettings

    ceiling = ControllerSettings().max_intensity
    assert ceiling == 3.0
    model, repair = warmed
    assert repair.max_intensity is None  # no ceiling of the model side's own
    repair.apply_control(ceiling, gentle=False)
    assert repair.intensity == ceiling and repair.blend_weight == 1.0
    mean, _ = repair.running_stats("probe")
    x = batch()
    spike = torch.zeros_like(x)
    spike[2, 2] = 40 * STD
    assert run(model, x, spike)[2, 2].item() == pytest.approx(mean[2].item(), rel=1e-6)
    repair.apply_control(ceiling, gentle=True)  # gentle: the one cap, 1/φ
    assert repair.intensity == ceiling
    assert repair.blend_weight == pytest.approx(1 / GOLDEN**3, rel=1e-12)


@pytest.mark.parametrize(
    ("sent", "applied"),
    [(math.nan, 1.0), (math.inf, 1.0), (-math.inf, 1.0), (-0.5, 0.0), (0.0, 0.0), (2.5, 2.5)],
)
def test_an_intensity_that_is_not_finite_or_is_negative_is_refused(warmed, sent, applied, caplog):
    model, repair = warmed
    with caplog.at_level(logging.WARNING, logger="runtime.training"):
        repair.apply_control(sent, gentle=False)
    assert repair.intensity == applied
    assert repair.blend_weight == pytest.approx(min(1.0, applied / GOLDEN**2), rel=1e-12)
    refused = not (math.isfinite(sent) and sent >= 0)
    assert ("not a finite number >= 0" in caplog.text) is refused
    mean, var = repair.running_stats("probe")
    x = batch()
    spike = land_at(x, mean, var.sqrt(), 2, 2, 12.0)
    out = run(model, x, spike)
    assert torch.isfinite(out).all()
    # 0: no blend, so the outlier is only clipped to the band's edge (the spike rule)
    weight = min(1.0, applied / GOLDEN**2)
    value, m, s = (x + spike)[2, 2].item(), mean[2].item(), var[2].sqrt().item()
    expected = expected_repair(value, m, s, weight, 10.0)
    assert out[2, 2].item() == pytest.approx(expected, rel=1e-5)


def test_deprecated_intensity_caps_warn_and_still_apply():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.warns(DeprecationWarning, match="'max_intensity' is deprecated"):
        repair = GoldenRepair(model, max_intensity=1.0)
    repair.apply_control(2.0, gentle=False)
    assert repair.blend_weight == pytest.approx(1 / GOLDEN**2, rel=1e-12)
    repair.remove()
    with pytest.warns(DeprecationWarning, match="'gentle_max_intensity' is deprecated"):
        repair = GoldenRepair(model, gentle_max_intensity=0.5)
    repair.apply_control(2.0, gentle=True)
    assert repair.blend_weight == pytest.approx(0.5 / GOLDEN**2, rel=1e-12)
    repair.apply_control(2.0, gentle=False)  # no ceiling outside gentle mode
    assert repair.blend_weight == pytest.approx(2 / GOLDEN**2, rel=1e-12)
    repair.remove()


def test_gentle_mode_caps_intensity_and_raises_the_threshold(warmed):
    model, repair = warmed
    mean, var = repair.running_stats("probe")
    std = var.sqrt()
    x = batch()
    strong, mild = torch.zeros_like(x), torch.zeros_like(x)
    # z = 18: a fracture in both modes, blended back inside gentle mode's 15 (18·(1 − 1/φ³))
    strong[0, 4] = mean[4] + 18 * std[4] - x[0, 4]
    mild[0, 4] = mean[4] + 12 * std[4] - x[0, 4]  # z = 12: over 10, under 10 × 1.5

    repair.apply_control(2.0, gentle=True)
    out = run(model, x, strong)
    weight = (1 / GOLDEN) / GOLDEN**2  # intensity capped at 1/φ, so the mean gets 1/φ³
    expected = (1 - weight) * (x + strong)[0, 4] + weight * mean[4]
    assert out[0, 4].item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.equal(run(model, x, mild), x + mild)  # not a fracture in gentle mode

    repair.apply_control(2.0, gentle=False)
    assert not torch.equal(run(model, x, mild), x + mild)


def test_identity_guard_scales_back_onto_the_floor_and_reports(warmed):
    model, repair = warmed
    repair.apply_control(GOLDEN**2, gentle=False)  # full replacement of fractures
    x = batch()
    spike = torch.zeros_like(x)
    spike[1, 6] = -1e4  # one spike carries nearly all of row 1's energy
    original = x + spike
    out = run(model, x, spike)
    cos = nn.functional.cosine_similarity(out, original, dim=1)
    # Unguarded, full replacement (the spike set to the mean, ≈ +3) would leave
    # cos ≈ (|x|² − 3·10⁴) / (10⁴·|x|) < 0.
    # Exact in float64; the float32 activations round the scaled-back value slightly.
    assert cos[1].item() == pytest.approx(repair.identity_floor, abs=2e-3)
    assert original[1, 6] < out[1, 6] < 0  # still repaired, only less
    assert torch.equal(out[[0, 2, 3]], x[[0, 2, 3]])
    summary = repair.summary()
    assert summary["modules"]["probe"]["guard_scaled"] == 1
    assert summary["min_similarity"] < repair.identity_floor
    assert summary["identity_margin"] < 0


def test_identity_guard_leaves_mild_repairs_alone(warmed):
    model, repair = warmed
    mean, var = repair.running_stats("probe")
    x = batch()
    run(model, x, land_at(x, mean, var.sqrt(), 0, 0, 14.0))
    summary = repair.summary()
    assert summary["modules"]["probe"]["guard_scaled"] == 0
    assert summary["min_similarity"] > repair.identity_floor


def test_diffuse_repair_over_the_entropy_limit_is_refused_but_nonfinite_still_fixed(warmed):
    model, repair = warmed
    mean, _ = repair.running_stats("probe")
    x = batch()
    spike = torch.zeros_like(x)
    # The whole row shifted by 40 σ: 8 outliers (spikes, each bound for the band's edge)
    # with near-equal mass, H ≈ 3 bits
    spike[2] = 40 * STD
    spike[2, 7] = math.nan
    out = run(model, x, spike)
    limit = repair.summary()["modules"]["probe"]["entropy_limit_bits"]
    assert limit == pytest.approx(math.log2(FEATURES / 4))
    assert torch.equal(out[2, :7], (x + spike)[2, :7])  # outliers left alone
    assert out[2, 7] == mean[7]  # the NaN is still replaced
    row = repair.summary()["modules"]["probe"]
    assert row["entropy_limited"] == 1
    assert row["spikes"] == 0  # the row's spikes were left alone with the rest
    assert row["max_entropy_bits"] == pytest.approx(math.log2(7), rel=1e-2)


def test_counts_accumulate_per_module_and_collect_resets(warmed):
    model, repair = warmed
    x = batch()
    for k in range(1, 4):
        spike = torch.zeros_like(x)
        spike[0, :k] = math.nan
        run(model, x, spike)
    assert repair.counts() == {"probe": 1 + 2 + 3}
    events = repair.collect(step=7)
    assert [(e.module, e.nonfinite, e.outliers, e.repaired_calls, e.step) for e in events] == [
        ("probe", 6, 0, 3, 7)
    ]
    assert repair.counts() == {"probe": 0}


def test_gradient_flows_through_the_kept_share_only(warmed):
    model, repair = warmed
    mean, var = repair.running_stats("probe")
    x = batch().requires_grad_(True)
    spike = land_at(x.detach(), mean, var.sqrt(), 0, 0, 14.0)  # blended: keeps 1/φ
    spike[3, 3] = math.nan
    spike[1, 2] = 1e6  # a spike: replaced by the band's edge, keeps no share
    run(model, x, spike).sum().backward()
    expected = torch.ones(4, FEATURES)
    expected[0, 0] = 1 / GOLDEN
    expected[3, 3] = 0.0
    expected[1, 2] = 0.0
    assert torch.allclose(x.grad, expected, atol=1e-6)


def test_identity_scale_solver_lands_on_the_floor_in_float64():
    from runtime.training._identity import solve_identity_scale

    torch.manual_seed(3)
    a = torch.randn(50, 16, dtype=torch.float64)
    d = torch.randn(50, 16, dtype=torch.float64) * 3
    floor = 0.2
    s = solve_identity_scale((a * a).sum(1), (a * d).sum(1), (d * d).sum(1), floor)
    cos_full = nn.functional.cosine_similarity(a, a + d, dim=1)
    cos_scaled = nn.functional.cosine_similarity(a, a + s[:, None] * d, dim=1)
    crossing = cos_full < floor
    assert crossing.any() and (~crossing).any()
    assert torch.allclose(cos_scaled[crossing], torch.full_like(cos_scaled[crossing], floor))
    assert (s[crossing] < 1).all() and (s[crossing] > 0).all()
