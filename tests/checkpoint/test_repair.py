"""Golden repair: the blend is the documented formula, passes converge, one fracture can be
repaired alone, the input is never touched, and the repaired model runs finite."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import runtime.checkpoint._repair as repair_module
from runtime.checkpoint import (
    KEEP,
    CheckpointError,
    ModelCheck,
    golden_repair,
    repair_tensors,
    scan_tensors,
)
from runtime.checkpoint._repair import DEFAULT_MAX_PASSES
from runtime.cli import _checkpoint as cli_checkpoint
from runtime.errors import ConfigError
from tests.checkpoint._models import build, flip_bit

MODEL_FILE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(width, 4 * width)
        self.out = nn.Linear(4 * width, 10)
        self.norm = nn.LayerNorm(10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.out(torch.relu(self.inp(x))))
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _state(name: str = "mlp", width: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in build(name, width, seed).state_dict().items()}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.py"
    path.write_text(MODEL_FILE)
    return path


def _net_state(seed: int = 0) -> dict[str, torch.Tensor]:
    namespace: dict = {}
    exec(compile(MODEL_FILE, "net.py", "exec"), namespace)
    torch.manual_seed(seed)
    return {k: v.detach().clone() for k, v in namespace["Net"]().state_dict().items()}


def test_keep_is_one_over_the_golden_ratio() -> None:
    assert pytest.approx(0.6180339887498949) == KEEP
    assert pytest.approx(1.0) == KEEP + KEEP**2  # 1/φ + 1/φ² = 1


def test_blend_follows_the_formula_and_touches_nothing_else() -> None:
    state = _state()
    original = {k: v.clone() for k, v in state.items()}
    state["0.weight"][5, 6] = float("nan")
    state["0.weight"][7, 8] = 9.0
    before = {k: v.clone() for k, v in state.items()}
    result = repair_tensors(state)
    values = before["0.weight"].double().numpy().ravel()
    centre = float(np.median(values[np.isfinite(values)]))  # the tensor's robust centre
    repaired = result.tensors["0.weight"]
    assert float(repaired[5, 6]) == pytest.approx(centre, abs=1e-7)
    assert float(repaired[7, 8]) == pytest.approx(9.0 / ((1 + 5**0.5) / 2) + centre * (1 - KEEP))
    mask = torch.ones_like(repaired, dtype=torch.bool)
    mask[5, 6] = mask[7, 8] = False
    assert torch.equal(repaired[mask], original["0.weight"][mask])
    for name in state:
        assert torch.allclose(state[name], before[name], rtol=0, atol=0, equal_nan=True)
        if name != "0.weight":
            assert result.tensors[name] is state[name]  # untouched tensors pass through
    assert result.repaired["nonfinite"] == 1 and result.repaired["outlier"] == 1


def test_passes_bring_a_gross_outlier_home() -> None:
    state = _state()
    state["2.weight"][3, 4] = flip_bit(float(state["2.weight"][3, 4]), 30)  # ~1e37
    one = repair_tensors(state, passes=1)
    assert one.remaining.count == 1 and not one.done
    assert one.limit_reached and one.passes_limit == 1
    (hint,) = one.hints
    assert hint.startswith("stopped at the --passes limit of 1 with 1 fracture(s) still to ")
    suggested = int(hint.rsplit("--passes ", 1)[1].rstrip("."))
    # Each pass keeps 1/φ of the distance: from robust z ≈ 1e38 to under 50 takes
    # log(z/50)/log(φ) passes, about 180.
    z0 = scan_tensors(state).fractures[0].score
    assert suggested == pytest.approx(math.log(z0 / 50) / math.log((1 + 5**0.5) / 2), abs=2)
    short = repair_tensors(state, passes=suggested - 3)
    assert short.remaining.count == 1 and short.limit_reached
    enough = repair_tensors(state, passes=suggested)
    assert enough.done and enough.remaining.clean and not enough.limit_reached
    assert enough.passes_run <= suggested and enough.hints == []
    # The CLI's default cap is a limit, not a count: a flipped exponent bit (z ≈ 1e38)
    # converges under it and the repair stops at the pass that made the tensor clean.
    default = repair_tensors(state, passes=DEFAULT_MAX_PASSES)
    assert default.remaining.clean and not default.limit_reached
    assert default.passes_run == enough.passes_run < DEFAULT_MAX_PASSES
    assert torch.equal(default.tensors["2.weight"], enough.tensors["2.weight"])


def test_cli_default_cap_is_the_library_constant() -> None:
    assert cli_checkpoint.DEFAULT_MAX_PASSES == DEFAULT_MAX_PASSES == 200


def test_a_clean_state_is_scanned_once_and_passed_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = _state()
    scans: list[int] = []

    def counting_scan(*args: object, **kwargs: object) -> object:
        scans.append(1)
        return scan_tensors(*args, **kwargs)

    monkeypatch.setattr(repair_module, "scan_tensors", counting_scan)
    result = repair_tensors(state, passes=DEFAULT_MAX_PASSES)
    assert len(scans) == 1  # one scan finds nothing, so no blend pass runs
    assert result.passes_run == 0 and result.done and not result.limit_reached
    assert sum(result.repaired.values()) == 0 and result.actions == [] and result.hints == []
    assert all(result.tensors[name] is tensor for name, tensor in state.items())


def test_the_cap_on_one_chosen_fracture_is_reported() -> None:
    state = _state()
    state["0.weight"][1, 1] = 1e6
    state["2.weight"][2, 2] = float("nan")
    (target,) = [f for f in scan_tensors(state).fractures if f.kind == "outlier"]
    capped = repair_tensors(state, fracture_id=target.id, passes=2)
    assert capped.limit_reached and not capped.target_fixed
    (hint,) = capped.hints
    assert "limit of 2 with the chosen fracture still to repair (1 outlier(s)" in hint
    suggested = int(hint.rsplit("--passes ", 1)[1].rstrip("."))
    fixed = repair_tensors(state, fracture_id=target.id, passes=DEFAULT_MAX_PASSES)
    assert fixed.target_fixed and not fixed.limit_reached and fixed.passes_run == suggested
    assert math.isnan(float(fixed.tensors["2.weight"][2, 2]))  # not chosen, not repaired


def test_only_the_chosen_fracture_is_repaired() -> None:
    state = _state()
    state["0.weight"][1, 1] = float("nan")
    state["2.weight"][2, 2] = float("inf")
    scan = scan_tensors(state)
    target = next(f for f in scan.fractures if f.tensor == "2.weight")
    result = repair_tensors(state, fracture_id=target.id)
    assert result.target == target and result.target_fixed and result.done
    assert math.isfinite(float(result.tensors["2.weight"][2, 2]))
    assert math.isnan(float(result.tensors["0.weight"][1, 1]))
    assert result.tensors["0.weight"] is state["0.weight"]
    assert [(f.tensor, f.index) for f in result.remaining.fractures] == [("0.weight", (1, 1))]


def test_exploding_norm_is_scaled_back_in_log_space() -> None:
    state = _state()
    state["2.weight"] *= 1e6
    before = scan_tensors(state)
    (fracture,) = before.fractures
    assert fracture.kind == "exploding_norm"
    result = repair_tensors(state, passes=1)
    after = next(t for t in result.remaining.tensors if t.name == "2.weight")
    # The tensor is the largest of its role, so the median it is measured from is unchanged.
    assert after.norm_decades == pytest.approx(KEEP * fracture.score, rel=1e-4)
    ratio = result.tensors["2.weight"] / state["2.weight"]
    assert float(ratio.std() / ratio.mean()) < 1e-5  # one factor: the direction is kept
    assert repair_tensors(state, passes=5).remaining.clean


def test_dead_units_are_reported_not_repaired() -> None:
    state = _state()
    state["0.weight"][9] = 0.0
    result = repair_tensors(state)
    assert [(f.kind, f.index) for f in result.not_repaired] == [("dead_unit", (9,))]
    assert not result.done and result.passes_run == 0
    assert not result.limit_reached  # nothing repairable is left: the cap did not stop it
    (hint,) = result.hints
    assert "dead unit" in hint and "--passes" not in hint
    with pytest.raises(ConfigError, match="dead_unit"):
        repair_tensors(state, fracture_id=1)


def test_golden_repair_end_to_end(tmp_path: Path, model_file: Path) -> None:
    state = _net_state()
    state["inp.weight"][4, 2] = float("nan")
    state["out.weight"][3, 7] = -12.0
    source = tmp_path / "broken.pt"
    torch.save({"model_state_dict": state, "epoch": 4}, source)
    digest = _sha256(source)
    report = golden_repair(
        source,
        tmp_path / "fixed.pt",
        passes=10,
        check=ModelCheck(model_class=f"{model_file}:Net", input_shape=(3, 32)),
    )
    assert _sha256(source) == digest  # the input is never modified
    assert report.forward_before is not None and not report.forward_before.finite
    assert report.forward_after is not None and report.forward_after.finite
    assert report.reloaded and report.ok and report.repair.remaining.clean
    reread = torch.load(tmp_path / "fixed.pt", map_location="cpu", weights_only=True)
    assert reread["epoch"] == 4
    assert scan_tensors(reread["model_state_dict"]).clean


def test_golden_repair_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    source = tmp_path / "model.pt"
    torch.save(_net_state(), source)
    digest = _sha256(source)
    (tmp_path / "sub").mkdir()
    link = tmp_path / "alias.pt"
    link.symlink_to(source)
    for output in (source, tmp_path / "sub" / ".." / "model.pt", link):
        with pytest.raises(ConfigError, match="same file as --input") as caught:
            golden_repair(source, output)
        assert str(output) in str(caught.value) and str(source) in str(caught.value)
    assert _sha256(source) == digest


def test_wrong_model_class_is_an_error_and_nothing_is_written(
    tmp_path: Path, model_file: Path
) -> None:
    source = tmp_path / "mlp.pt"
    torch.save(_state(), source)
    output = tmp_path / "fixed.pt"
    with pytest.raises(CheckpointError, match="strict=True"):
        golden_repair(source, output, check=ModelCheck(model_class=f"{model_file}:Net"))
    assert not output.exists()


def test_tied_weights_stay_tied(tmp_path: Path) -> None:
    shared = torch.randn(64, 32) * 0.05
    shared[3, 3] = float("nan")
    state = {"embed.weight": shared, "head.weight": shared, "head.bias": torch.zeros(64)}
    source = tmp_path / "tied.pt"
    torch.save(state, source)
    golden_repair(source, tmp_path / "fixed.pt")
    reread = torch.load(tmp_path / "fixed.pt", map_location="cpu", weights_only=True)
    assert math.isfinite(float(reread["head.weight"][3, 3]))
    assert reread["embed.weight"].data_ptr() == reread["head.weight"].data_ptr()


def test_an_all_nan_tensor_is_replaced_by_zero() -> None:
    state = _state()
    state["2.bias"][:] = float("nan")
    result = repair_tensors(state)
    assert torch.equal(result.tensors["2.bias"], torch.zeros_like(state["2.bias"]))
    assert result.repaired["nonfinite"] == state["2.bias"].numel()
    assert result.remaining.clean
