"""BiofeedbackCallback drives a real Lightning Trainer (skipped without the optional extra)."""

from __future__ import annotations

import logging

import pytest
import torch

pl = pytest.importorskip("lightning.pytorch")

from runtime.training import VWPR, BiofeedbackCallback  # noqa: E402
from tests.training._sources import CountingSource  # noqa: E402


class TinyModule(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)
        )
        self.intensities: list[float] = []

    def training_step(self, batch, batch_idx):
        self.intensities.append(self.trainer.optimizers[0].intensity)
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return VWPR(self.parameters(), lr=1e-2, value_lr=0.1)


# Lightning's advice on workers and logging, and its use of a torch pytree API that torch
# 2.13 deprecates: third-party warnings about Lightning's own code, not ours.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")
def test_callback_applies_control_each_step_and_reports():
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(64, 8), torch.randn(64, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    source = CountingSource()  # intensity 1 + 0.1·k on the k-th read
    module = TinyModule()
    trainer = pl.Trainer(
        max_steps=6,
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=[BiofeedbackCallback(source, status_every=3)],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    trainer.fit(module, loader)
    assert source.calls == 1 + 6
    assert module.intensities == pytest.approx([1.0 + 0.1 * k for k in range(6)])
    assert [r.step for r in source.reports] == [3, 6, 6]
    assert source.reports[0].value_weights is not None  # the trainer's VWPR was driven
    assert "forward" not in module.net[0].__dict__  # the callback's GoldenRepair was removed
