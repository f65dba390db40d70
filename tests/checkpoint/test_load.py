"""Loading checkpoints: the layouts people save, and clear refusals of what is not one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from runtime.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.checkpoint._models import build


@pytest.fixture
def model() -> nn.Module:
    return build("cnn", 32, 0)


@pytest.mark.parametrize("key", [None, "state_dict", "model_state_dict", "model"])
def test_state_dict_found_plain_or_under_a_container_key(
    tmp_path: Path, model: nn.Module, key: str | None
) -> None:
    state = model.state_dict()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    raw = (
        state if key is None else {key: state, "optimizer_state_dict": opt.state_dict(), "epoch": 3}
    )
    path = tmp_path / "ckpt.pt"
    torch.save(raw, path)
    checkpoint = load_checkpoint(path)
    assert checkpoint.container_key == key
    assert list(checkpoint.tensors) == list(state)
    assert all(torch.equal(checkpoint.tensors[k], v) for k, v in state.items())
    assert checkpoint.numel == sum(v.numel() for v in state.values())


def test_nested_mappings_are_flattened_and_non_tensors_skipped(tmp_path: Path) -> None:
    raw = {
        "encoder": {"weight": torch.ones(4, 4), "bias": torch.zeros(4)},
        "head.weight": torch.ones(2, 4),
        "config": {"depth": 2},
        "name": "tiny",
    }
    path = tmp_path / "nested.pt"
    torch.save(raw, path)
    checkpoint = load_checkpoint(path)
    assert sorted(checkpoint.tensors) == ["encoder.bias", "encoder.weight", "head.weight"]
    assert sorted(checkpoint.skipped) == ["config", "name"]


def test_save_keeps_the_layout_and_other_entries(tmp_path: Path, model: nn.Module) -> None:
    state = model.state_dict()
    raw = {"model_state_dict": state, "epoch": 7, "note": "keep me"}
    source = tmp_path / "in.pt"
    torch.save(raw, source)
    checkpoint = load_checkpoint(source)
    new_weight = torch.full_like(state["0.weight"], 0.5)
    target = save_checkpoint(checkpoint, {"0.weight": new_weight}, tmp_path / "out.pt")
    reread = torch.load(target, map_location="cpu", weights_only=True)
    assert reread["epoch"] == 7 and reread["note"] == "keep me"
    assert torch.equal(reread["model_state_dict"]["0.weight"], new_weight)
    assert torch.equal(reread["model_state_dict"]["0.bias"], state["0.bias"])
    assert list(reread["model_state_dict"]) == list(state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pt", "out.pt"]  # no temp file


def test_pickled_module_is_refused_with_the_fix(tmp_path: Path, model: nn.Module) -> None:
    path = tmp_path / "whole_model.pt"
    torch.save(model, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "weights_only=True" in message
    assert "torch.save(model.state_dict()" in message
    assert "Sequential" in message  # names the class it found


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not a PyTorch checkpoint"),
        (b"hello, I am text\n", "not a PyTorch checkpoint"),
        (b"PK\x03\x04 truncated zip", "not a PyTorch checkpoint"),
    ],
)
def test_junk_is_not_a_checkpoint(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path)


def test_missing_file_and_tensorless_dict(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)
    path = tmp_path / "meta.pt"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    with pytest.raises(CheckpointError, match=r"found keys \['epoch', 'lr'\]"):
        load_checkpoint(path)
    torch.save([torch.ones(3)], path)
    with pytest.raises(CheckpointError, match="holds a list, not a state_dict"):
        load_checkpoint(path)
