"""GoldenRepair's spike rule: a repair never leaves a fracture behind.

A finite outlier whose golden blend would still lie beyond the threshold is a spike, and
goes to the band's edge ``mean ± threshold·std`` instead (``runtime.training._repair_blend``).
Expected values come from ``expected_repair`` (float64, golden ratio computed in the test
helpers) on the warmed probe's frozen statistics.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from runtime.training import GoldenRepair, RepairLog
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

THRESHOLD = 10.0  # GoldenRepair's default threshold_z
GENTLE_THRESHOLD = THRESHOLD * 1.5


@pytest.fixture(params=[None, True], ids=["cpu-skip-when-clean", "branchless"])
def warmed(request):
    model, repair = warm_probe(request.param)
    mean, var = repair.running_stats("probe")
    yield model, repair, mean, var.sqrt()
    repair.remove()


def spiked(x: torch.Tensor, cells: dict[tuple[int, int], float]) -> torch.Tensor:
    spike = torch.zeros_like(x)
    for (row, col), value in cells.items():
        spike[row, col] = value - x[row, col]
    return spike


def row(repair: GoldenRepair) -> dict:
    return repair.summary()["modules"]["probe"]


@pytest.mark.parametrize("value", [1e6, -1e6, 1e20])
def test_a_huge_spike_goes_to_the_edge_of_the_threshold_band(warmed, value):
    model, repair, mean, std = warmed
    x = batch()
    out = run(model, x, spiked(x, {(1, 3): value}))
    edge = mean[3].item() + math.copysign(THRESHOLD, value) * std[3].item()
    assert out[1, 3].item() == pytest.approx(edge, rel=1e-6)
    z_after = (out[1, 3] - mean[3]) / std[3]
    assert abs(z_after.item()) <= THRESHOLD * (1 + 1e-6)  # no longer a fracture
    others = torch.ones_like(x, dtype=torch.bool)
    others[1, 3] = False
    assert torch.equal(out[others], x[others])
    counters = row(repair)
    assert (counters["outliers"], counters["spikes"], counters["nonfinite"]) == (1, 1, 0)
    assert repair.summary()["spikes"] == 1


@pytest.mark.parametrize("z", [10.5, 16.0])
def test_an_ordinary_outlier_keeps_the_golden_blend_exactly(warmed, z):
    """Just above the threshold, and just under 10·φ ≈ 16.18, where the blend still brings
    the value back inside: 61.8 % kept, as before the spike rule."""
    model, repair, mean, std = warmed
    x = batch()
    spike = land_at(x, mean, std, 0, 5, z)
    original = (x + spike)[0, 5].item()
    out = run(model, x, spike)
    blend = original / GOLDEN + mean[5].item() / GOLDEN**2
    assert out[0, 5].item() == pytest.approx(blend, rel=1e-6)
    assert (row(repair)["outliers"], row(repair)["spikes"]) == (1, 0)


def test_the_rule_starts_where_the_blend_would_stay_an_outlier(warmed):
    """At intensity 1 the blend keeps 1/φ: from |z| = 10·φ ≈ 16.18 on, it would stay beyond
    10, so 16.5 goes to the edge, and the repaired value is continuous across the switch."""
    model, repair, mean, std = warmed
    x = batch()
    spike = land_at(x, mean, std, 2, 1, 16.5) + land_at(x, mean, std, 3, 1, -16.5)
    out = run(model, x, spike)
    assert out[2, 1].item() == pytest.approx((mean[1] + THRESHOLD * std[1]).item(), rel=1e-6)
    assert out[3, 1].item() == pytest.approx((mean[1] - THRESHOLD * std[1]).item(), rel=1e-6)
    assert row(repair)["spikes"] == 2
    edge_blend = (THRESHOLD * GOLDEN) / GOLDEN  # the blend of |z| = 10·φ lands on the edge
    assert edge_blend == pytest.approx(THRESHOLD)


def test_nonfinite_values_are_still_replaced_by_the_mean_beside_a_spike(warmed):
    model, repair, mean, std = warmed
    x = batch()
    spike = spiked(x, {(0, 1): math.nan, (2, 5): math.inf, (3, 0): -math.inf, (1, 4): 1e6})
    out = run(model, x, spike)
    assert out[0, 1] == mean[1] and out[2, 5] == mean[5] and out[3, 0] == mean[0]
    assert out[1, 4].item() == pytest.approx((mean[4] + THRESHOLD * std[4]).item(), rel=1e-6)
    counters = row(repair)
    assert (counters["nonfinite"], counters["outliers"], counters["spikes"]) == (3, 1, 1)


def test_gentle_mode_moves_a_spike_to_its_wider_edge_and_blends_less(warmed):
    model, repair, mean, std = warmed
    repair.apply_control(2.0, gentle=True)  # intensity capped at 1/φ: the mean gets 1/φ³
    x = batch()
    spike = spiked(x, {(1, 2): 1e6}) + land_at(x, mean, std, 0, 6, 18.0)
    out = run(model, x, spike)
    assert out[1, 2].item() == pytest.approx(
        (mean[2] + GENTLE_THRESHOLD * std[2]).item(), rel=1e-6
    )
    weight = 1 / GOLDEN**3
    ordinary = (1 - weight) * (x + spike)[0, 6] + weight * mean[6]  # 18·(1 − 1/φ³) < 15
    assert out[0, 6].item() == pytest.approx(ordinary.item(), rel=1e-5)
    assert (row(repair)["outliers"], row(repair)["spikes"]) == (2, 1)


def test_gentle_mode_leaves_a_value_under_its_threshold_alone(warmed):
    model, repair, mean, std = warmed
    repair.apply_control(1.0, gentle=True)
    x = batch()
    spike = land_at(x, mean, std, 1, 1, 14.0)  # an outlier at 10, not at 15
    assert torch.equal(run(model, x, spike), x + spike)
    assert row(repair)["spikes"] == 0


def test_intensity_1_5_blends_what_intensity_1_would_clip(warmed):
    """The blend at 1.5 keeps 1 − 1.5/φ² ≈ 42.7 %: |z| = 20 comes back to 8.5 (blended),
    while at intensity 1 (61.8 % kept, 12.4) it would go to the edge; a 1e6 spike goes to
    the edge at both."""
    model, repair, mean, std = warmed
    x = batch()
    spike = land_at(x, mean, std, 0, 2, 20.0) + spiked(x, {(3, 7): -1e6})
    repair.apply_control(1.5, gentle=False)
    out = run(model, x, spike)
    weight = 1.5 / GOLDEN**2
    blended = (1 - weight) * (x + spike)[0, 2] + weight * mean[2]
    assert out[0, 2].item() == pytest.approx(blended.item(), rel=1e-5)
    assert out[3, 7].item() == pytest.approx((mean[7] - THRESHOLD * std[7]).item(), rel=1e-6)
    assert row(repair)["spikes"] == 1
    repair.collect(1)
    repair.apply_control(1.0, gentle=False)
    out = run(model, x, spike)
    assert out[0, 2].item() == pytest.approx((mean[2] + THRESHOLD * std[2]).item(), rel=1e-6)
    assert row(repair)["spikes"] == 2


def test_intensity_0_clips_outliers_to_the_band_and_full_replacement_has_no_spikes(warmed):
    model, repair, mean, std = warmed
    x = batch()
    spike = land_at(x, mean, std, 0, 0, 12.0) + spiked(x, {(2, 3): 1e6})
    repair.apply_control(0.0, gentle=False)  # no blend: the edge is all that is left
    out = run(model, x, spike)
    assert out[0, 0].item() == pytest.approx((mean[0] + THRESHOLD * std[0]).item(), rel=1e-6)
    assert out[2, 3].item() == pytest.approx((mean[3] + THRESHOLD * std[3]).item(), rel=1e-6)
    assert row(repair)["spikes"] == 2
    repair.collect(1)
    repair.apply_control(GOLDEN**2, gentle=False)  # weight 1: every outlier to the mean
    out = run(model, x, spike)
    assert out[0, 0] == mean[0] and out[2, 3] == mean[3]
    assert (row(repair)["outliers"], row(repair)["spikes"]) == (2, 0)


@pytest.mark.parametrize(
    ("intensity", "gentle"), [(0.0, False), (0.5, False), (1.0, False), (1.5, False),
                              (2.0, False), (1.0, True), (0.0, True)],
)  # fmt: skip
def test_no_repaired_value_is_left_beyond_the_threshold(warmed, intensity, gentle):
    """Outliers from 10.5 σ to 1e7: every repaired value matches the rule's oracle, and
    none is a fracture any more. (At full replacement, a negative outlier set to the mean
    can cross the identity floor and be scaled back: test_repair's identity-guard test.)"""
    model, repair, mean, std = warmed
    repair.apply_control(intensity, gentle=gentle)
    threshold = GENTLE_THRESHOLD if gentle else THRESHOLD
    weight = min(1.0, min(intensity, 1 / GOLDEN if gentle else math.inf) / GOLDEN**2)
    x = batch(rows=8)
    zs = [10.5, -13.0, 16.0, -17.0, 22.0, 40.0, -300.0, 5e6]
    spike = sum(land_at(x, mean, std, r, r, z) for r, z in enumerate(zs))
    out = run(model, x, spike)
    for r in range(8):
        value = (x + spike)[r, r].item()
        expected = expected_repair(value, mean[r].item(), std[r].item(), weight, threshold)
        assert out[r, r].item() == pytest.approx(expected, rel=1e-5, abs=1e-5), zs[r]
    z_out = (out - mean) / std
    assert z_out.abs().max().item() <= threshold * (1 + 1e-5)


def test_the_identity_guard_scales_back_the_blend_but_not_a_spike_beside_it(warmed):
    """A sample's identity is measured without its spikes (like its non-finite values): a
    floor that the blend of an ordinary outlier crosses scales that blend back onto the
    floor over the sample's other values, while the spike still goes to the edge."""
    model, repair, mean, std = warmed
    repair.identity_floor = 0.999  # so that one blended outlier crosses it
    x = batch()
    spike = land_at(x, mean, std, 1, 2, 14.0) + spiked(x, {(1, 6): 1e6})
    out = run(model, x, spike)
    others = torch.arange(FEATURES) != 6
    cos = nn.functional.cosine_similarity(out[1, others], (x + spike)[1, others], dim=0)
    assert cos.item() == pytest.approx(0.999, abs=1e-4)  # on the floor
    blended = (x + spike)[1, 2] / GOLDEN + mean[2] / GOLDEN**2
    assert blended < out[1, 2] < (x + spike)[1, 2]  # scaled back, still repaired
    assert out[1, 6].item() == pytest.approx((mean[6] + THRESHOLD * std[6]).item(), rel=1e-6)
    assert (row(repair)["guard_scaled"], row(repair)["spikes"]) == (1, 1)
    repair.collect(1)
    repair.identity_floor = 0.2  # the default: the same blend is not scaled back
    out = run(model, x, spike)
    assert out[1, 2].item() == pytest.approx(blended.item(), rel=1e-6)
    assert row(repair)["guard_scaled"] == 0


def test_a_spike_in_a_training_batch_does_not_poison_the_statistics():
    """Repaired values feed the running statistics: a 1e6 spike kept at 61.8 % moved the
    running mean by ≈ 0.05·6.2e5/256 ≈ 120; at the band's edge it moves it by < 0.1."""
    model, repair = warm_probe(None)
    before, _ = repair.running_stats("probe")
    model.train()
    x = torch.randn(256, FEATURES) * STD + MEAN
    spike = torch.zeros_like(x)
    spike[0, 0] = 1e6
    run(model, x, spike)
    after, var = repair.running_stats("probe")
    assert abs((after[0] - before[0]).item()) < 0.1
    assert var[0].sqrt().item() == pytest.approx(STD, rel=0.2)
    assert row(repair)["spikes"] == 1
    repair.remove()


def test_a_clean_training_run_repairs_nothing():
    """A small ReLU MLP trained on a clean regression task: no repairs, no spikes."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 1))  # fmt: skip
    repair = GoldenRepair(model, ["0", "2"])
    repair.apply_control(1.0, gentle=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    weights = torch.randn(8, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: a second thread only waits for a busy core
    try:
        for _ in range(300):
            x = torch.randn(32, 8)
            loss = nn.functional.mse_loss(model(x), x @ weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    summary = repair.summary()
    assert (summary["repairs"], summary["spikes"]) == (0, 0)
    assert loss.item() < 0.5
    repair.remove()


def test_spikes_reach_the_repair_event_and_the_log_summary(warmed, tmp_path):
    model, repair, _, _ = warmed
    repair.log = RepairLog(path=tmp_path / "repairs.jsonl")
    x = batch()
    run(model, x, spiked(x, {(0, 0): 1e6, (1, 1): -1e6, (2, 2): math.nan}))
    (event,) = repair.collect(step=3)
    assert (event.nonfinite, event.outliers, event.spikes) == (1, 2, 2)
    loaded = RepairLog.load(tmp_path / "repairs.jsonl")
    assert loaded.summary()["spikes"] == 2 and loaded.summary()["repairs"] == 3
    repair.log.close()
