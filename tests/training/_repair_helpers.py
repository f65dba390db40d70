"""Shared by the GoldenRepair tests: a probe module that injects fractures, and its inputs."""

from __future__ import annotations

import math

import torch
from torch import nn

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


def batch(rows: int = 4) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(rows, FEATURES) * STD + MEAN


def run(model: nn.Sequential, x: torch.Tensor, spike: torch.Tensor | None) -> torch.Tensor:
    model.probe.spike = spike
    try:
        return model(x)
    finally:
        model.probe.spike = None


def nan_spike(x: torch.Tensor) -> torch.Tensor:
    spike = torch.zeros_like(x)
    spike[0, 0] = math.nan
    return spike


def warm_probe(branchless: bool | None):  # -> (nn.Sequential, GoldenRepair)
    """A Probe with GoldenRepair whose statistics have converged on N(3, 2²) features, then
    frozen (eval mode), at intensity 1 with gentle mode off and the counters reset."""
    from runtime.training import GoldenRepair

    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("probe", Probe())
    repair = GoldenRepair(model, ["probe"], warmup_steps=5, momentum=0.05, branchless=branchless)
    model.train()
    for _ in range(200):
        model(torch.randn(256, FEATURES) * STD + MEAN)
    model.eval()  # freeze the statistics so expected values can be computed from them
    repair.apply_control(1.0, gentle=False)
    repair.collect(0)
    return model, repair


def land_at(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, row: int, col: int,
            z: float) -> torch.Tensor:  # fmt: skip
    """A spike tensor that moves ``x[row, col]`` to ``mean + z·std`` of its feature."""
    spike = torch.zeros_like(x)
    spike[row, col] = mean[col] + z * std[col] - x[row, col]
    return spike


def expected_repair(
    value: float, mean: float, std: float, weight: float, threshold: float
) -> float:
    """The oracle of the spike rule, in float64: a value within the threshold is kept; an
    outlier is blended with the target's share ``weight``, unless the blend would still lie
    beyond the threshold, in which case it goes to the band's edge ``mean ± threshold·std``."""
    z = (value - mean) / std
    if abs(z) <= threshold:
        return value
    if abs(z) * (1 - weight) > threshold:
        return mean + math.copysign(threshold, z) * std
    return (1 - weight) * value + weight * mean
