"""GoldenRepair: attaching to and removing from a model, copies and saves, bad arguments."""

from __future__ import annotations

import copy
import io
import logging

import pytest
import torch
from torch import nn

from runtime.errors import ConfigError
from runtime.training import GoldenRepair
from tests.training._repair_helpers import FEATURES, MEAN, STD, Probe, batch, nan_spike


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
