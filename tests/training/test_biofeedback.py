"""Biofeedback: control applied at step boundaries, model.status published via report()."""

from __future__ import annotations

import json
import logging
import math
import time

import pytest
import torch
from torch import nn

from runtime.bus import BusPublisher, BusSubscriber
from runtime.client import ControlClient
from runtime.errors import ConfigError
from runtime.messages import ModelStatus
from runtime.training import VWPR, Biofeedback, GoldenRepair, RepairLog
from tests.training._sources import CountingSource, ScriptedSource, make_control


def small_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor | None = None):
    x = torch.randn(16, 8) if x is None else x
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


def test_control_changes_only_at_step_boundaries():
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    source = CountingSource()  # the k-th current() returns seq k, intensity 1 + 0.1·k
    seen = []  # the intensity in force during each forward
    with Biofeedback(model, source, status_every=1000) as bf:
        model.register_forward_pre_hook(lambda m, i: seen.append(bf.repair.intensity))
        for _ in range(5):
            train_step(model, opt)
            model(torch.randn(2, 8))  # a second forward in the same step sees the same control
            bf.step()
    assert source.calls == 1 + 5  # once at start, once per step()
    expected = [1.0 + 0.1 * k for k in range(5)]
    assert seen == pytest.approx([v for v in expected for _ in (0, 1)])
    assert bf.control.seq == 5 and bf.applied_step == 5


def test_status_is_published_every_n_steps_with_control_and_repairs():
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    controls = [make_control(0, 1.0), make_control(1, 1.5), make_control(2, 0.8, gentle=True)]
    source = ScriptedSource(controls)
    log = RepairLog()
    with Biofeedback(model, source, status_every=4, repair_log=log) as bf:
        for step in range(1, 13):
            train_step(model, opt)
            if step == 6:  # a validation batch with one poisoned sample
                x = torch.randn(4, 8)
                x[3, 2] = math.nan
                with torch.no_grad():
                    assert torch.isfinite(model(x)).all()
            bf.step()
    assert all(isinstance(r, ModelStatus) for r in source.reports)
    assert [r.step for r in source.reports] == [4, 8, 12, 12]  # the last one at close
    for report in source.reports:  # it goes on the bus: JSON, and valid as a reader sees it
        json.dumps(report.to_dict(), allow_nan=False)
        assert ModelStatus.from_dict(report.to_dict()) == report
    first, second = source.reports[0], source.reports[1]
    assert first.control.seq == 2 and first.control.gentle is True
    assert first.control.intensity == 0.8 and first.control.rule == "test:2"
    assert first.applied_step == 2
    assert first.applied_at <= first.published_at
    assert first.control.source_time == controls[2].source_time
    assert first.control.sample_time == controls[2].sample_time
    assert (first.rank, first.world_size) == (0, 1)
    assert first.repairs.total == 0
    # All 16 outputs of the first layer for that sample; the second layer sees them repaired.
    assert second.repairs.nonfinite == 16
    assert second.repairs.per_module == {"0": 16, "2": 0}
    assert second.guard.identity_floor == 0.2
    assert second.value_weights is None  # no VWPR attached
    assert [(e.step, e.module, e.nonfinite) for e in log] == [(8, "0", 16)]


def test_vwpr_and_user_hooks_follow_the_control():
    model = small_model()
    opt = VWPR(model.parameters(), lr=0.01, value_lr=0.1)
    source = ScriptedSource([make_control(0, 2.0), make_control(1, 0.5)])
    lrs = []
    with Biofeedback(model, source, optimizer=opt, status_every=1) as bf:
        bf.add_hook(lambda c: lrs.append(0.01 * c.intensity))
        assert opt.intensity == 2.0
        train_step(model, opt)
        bf.step()
        assert opt.intensity == 0.5
        train_step(model, opt)
        bf.step()  # unchanged control: hooks are not called again
    assert lrs == [0.02, 0.005]
    assert source.reports[-1].value_weights["steps"] == 2


def test_a_failing_client_falls_back_to_safe_and_training_goes_on(caplog):
    class BrokenSource:
        def current(self):
            raise ConnectionError("bus down")

        def report(self, status):
            raise ConnectionError("bus down")

    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with (
        caplog.at_level(logging.WARNING, logger="runtime.training"),
        Biofeedback(model, BrokenSource(), status_every=2) as bf,
    ):
        for _ in range(3):
            train_step(model, opt)
            bf.step()
    assert bf.control.safe and bf.control.rule == "safe:client-error"
    assert bf.repair.gentle is True
    assert "bus down" in caplog.text


def test_no_client_means_the_safe_state():
    model = small_model()
    with Biofeedback(model, None) as bf:
        bf.step()
    assert bf.control.safe and bf.control.gentle and bf.control.intensity == 1.0


def test_an_owned_repair_is_removed_on_exit_and_a_given_one_kept():
    model = small_model()
    with Biofeedback(model, None) as bf:
        owned = bf.repair
        assert owned is not None and owned.attached and "forward" in model[0].__dict__
    assert not owned.attached and "forward" not in model[0].__dict__
    repair = GoldenRepair(model)
    with Biofeedback(model, None, repair=repair) as bf:
        assert bf.repair is repair
    assert repair.attached and "forward" in model[0].__dict__
    repair.remove()


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="'client'"):
        Biofeedback(small_model(), object())
    with pytest.raises(ConfigError, match="'status_every'.*0"):
        Biofeedback(small_model(), None, status_every=0)
    with pytest.raises(ConfigError, match="'optimizer'"):
        Biofeedback(small_model(), None, optimizer=torch.optim.SGD(small_model().parameters(), 1))


def test_a_status_before_the_first_forward_can_go_on_the_bus():
    """Before any forward the entropy limit is unknown (it depends on the activation size);
    the status says None rather than inf, which JSON, and so the bus, cannot carry."""
    model = small_model()
    with Biofeedback(model, None) as bf:
        status = bf.status()
    assert isinstance(status, ModelStatus)
    json.dumps(status.to_dict(), allow_nan=False)
    assert status.guard.entropy_margin_bits is None


def test_without_repair_the_status_has_no_repairs_or_guard():
    with Biofeedback(None, ScriptedSource([make_control(3, 1.2)]), repair=False) as bf:
        bf.step()
        status = bf.status()
    assert status.repairs is None and status.guard is None and status.value_weights is None
    assert status.step == 1 and status.control.seq == 3 and status.control.intensity == 1.2
    assert "repairs" in status.to_dict() and status.to_dict()["repairs"] is None


def test_status_reaches_the_bus_as_a_model_status_through_a_real_client(broker):
    """Biofeedback → ControlClient.report() → broker → a subscriber reads a ModelStatus
    with the step and the control the job applied."""
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sent = make_control(9, 1.25)
    try:
        with ControlClient(
            broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint
        ) as client:
            end = time.monotonic() + 5
            while client.current().seq != 9 and time.monotonic() < end:
                publisher.publish("control", sent)
                time.sleep(0.05)
            assert client.current().seq == 9, "the control did not reach the client"
            got = None
            with Biofeedback(model, client, status_every=1) as bf:
                end = time.monotonic() + 5
                while got is None and time.monotonic() < end:
                    train_step(model, opt)
                    bf.step()
                    got = subscriber.recv(timeout_s=0.05)
            assert got is not None, "no model.status on the bus"
            status = got.data
            assert isinstance(status, ModelStatus) and status.step >= 1
            assert status.control.seq == 9 and status.control.intensity == 1.25
            assert status.control.sample_time == sent.sample_time
            assert status.applied_at is not None and status.applied_at >= sent.issued_at
            assert status.repairs is not None and status.guard is not None
            assert client.reports_rejected == 0
    finally:
        publisher.close()
        subscriber.close()


def test_model_status_counts_spikes_apart_from_ordinary_outliers():
    """model.status carries the spike rule's count (a subset of outliers): one 1e6 value
    is one outlier and one spike; a clean batch is neither."""
    from tests.training._repair_helpers import batch, run, warm_probe

    model, repair = warm_probe(None)
    source = ScriptedSource([make_control(0, 1.0)])
    with Biofeedback(model, source, repair=repair, status_every=1000) as bf:
        x = batch()
        run(model, x, None)
        clean = bf.status().repairs
        spike = torch.zeros_like(x)
        spike[1, 3] = 1e6 - x[1, 3]
        run(model, x, spike)
        spiked = bf.status().repairs
    assert (clean.outliers, clean.spikes) == (0, 0)
    assert (spiked.outliers, spiked.spikes, spiked.nonfinite) == (1, 1, 0)
    assert ModelStatus.from_dict(bf.status().to_dict()).repairs.spikes == 0  # counters reset
    repair.remove()


def test_model_status_says_when_the_client_received_the_applied_control():
    """AppliedControl.received_at comes from a source that knows (ControlClient's
    received_time); a source that does not say leaves it None."""

    class Remembering(ScriptedSource):
        def received_time(self, seq: int) -> float | None:
            return 1000.0 + seq

    model = small_model()
    with Biofeedback(model, Remembering([make_control(3, 1.2)]), repair=False) as bf:
        assert bf.status().control.received_at == 1003.0
    with Biofeedback(model, ScriptedSource([make_control(3, 1.2)]), repair=False) as bf:
        assert bf.status().control.received_at is None
