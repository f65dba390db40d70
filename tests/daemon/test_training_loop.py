"""The whole loop: a real daemon process on the synthetic board steers a real torch model."""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")

from runtime.client import ControlClient  # noqa: E402
from runtime.training import Biofeedback, GoldenRepair  # noqa: E402
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
        # What the job applied is what the control said (steady sines: attention stays
        # near rest, so the policy holds at the baseline intensity).
        assert (trainer.repair.intensity, trainer.repair.gentle) == (live.intensity, live.gentle)
        if live.rule.startswith("hold:"):
            assert live.intensity == pytest.approx(1.0) and live.gentle is False

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


# A session written for this test: 60 s of rest to calibrate, a focus block, then strong
# stress. Replayed ×6 through BrainFlow's playback board by a real daemon process.
LOOP_SCENARIO = """
duration_s = 230.0
seed = 3
calibration_s = 60.0
attention = [[0, 0.5], [66, 0.5], [70, 0.95], [135, 0.95], [140, 0.45], [230, 0.45]]
stress = [[0, 0.15], [135, 0.15], [140, 0.95], [230, 0.95]]
"""
LOOP_CONFIG = """
[bus]
publish_endpoint = "{pub}"
subscribe_endpoint = "{sub}"

[source]
board = "playback"
master_board = "synthetic"
scenario = "{scenario}"
speed = 6.0

[features.eeg]
baseline_s = 60.0

[features.heart]
baseline_s = 60.0
"""


def test_a_training_job_applies_intensity_1_5_in_focus_and_gentle_mode_under_stress(tmp_path):
    """The rules end to end, as the training job sees them: after calibration the job's
    GoldenRepair runs at intensity 1.5 (intensify: attention > 0.8, stress < 0.3) during
    the focus block, never above the baseline before it, and in gentle mode under stress."""
    scenario = tmp_path / "loop.toml"
    scenario.write_text(LOOP_SCENARIO)
    _, pub, sub = write_config(tmp_path)
    config = tmp_path / "loop_daemon.toml"
    config.write_text(LOOP_CONFIG.format(pub=pub, sub=sub, scenario=scenario))
    daemon = DaemonProcess(config)
    client = ControlClient(sub, publish_endpoint=pub)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    applied: list[tuple[str, float, bool, float, bool]] = []
    try:
        with Biofeedback(model, client) as feedback:
            end = time.monotonic() + 60.0
            while time.monotonic() < end:
                control = feedback.step()
                x = torch.randn(32, 16)
                loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                repair = feedback.repair
                assert repair is not None
                applied.append(
                    (control.rule, control.intensity, control.gentle, repair.intensity,
                     repair.gentle)
                )
                if control.rule.startswith("gentle:") and any(
                    a[0].startswith("intensify:") for a in applied
                ):
                    break
                time.sleep(0.01)
    finally:
        client.close()
        daemon.stop()
    rules = [a[0] for a in applied]
    first = next((i for i, r in enumerate(rules) if r.startswith("intensify:")), None)
    assert first is not None, f"never intensified: {sorted(set(r.split(':')[0] for r in rules))}"
    assert any(r.startswith("safe:") and "calibrating" in r for r in rules[:first])
    intensify = [a for a in applied if a[0].startswith("intensify:")]
    # The job's repair applies what the control says: 1.5 at the top, not gentle.
    assert max(a[3] for a in intensify) == pytest.approx(1.5)
    assert all(a[3] == a[1] and a[4] is False for a in intensify)
    # Before the focus block the intensity never leaves the baseline; it never passes 1.5
    # (after intensify it comes back down at the rate limit).
    assert all(a[3] <= 1.0 + 1e-9 for a in applied[:first])
    assert max(a[3] for a in applied) <= 1.5 + 1e-9
    gentle = [a for a in applied if a[0].startswith("gentle:")]
    assert gentle and all(a[2] is True and a[4] is True for a in gentle)
    assert rules.index(gentle[0][0]) > first  # gentle came after the focus block
