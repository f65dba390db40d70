"""The whole loop: a real daemon process on the synthetic board steers a real torch model."""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")

from runtime.client import ControlClient  # noqa: E402
from runtime.training import GoldenRepair  # noqa: E402
from tests.daemon._helpers import DaemonProcess, write_config  # noqa: E402


class _Trainer:
    """A small real training loop that applies the latest control at every step."""

    def __init__(self, client: ControlClient) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
        )
        self.repair = GoldenRepair(self.model, warmup_steps=2)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)
        self.client = client
        self.steps = 0
        self.applied = []

    def step(self) -> None:
        control = self.client.current()
        self.repair.apply_control(control.intensity, control.gentle)
        x = torch.randn(32, 16)
        loss = ((self.model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        assert torch.isfinite(loss)
        self.steps += 1
        self.applied.append(control)

    def train_until(self, predicate, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.step()
            if predicate(self.applied[-1]):
                return True
            time.sleep(0.01)
        return False


def test_training_receives_control_survives_a_daemon_crash_and_resumes(tmp_path):
    config, pub, sub = write_config(tmp_path)
    daemon = DaemonProcess(config)
    client = ControlClient(sub, publish_endpoint=pub)
    trainer = _Trainer(client)
    try:
        # Valid control from the daemon within seconds, then the policy's own (non-safe) state.
        assert trainer.train_until(lambda c: c.seq >= 0, 10), "no control from the daemon"
        assert trainer.train_until(lambda c: not c.safe, 20), (
            f"control never left the safe state: last rule {trainer.applied[-1].rule!r}"
        )
        live = trainer.applied[-1]
        assert live.ttl_s == 1.0 and live.rule and live.sample_time is not None

        daemon.kill()
        killed_at = time.monotonic()
        assert trainer.train_until(lambda c: c.rule == "safe:control-expired", 5)
        fallback_s = time.monotonic() - killed_at
        assert fallback_s <= live.ttl_s + 0.5, f"safe state after {fallback_s:.2f} s"
        steps_at_fallback = trainer.steps
        trainer.train_until(lambda c: False, 0.5)
        assert trainer.steps > steps_at_fallback, "training stopped after the daemon died"

        daemon = DaemonProcess(config)
        assert trainer.train_until(lambda c: client.is_live(), 15), "control did not resume"
    finally:
        client.close()
        daemon.stop()
