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
