"""GoldenRepair: fractures are detected and repaired with golden-ratio weights, under guards."""

from __future__ import annotations

import copy
import io
import logging
import math

import pytest
import torch
from torch import nn

from runtime.errors import ConfigError
from runtime.training import BLEND_WEIGHT, KEEP_FRACTION, PHI, GoldenRepair

FEATURES = 8
MEAN, STD = 3.0, 2.0
GOLDEN = (1 + math.sqrt(5)) / 2  # the oracle: computed here, not taken from the package


class Probe(nn.Module):
    """Returns its input plus whatever ``spike`` holds (an injected fracture)."""

    def __init__(self) -> None:
        super().__init__()
        self.spike: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.spike is None else x + self.spike


def make_model() -> nn.Sequential:
    return nn.Sequential()


@pytest.fixture(params=[None, True], ids=["cpu-skip-when-clean", "branchless"])
def warmed(request):
    """A Probe with GoldenRepair whose statistics have converged on N(3, 2²) features."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=5, momentum=0.05, branchless=request.param)
    model.train()
    for _ in range(200):
        model(torch.randn(256, FEATURES) * STD + MEAN)
    model.eval()  # freeze the statistics so expected values can be computed from them
    repair.apply_control(1.0, gentle=False)
    repair.collect(0)
    yield model, repair
    repair.remove()


def batch(rows: int = 4) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(rows, FEATURES) * STD + MEAN


def run(model: nn.Sequential, x: torch.Tensor, spike: torch.Tensor | None) -> torch.Tensor:
    model.probe.spike = spike
    try:
        return model(x)
    finally:
        model.probe.spike = None


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
    spike = torch.zeros_like(x)
    spike[1, 3] = 40 * STD  # |z| ≈ 20, over the default threshold of 10
    out = run(model, x, spike)
    original = x[1, 3] + spike[1, 3]
    expected = original / GOLDEN + mean[3] / GOLDEN**2
    assert out[1, 3].item() == pytest.approx(expected.item(), rel=1e-6)
    others = torch.ones_like(x, dtype=torch.bool)
    others[1, 3] = False
    assert torch.equal(out[others], x[others])
    assert repair.counts() == {"probe": 1}


@pytest.mark.parametrize("intensity", [0.0, 0.5, 2.0, GOLDEN**2, 3.0, 10.0])
def test_intensity_scales_the_target_share_up_to_full_replacement(warmed, intensity):
    model, repair = warmed
    repair.apply_control(intensity, gentle=False)
    mean, _ = repair.running_stats("probe")
    x = batch()
    spike = torch.zeros_like(x)
    spike[2, 2] = 40 * STD
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
    x = batch()
    spike = torch.zeros_like(x)
    spike[2, 2] = 40 * STD
    out = run(model, x, spike)
    assert torch.isfinite(out).all()
    assert (out[2, 2] == (x + spike)[2, 2]).item() is (applied == 0.0)  # 0: left alone


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
    strong[0, 4] = mean[4] + 40 * std[4] - x[0, 4]  # z = 40: a fracture in both modes
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
    x = batch()
    spike = torch.zeros_like(x)
    spike[0, 0] = 40 * STD
    run(model, x, spike)
    summary = repair.summary()
    assert summary["modules"]["probe"]["guard_scaled"] == 0
    assert summary["min_similarity"] > repair.identity_floor


def test_diffuse_repair_over_the_entropy_limit_is_refused_but_nonfinite_still_fixed(warmed):
    model, repair = warmed
    mean, _ = repair.running_stats("probe")
    x = batch()
    spike = torch.zeros_like(x)
    spike[2] = 40 * STD  # the whole row shifted: 8 outliers with equal mass, H = 3 bits
    spike[2, 7] = math.nan
    out = run(model, x, spike)
    limit = repair.summary()["modules"]["probe"]["entropy_limit_bits"]
    assert limit == pytest.approx(math.log2(FEATURES / 4))
    assert torch.equal(out[2, :7], (x + spike)[2, :7])  # outliers left alone
    assert out[2, 7] == mean[7]  # the NaN is still replaced
    row = repair.summary()["modules"]["probe"]
    assert row["entropy_limited"] == 1
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
    x = batch().requires_grad_(True)
    spike = torch.zeros(4, FEATURES)
    spike[0, 0] = 40 * STD
    spike[3, 3] = math.nan
    run(model, x, spike).sum().backward()
    expected = torch.ones(4, FEATURES)
    expected[0, 0] = 1 / GOLDEN
    expected[3, 3] = 0.0
    assert torch.allclose(x.grad, expected, atol=1e-6)


def test_training_mode_repairs_before_updating_statistics():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=2)
    model.probe.spike = torch.zeros(64, FEATURES)
    model.probe.spike[::2, 0] = math.nan
    for _ in range(10):
        out = model(torch.randn(64, FEATURES))
        assert torch.isfinite(out).all()
    mean, var = repair.running_stats("probe")
    assert torch.isfinite(mean).all() and torch.isfinite(var).all()
    assert repair.counts()["probe"] == 10 * 32


def test_conv_outputs_use_per_channel_statistics():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    model = nn.Sequential(conv)
    repair = GoldenRepair(model, warmup_steps=2)
    for _ in range(30):
        model(torch.randn(8, 2, 6, 6))
    model.eval()
    mean, _ = repair.running_stats("0")
    assert mean.shape == (3,)
    x = torch.randn(2, 2, 6, 6)
    x[1, :, 2, 2] = math.nan  # poisons every channel around pixel (2, 2) of sample 1
    out = model(x)
    assert torch.isfinite(out).all()
    clean_ref = conv(torch.nan_to_num(x, nan=0.0))
    poisoned = ~torch.isfinite(nn.functional.conv2d(x, conv.weight, conv.bias, padding=1))
    channel_means = mean.view(1, 3, 1, 1).expand_as(out)
    assert torch.equal(out[poisoned], channel_means[poisoned])
    assert torch.allclose(out[~poisoned], clean_ref[~poisoned])
    repair.remove()


def wrapped(module: nn.Module) -> bool:
    """True while ``module``'s forward is replaced by an instance attribute."""
    return "forward" in module.__dict__


def test_remove_restores_every_modules_own_forward():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with GoldenRepair(model) as repair:
        assert repair.module_names == ["0", "2"]
        assert repair.attached and wrapped(model[0]) and wrapped(model[2])
        assert not wrapped(model[1])
    assert not repair.attached
    assert not wrapped(model[0]) and not wrapped(model[2])
    repair.remove()  # twice is fine
    repair.attach()
    assert repair.attached and wrapped(model[0])
    repair.remove()


def poisoned_probe() -> tuple[nn.Sequential, GoldenRepair, torch.Tensor]:
    """A warmed-up Probe with a NaN spike armed, and its repair."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=5)
    for _ in range(8):
        model(torch.randn(256, FEATURES) * STD + MEAN)
    x = batch()
    model.probe.spike = nan_spike(x)
    return model, repair, x


def test_a_deep_copy_of_the_model_is_a_plain_model_sharing_no_repair_state():
    model, repair, x = poisoned_probe()
    twin = copy.deepcopy(model)
    assert not wrapped(twin.probe) or twin.probe.forward.__self__ is twin.probe
    assert torch.isnan(twin(x)).any()  # the copy is not repaired...
    assert repair.counts() == {"probe": 0}  # ...and does not touch the original's counters
    assert torch.isfinite(model(x)).all()  # the original still is
    assert repair.counts() == {"probe": 1}


def test_a_model_with_a_repair_attached_can_be_saved_whole():
    model, repair, x = poisoned_probe()
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert torch.isnan(loaded(x)).any()  # saved as the plain module
    assert torch.isfinite(model(x)).all()


def test_remove_gives_back_a_forward_the_user_had_set():
    model = nn.Sequential(nn.Linear(4, 4))
    calls = []
    own = model[0].forward

    def traced(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return own(x)

    model[0].forward = traced
    repair = GoldenRepair(model)
    model(torch.randn(2, 4))
    assert calls == [1]  # the user's forward runs inside the check
    repair.remove()
    assert model[0].forward is traced


def test_a_forward_wrapped_again_after_attaching_keeps_working_when_removed(caplog):
    model, repair, x = poisoned_probe()
    inner = model.probe.forward
    model.probe.forward = lambda t: inner(t)  # other code wraps the repaired forward
    with caplog.at_level(logging.WARNING, logger="runtime.training"):
        repair.remove()
    assert "wrapped again" in caplog.text
    assert torch.isnan(model(x)).any()  # the repair passes through; the call still works


def test_leaving_gentle_mode_lowers_the_threshold_at_the_next_forward():
    """The CPU fast path's band follows the threshold: an activation at |z| = 12 is clean
    under gentle mode's 15 and a fracture under the plain 10."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=5, threshold_z=10.0)
    repair.apply_control(1.0, gentle=True)
    for _ in range(8):
        model(torch.randn(256, FEATURES) * STD + MEAN)
    model.eval()
    mean, var = repair.running_stats("probe")
    x = batch()
    model.probe.spike = torch.zeros_like(x)
    model.probe.spike[0, 0] = mean[0] + 12 * var[0].sqrt() - x[0, 0]  # lands at z = 12
    spiked = x + model.probe.spike
    assert torch.equal(model(x), spiked)  # gentle: 12 < 15, and the fast path is armed
    repair.apply_control(1.0, gentle=False)
    out = model(x)
    assert out[0, 0] < spiked[0, 0]  # plain: 12 > 10, blended toward the mean
    assert torch.equal(out[1:], spiked[1:])
    assert repair.counts() == {"probe": 1}


def test_bad_arguments_name_the_argument_and_the_value():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ConfigError, match="'modules'.*nope"):
        GoldenRepair(model, ["nope"])
    with pytest.raises(ConfigError, match="'threshold_z'.*-1"):
        GoldenRepair(model, threshold_z=-1)
    repair = GoldenRepair(model)
    with pytest.raises(ConfigError, match="'intensity' must be a number.*'high'"):
        repair.apply_control("high", gentle=False)
    with pytest.raises(ConfigError, match="'max_intensity'.*-1"), pytest.warns(DeprecationWarning):
        GoldenRepair(model, max_intensity=-1)
    with pytest.raises(ConfigError, match="no nn.Linear"):
        GoldenRepair(nn.Sequential(nn.ReLU()))


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


def test_features_on_very_different_scales_are_checked_one_by_one():
    # Means 0 and 100 (std 1): no value range is clean for both, so the global-range
    # shortcut cannot decide and the per-feature check must.
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    offset = torch.tensor([0.0, 100.0])
    repair = GoldenRepair(model, ["probe"], warmup_steps=5)
    for _ in range(100):
        model(torch.randn(128, 2) + offset)
    model.eval()
    x = torch.randn(4, 2) + offset
    assert torch.equal(model(x), x)
    model.probe.spike = torch.tensor([[0.0, 0.0], [0.0, -50.0], [0.0, 0.0], [0.0, 0.0]])
    out = model(x)  # 50 is normal for feature 0's scale, but a |z| ≈ 50 fracture for feature 1
    assert out[1, 1] > x[1, 1] - 50
    assert torch.equal(out[[0, 2, 3]], x[[0, 2, 3]]) and out[1, 0] == x[1, 0]
    assert repair.counts() == {"probe": 1}


def sampled(check_every: int, escalation_forwards: int = 6) -> tuple[nn.Sequential, GoldenRepair]:
    """A Probe warmed up (5 training forwards) under sampled checking, then in eval mode."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(
        model,
        ["probe"],
        warmup_steps=5,
        check_every=check_every,
        escalation_forwards=escalation_forwards,
    )
    model.train()
    for _ in range(5):
        model(torch.randn(256, FEATURES) * STD + MEAN)
    model.eval()
    repair.collect(0)
    return model, repair


def nan_spike(x: torch.Tensor) -> torch.Tensor:
    spike = torch.zeros_like(x)
    spike[0, 0] = math.nan
    return spike


def test_warm_up_checks_every_forward_even_when_sampling():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=10, check_every=4)
    model.train()
    outs = [run(model, batch(), nan_spike(batch())) for _ in range(6)]
    assert all(torch.isfinite(out).all() for out in outs)
    assert repair.summary()["unchecked_forwards"] == 0


def test_sampling_checks_one_forward_in_k_and_counts_the_rest():
    model, repair = sampled(check_every=4)
    x = batch()
    repaired = [torch.isfinite(run(model, x, nan_spike(x))).all().item() for _ in range(1)]
    # Forward 6 is the first after warm-up: 6 % 4 != 0, unchecked; the NaN passes.
    assert repaired == [False]
    clean = [run(model, x, None) for _ in range(5)]  # forwards 7..11: 8 is checked
    assert all(torch.equal(out, x) for out in clean)
    out = run(model, x, nan_spike(x))  # forward 12: checked
    assert torch.isfinite(out).all()
    summary = repair.summary()
    assert summary["unchecked_forwards"] == 1 + 4  # forwards 6, 7, 9, 10, 11
    assert summary["check_every"] == 4
    assert summary["modules"]["probe"]["nonfinite"] == 1
    repair.collect(1)
    assert repair.summary()["unchecked_forwards"] == 0


def test_a_fracture_switches_sampling_to_every_forward_for_a_while():
    model, repair = sampled(check_every=4, escalation_forwards=6)
    x = batch()
    for _ in range(2):  # forwards 6, 7: unchecked, clean
        run(model, x, None)
    assert torch.isfinite(run(model, x, nan_spike(x))).all()  # forward 8: checked, repaired
    # Escalated: forwards 9..14 are each checked, so every NaN among them is repaired, and
    # each one found extends the escalation (to forward 14 + 6 = 20).
    assert all(torch.isfinite(run(model, x, nan_spike(x))).all() for _ in range(6))
    for _ in range(6):  # forwards 15..20: clean, still checked one by one
        run(model, x, None)
    assert repair.summary()["unchecked_forwards"] == 2
    # Forward 21 is past the escalation and 21 % 4 != 0: sampling again.
    assert not torch.isfinite(run(model, x, nan_spike(x))).all()
    assert repair.summary()["unchecked_forwards"] == 3


def test_check_every_one_never_skips():
    model, repair = sampled(check_every=1)
    x = batch()
    assert all(torch.isfinite(run(model, x, nan_spike(x))).all() for _ in range(9))
    assert repair.summary()["unchecked_forwards"] == 0


def test_sampling_arguments_are_validated():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ConfigError, match="'check_every'.*0"):
        GoldenRepair(model, check_every=0)
    with pytest.raises(ConfigError, match="'escalation_forwards'.*-3"):
        GoldenRepair(model, escalation_forwards=-3)


def test_sampling_keeps_the_statistics_as_fresh_as_checking_every_forward():
    """Statistics follow a drift on the same forward clock whatever ``check_every``: stale
    statistics would turn the drift into false fractures (and endless escalation)."""
    means = {}
    for every in (1, 8):
        torch.manual_seed(0)
        model = nn.Sequential()
        model.add_module("probe", Probe())
        repair = GoldenRepair(
            model, ["probe"], warmup_steps=5, stats_every=4, momentum=0.5, check_every=every
        )
        model.train()
        for _ in range(5):
            model(torch.randn(256, FEATURES) * STD + MEAN)
        for _ in range(64):  # the activations drift by one standard deviation
            model(torch.randn(256, FEATURES) * STD + MEAN + STD)
        means[every] = repair.running_stats("probe")[0]
        assert repair.summary()["repairs"] == 0
    assert torch.allclose(means[1], torch.full((FEATURES,), MEAN + STD), atol=0.3)
    assert torch.allclose(means[8], torch.full((FEATURES,), MEAN + STD), atol=0.3)


def test_unbatched_forwards_keep_the_statistics_per_feature():
    """A module called on single samples (1-D) after batched warm-up: the statistics stay per
    feature, the variance does not drain away, and a NaN in one sample is still repaired."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=5, stats_every=4)
    # Features 0..7 std apart: still one common band (the fast path), and a mean taken over
    # the features instead of per feature would pull them together.
    means = torch.arange(FEATURES) * STD
    for _ in range(6):
        model(torch.randn(256, FEATURES) * STD + means)
    for _ in range(160):  # forty statistics updates from one sample each
        model(torch.randn(FEATURES) * STD + means)
    mean, var = repair.running_stats("probe")
    assert mean.shape == (FEATURES,) and var.shape == (FEATURES,)
    assert torch.allclose(mean, means, atol=1.5)
    # One sample has no spread of its own; its distance from the running mean keeps the
    # variance where it is (taken around its own mean, 0.9**40 of it would be left).
    assert 0.4 < (var.mean() / STD**2).item() < 2.5
    sample = means.clone()
    model.probe.spike = torch.zeros(FEATURES)
    model.probe.spike[1] = math.nan
    out = model(sample)
    assert out.shape == (FEATURES,) and torch.isfinite(out).all()
    assert repair.counts() == {"probe": 1}
