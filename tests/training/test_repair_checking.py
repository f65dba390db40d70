"""GoldenRepair: which forwards are checked, and on which statistics.

Training mode, per-channel and per-feature statistics, the fast path's threshold band,
unbatched forwards, and sampled checking (``check_every``, warm-up, escalation after a
fracture, statistics kept fresh).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from runtime.errors import ConfigError
from runtime.training import GoldenRepair
from tests.training._repair_helpers import FEATURES, MEAN, STD, Probe, batch, nan_spike, run


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
