"""Fracture scan: injected faults of every kind are found where they were put; clean
models (fresh and briefly trained, several architectures, sizes and seeds) report none."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from runtime.checkpoint import ScanConfig, scan_tensors
from runtime.errors import ConfigError
from tests.checkpoint._models import ARCHITECTURES, build, flip_bit, train_briefly


def _clone(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _found(scan, kind: str) -> set[tuple[str, tuple[int, ...] | None]]:
    return {(f.tensor, f.index) for f in scan.fractures if f.kind == kind}


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("width", [16, 64, 256])
@pytest.mark.parametrize("seed", [0, 1])
def test_fresh_models_report_no_fractures(name: str, width: int, seed: int) -> None:
    scan = scan_tensors(build(name, width, seed).state_dict())
    assert scan.count == 0, [f.to_dict() for f in scan.fractures]
    assert scan.clean


@pytest.mark.parametrize("name", ["mlp", "cnn", "transformer"])
@pytest.mark.parametrize("optimiser", ["adam", "sgd"])
def test_briefly_trained_models_report_no_fractures(name: str, optimiser: str) -> None:
    model = build(name, 64, seed=0)
    torch.manual_seed(0)
    loss_ratio = train_briefly(model, name, 64, optimiser, steps=60)
    assert loss_ratio < 0.97, "the model did not train, so this would test nothing"
    scan = scan_tensors(model.state_dict())
    assert scan.count == 0, [f.to_dict() for f in scan.fractures]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "cnn", "transformer"])
@pytest.mark.parametrize("optimiser", ["adam", "sgd"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trained_models_larger_and_longer_report_no_fractures(
    name: str, optimiser: str, seed: int
) -> None:
    model = build(name, 256, seed)
    train_briefly(model, name, 256, optimiser, steps=300)
    assert scan_tensors(model.state_dict()).count == 0


def test_nonfinite_values_found_at_their_index() -> None:
    state = _clone(build("cnn", 32, 0))
    state["0.weight"][2, 1, 0, 2] = float("nan")
    state["3.weight"][5, 0, 1, 1] = float("inf")
    state["8.bias"][7] = -float("inf")
    scan = scan_tensors(state)
    assert _found(scan, "nonfinite") == {
        ("0.weight", (2, 1, 0, 2)),
        ("3.weight", (5, 0, 1, 1)),
        ("8.bias", (7,)),
    }
    values = {f.index: f.value for f in scan.fractures if f.kind == "nonfinite"}
    assert math.isnan(values[(2, 1, 0, 2)])
    assert values[(5, 0, 1, 1)] == math.inf
    assert values[(7,)] == -math.inf
    assert scan.count == 3


def _oracle_scale(state: dict[str, torch.Tensor], name: str) -> tuple[float, float]:
    """Centre and scale by the documented rule, from numpy: median, and the larger of the
    tensor's 1.4826·MAD and the median of that over the model's tensors (16+ elements)."""

    def spread(values: np.ndarray) -> float:
        return 1.4826 * float(np.median(np.abs(values - np.median(values))))

    arrays = {k: v.double().numpy().ravel() for k, v in state.items()}
    model = np.median([spread(a) for a in arrays.values() if a.size >= 16 and spread(a) > 0])
    values = arrays[name]
    return float(np.median(values)), max(spread(values), float(model))


@pytest.mark.parametrize(
    ("tensor", "index"), [("2.weight", (11, 100)), ("0.weight", (200, 3)), ("0.bias", (17,))]
)
def test_exponent_bit_flip_is_an_outlier(tensor: str, index: tuple[int, ...]) -> None:
    """Flipping the top exponent bit of a weight below 2 multiplies it by 2**128."""
    state = _clone(build("mlp", 64, 0))
    weight = state[tensor]
    weight[index] = flip_bit(float(weight[index]), 30)
    assert 1e30 < abs(float(weight[index])) < 3.5e38
    scan = scan_tensors(state)
    hits = [f for f in scan.fractures if f.kind == "outlier"]
    assert [(f.tensor, f.index) for f in hits] == [(tensor, index)]
    assert scan.count == 1
    centre, scale = _oracle_scale(state, tensor)
    assert hits[0].score == pytest.approx(abs(float(weight[index]) - centre) / scale, rel=1e-6)


def test_a_corrupted_value_is_an_outlier_with_the_documented_score() -> None:
    state = _clone(build("cnn", 64, 1))
    state["3.weight"][4, 2, 1, 0] = 7.5
    scan = scan_tensors(state)
    (hit,) = scan.fractures
    assert (hit.kind, hit.tensor, hit.index, hit.value) == (
        "outlier",
        "3.weight",
        (4, 2, 1, 0),
        7.5,
    )
    centre, scale = _oracle_scale(state, "3.weight")
    assert hit.score == pytest.approx(abs(7.5 - centre) / scale, rel=1e-6)


def test_outlier_threshold_is_respected() -> None:
    state = _clone(build("mlp", 64, 0))
    centre, scale = _oracle_scale(state, "0.weight")
    state["0.weight"][0, 0] = centre + 40 * scale  # z = 40: under the default 50, over 30
    assert scan_tensors(state).count == 0
    below = scan_tensors(state, ScanConfig(threshold=30))
    assert _found(below, "outlier") == {("0.weight", (0, 0))}


def test_constant_tensors_do_not_false_alarm_but_a_departure_is_found() -> None:
    """LayerNorm weight = 1 and zero biases have MAD 0; a gross departure is still found."""
    state = _clone(build("transformer", 32, 0))
    assert float(state["norm.weight"].std()) == 0.0  # really constant when fresh
    assert scan_tensors(state).count == 0
    state["norm.weight"][9] = 40.0
    state["encoder.layers.0.norm1.bias"][3] = -25.0
    scan = scan_tensors(state)
    assert _found(scan, "outlier") == {
        ("norm.weight", (9,)),
        ("encoder.layers.0.norm1.bias", (3,)),
    }


def test_small_scalar_pruned_and_mask_tensors_do_not_false_alarm() -> None:
    generator = torch.Generator().manual_seed(0)
    pruned = torch.randn(64, 64, generator=generator) * 0.05
    pruned[torch.rand(64, 64, generator=generator) < 0.6] = 0.0  # 60 % pruned: MAD = 0
    state = {
        "logit_scale": torch.tensor(4.6052),  # CLIP's log(100): a 0-d parameter
        "temperature": torch.tensor([14.3]),
        "tiny.bias": torch.tensor([0.3, -0.2, 0.05, 0.1]),
        "pruned.weight": pruned,
        "pruned.weight_mask": (pruned != 0).float(),
        "lora_B.weight": torch.zeros(64, 8),  # zero-initialised by design
        "layer.weight": torch.randn(64, 64, generator=generator) * 0.05,
        "layer2.weight": torch.randn(64, 64, generator=generator) * 0.05,
        "step": torch.tensor(1000),
    }
    scan = scan_tensors(state)
    assert scan.count == 0, [f.to_dict() for f in scan.fractures]
    assert scan.skipped_non_float == ["step"]


def test_exploding_and_vanishing_norms_name_the_tensor() -> None:
    state = _clone(build("mlp", 64, 0))
    state["2.weight"] *= 1e5
    state["4.weight"] *= 1e-5
    scan = scan_tensors(state)
    assert _found(scan, "exploding_norm") == {("2.weight", None)}
    assert _found(scan, "vanishing_norm") == {("4.weight", None)}
    assert scan.count == 2
    by_tensor = {f.tensor: f for f in scan.fractures}
    # score: decades from the typical RMS of the other "weight" tensors (median of peers).
    rms = {k: float(v.double().pow(2).mean().sqrt()) for k, v in state.items()}
    typical = np.median([math.log10(rms[k]) for k in state if k.endswith("weight")])
    assert by_tensor["2.weight"].score == pytest.approx(math.log10(rms["2.weight"]) - typical)
    assert by_tensor["2.weight"].value == pytest.approx(rms["2.weight"], rel=1e-6)


def test_one_huge_weight_is_an_outlier_not_an_exploding_norm() -> None:
    state = _clone(build("mlp", 64, 0))
    state["0.weight"][3, 3] = 3e38
    scan = scan_tensors(state)
    assert {f.kind for f in scan.fractures} == {"outlier"}


def test_dead_units_found_by_row() -> None:
    state = _clone(build("cnn", 64, 0))
    state["3.weight"][7] = 0.0  # one output channel of a conv
    state["8.weight"][2] = 1e-9  # near zero, not exactly
    scan = scan_tensors(state)
    assert _found(scan, "dead_unit") == {("3.weight", (7,)), ("8.weight", (2,))}
    assert scan.count == 2


def test_embedding_padding_row_is_not_dead_but_a_second_zero_row_is() -> None:
    state = _clone(build("embedding", 32, 0))
    assert float(state["0.weight"][0].abs().max()) == 0.0  # nn.Embedding(padding_idx=0)
    assert scan_tensors(state).count == 0
    state["0.weight"][17] = 0.0
    assert _found(scan_tensors(state), "dead_unit") == {("0.weight", (0,)), ("0.weight", (17,))}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_half_precision_and_double_tensors(dtype: torch.dtype) -> None:
    state = {k: v.to(dtype) for k, v in _clone(build("mlp", 32, 0)).items()}
    assert scan_tensors(state).count == 0
    state["0.weight"][1, 2] = float("nan")
    state["2.weight"][4, 5] = 1000.0
    scan = scan_tensors(state)
    assert _found(scan, "nonfinite") == {("0.weight", (1, 2))}
    assert _found(scan, "outlier") == {("2.weight", (4, 5))}


def test_list_is_capped_per_tensor_but_everything_is_counted() -> None:
    state = _clone(build("mlp", 64, 0))
    flat = state["0.weight"].view(-1)
    flat[torch.arange(0, 1000 * 7, 7)] = float("nan")
    scan = scan_tensors(state, ScanConfig(max_per_tensor=5))
    listed = [f for f in scan.fractures if f.kind == "nonfinite"]
    assert len(listed) == 5
    assert [f.index for f in listed][:2] == [(0, 0), (0, 7)]  # the first ones, in order
    assert scan.count == 1000
    assert scan.omitted == [
        {"tensor": "0.weight", "kind": "nonfinite", "count": 1000, "reported": 5}
    ]
    assert [f.id for f in scan.fractures] == list(range(1, len(scan.fractures) + 1))


def test_scan_document_schema() -> None:
    state = _clone(build("mlp", 32, 0))
    state["0.weight"][0, 1] = float("inf")
    document = scan_tensors(state).to_dict()
    assert {"count", "reported", "fractures", "omitted", "threshold", "tensors"} <= set(document)
    assert document["count"] == 1
    (fracture,) = document["fractures"]
    assert set(fracture) == {"id", "tensor", "kind", "index", "value", "score"}
    assert fracture == {
        "id": 1,
        "tensor": "0.weight",
        "kind": "nonfinite",
        "index": [0, 1],
        "value": "inf",
        "score": None,
    }


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 0}, {"threshold": float("nan")}, {"norm_decades": -1}, {"max_per_tensor": 0}],
)
def test_bad_settings_are_refused_by_name(kwargs: dict) -> None:
    (name,) = kwargs
    with pytest.raises(ConfigError, match=name):
        ScanConfig(**kwargs)
