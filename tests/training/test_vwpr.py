"""VWPR: value weights move with local loss, stay positive and clamped; the model stream is
plain SGD/Adam when the value stream is off (torch's own optimisers are the oracle)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from runtime.errors import ConfigError
from runtime.training import VWPR


def regression(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    x = torch.randn(64, 6)
    y = torch.randn(64, 3)
    return model, x, y


def train(model: nn.Module, opt: torch.optim.Optimizer, x, y, steps: int) -> None:
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize(
    ("base", "oracle"),
    [
        ("sgd", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        ("adam", lambda p: torch.optim.Adam(p, lr=0.01)),
    ],
)
def test_with_the_value_stream_off_the_model_stream_is_the_base_optimiser(base, oracle):
    model, x, y = regression()
    twin = copy.deepcopy(model)
    lr = 0.05 if base == "sgd" else 0.01
    train(model, VWPR(model.parameters(), lr=lr, base=base, value_lr=0.0, l1=0.0), x, y, 20)
    train(twin, oracle(twin.parameters()), x, y, 20)
    for mine, theirs in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_value_weights_reinforce_the_pathway_with_the_largest_local_loss():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    opt = VWPR(layer.parameters(), lr=1e-3, base="sgd", value_lr=0.1, l1=0.0)
    scale = torch.tensor([10.0, 1.0, 1.0])  # output unit 0 carries 10× the error signal
    for _ in range(20):
        opt.zero_grad()
        (layer(torch.randn(32, 4)) * scale).pow(2).mean().backward()
        opt.step()
    weight_values = opt.value_weights()["param0"]
    assert weight_values.shape == (3,)
    assert weight_values[0] > 1.0 > weight_values[1] and weight_values[0] > weight_values[2]


def test_value_weights_stay_positive_and_inside_the_clamp():
    model, x, y = regression()
    opt = VWPR(model.parameters(), lr=1e-3, value_lr=5.0, value_min=0.5, value_max=2.0)
    for step in range(30):
        opt.zero_grad()
        ((model(x) * torch.linspace(0.1, 30, 3)) - y).pow(2).mean().backward()
        opt.step()
        for values in opt.value_weights().values():
            assert (values >= 0.5).all() and (values <= 2.0).all(), f"step {step}"
    flat = torch.cat([v for v in opt.value_weights().values()])
    assert flat.min() == 0.5 and flat.max() == 2.0  # a large β drives them to the clamps


def test_intensity_scales_beta_and_gentle_caps_it():
    def rho_change(intensity: float, gentle: bool) -> torch.Tensor:
        torch.manual_seed(0)
        layer = nn.Linear(4, 3)
        opt = VWPR(layer.parameters(), lr=1e-3, base="sgd", value_lr=0.1, l1=0.0)
        opt.apply_control(intensity, gentle)
        before = torch.full((3,), math.log(math.e - 1))  # softplus⁻¹(1): neutral start
        opt.zero_grad()
        (layer(torch.randn(8, 4)) * torch.tensor([3.0, 1.0, 0.5])).pow(2).mean().backward()
        opt.step()
        return opt.state[layer.weight]["rho"] - before

    base = rho_change(1.0, gentle=False)
    assert base.abs().max() > 0
    assert torch.allclose(rho_change(2.0, gentle=False), 2 * base, rtol=1e-5)
    golden_cap = 2 / (1 + math.sqrt(5))
    assert torch.allclose(rho_change(2.0, gentle=True), golden_cap * base, rtol=1e-5)
    assert torch.equal(rho_change(0.0, gentle=False), torch.zeros(3))


@pytest.mark.parametrize(("sent", "applied"), [(math.nan, 1.0), (math.inf, 1.0), (-2.0, 0.0)])
def test_an_intensity_that_is_not_finite_or_is_negative_is_refused(sent, applied):
    opt = VWPR(nn.Linear(4, 3).parameters(), lr=1e-3)
    opt.apply_control(sent, gentle=False)
    assert opt.intensity == applied
    opt.apply_control(sent, gentle=True)
    assert opt.intensity == min(applied, 2 / (1 + math.sqrt(5)))


def test_l1_pulls_value_weights_back_to_neutral():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    opt = VWPR(layer.parameters(), lr=1e-3, base="sgd", value_lr=0.2, l1=0.05)
    scale = torch.tensor([5.0, 1.0, 1.0])
    for _ in range(10):
        opt.zero_grad()
        (layer(torch.randn(16, 4)) * scale).pow(2).mean().backward()
        opt.step()
    spread = opt.value_weights()["param0"].std()
    opt.apply_control(0.0, gentle=False)  # value stream off: only the L1 pull acts
    for _ in range(200):
        opt.zero_grad()
        (layer(torch.randn(16, 4)) * scale).pow(2).mean().backward()
        opt.step()
    assert opt.value_weights()["param0"].std() < 0.5 * spread


def test_layer_granularity_gives_one_weight_per_tensor_with_mean_one():
    model, x, y = regression()
    opt = VWPR(model.named_parameters(), lr=1e-3, value_lr=0.5, granularity="layer")
    train(model, opt, x, y, 5)
    weights = opt.value_weights()
    assert set(weights) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert all(w.numel() == 1 for w in weights.values())
    values = torch.cat(list(weights.values()))
    assert values.mean().item() == pytest.approx(1.0, abs=1e-5)
    assert values.std() > 0


def test_history_is_bounded_and_plotted(tmp_path):
    model, x, y = regression()
    opt = VWPR(model.named_parameters(), lr=1e-3, value_lr=0.3, history_every=2, history_len=3)
    train(model, opt, x, y, 10)
    assert [h["step"] for h in opt.history] == [6, 8, 10]
    assert set(opt.history[-1]["value_weights"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert opt.plot_value_weights(tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"
    summary = opt.value_summary()
    assert summary["min"] <= summary["mean"] <= summary["max"]
    assert summary["weighted_loss"] > 0 and summary["steps"] == 10


def test_state_dict_round_trip_keeps_value_weights():
    model, x, y = regression()
    opt = VWPR(model.parameters(), lr=1e-3, value_lr=0.3)
    train(model, opt, x, y, 3)
    clone = VWPR(model.parameters(), lr=1e-3, value_lr=0.3)
    clone.load_state_dict(opt.state_dict())
    for a, b in zip(opt.value_weights().values(), clone.value_weights().values(), strict=True):
        assert torch.equal(a, b)


def test_bad_arguments_are_config_errors():
    params = nn.Linear(2, 2).parameters()
    with pytest.raises(ConfigError, match="'base'.*'rmsprop'"):
        VWPR(params, base="rmsprop")
    with pytest.raises(ConfigError, match="'value_max'"):
        VWPR(nn.Linear(2, 2).parameters(), value_min=2.0, value_max=1.0)
