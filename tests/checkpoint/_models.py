"""Real torch models for the checkpoint tests: builders, brief training, fault injection."""

from __future__ import annotations

import struct

import torch
from torch import nn

ARCHITECTURES = ("mlp", "cnn", "transformer", "embedding")


class TinyTransformer(nn.Module):
    """Token embedding (with a padding row) → 2 encoder layers → LayerNorm → linear head."""

    def __init__(self, d_model: int = 32, vocab: int = 200) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model, padding_idx=0)
        layer = nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 10)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.encoder(self.embed(tokens))).mean(dim=1))


def build(name: str, width: int, seed: int) -> nn.Module:
    """A freshly initialised model of one of ARCHITECTURES."""
    torch.manual_seed(seed)
    if name == "mlp":
        return nn.Sequential(
            nn.Linear(width, 4 * width),
            nn.GELU(),
            nn.Linear(4 * width, width),
            nn.LayerNorm(width),
            nn.Linear(width, 10),
        )
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(3, width // 4, 3, padding=1),
            nn.BatchNorm2d(width // 4),
            nn.ReLU(),
            nn.Conv2d(width // 4, width // 2, 3),
            nn.BatchNorm2d(width // 2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width // 2, 10),
        )
    if name == "transformer":
        return TinyTransformer(width)
    if name == "embedding":
        return nn.Sequential(nn.Embedding(50 * width, width, padding_idx=0), nn.Linear(width, 10))
    raise ValueError(name)


def batch(name: str, width: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable synthetic batch (inputs, class labels) for ``name``."""
    if name == "mlp":
        x = torch.randn(64, width, generator=generator)
        return x, x[:, :10].argmax(dim=1)
    if name == "cnn":
        x = torch.randn(32, 3, 12, 12, generator=generator)
        return x, (x[:, 0].mean(dim=(1, 2)) > 0).long() + 2 * (x[:, 1].mean(dim=(1, 2)) > 0).long()
    if name == "transformer":  # every token of a sequence comes from its class's 19 tokens
        labels = torch.randint(0, 10, (32,), generator=generator)
        offsets = torch.randint(1, 20, (32, 12), generator=generator)
        return 20 * labels[:, None] + offsets, labels
    tokens = torch.randint(1, 50 * width, (32,), generator=generator)
    return tokens, tokens % 10


def train_briefly(model: nn.Module, name: str, width: int, optimiser: str, steps: int) -> float:
    """Train with cross-entropy for ``steps``; returns the first-to-last loss drop ratio."""
    generator = torch.Generator().manual_seed(1234)
    if optimiser == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        x, y = batch(name, width, generator)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first = sum(losses[:10]) / 10
    last = sum(losses[-10:]) / 10
    return last / first


def flip_bit(value: float, bit: int) -> float:
    """``value`` as float32 with one bit of its IEEE-754 pattern flipped (a memory fault)."""
    (pattern,) = struct.unpack("<I", struct.pack("<f", value))
    (flipped,) = struct.unpack("<f", struct.pack("<I", pattern ^ (1 << bit)))
    return flipped
