"""The three subcommands through ``runtime.cli.main`` (and once through the installed
``kintsugi`` script): exit codes, table and JSON output, errors that name the fix."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.checkpoint import KEEP
from runtime.cli import _exit, main
from runtime.cli._checkpoint import DEFAULT_MAX_PASSES
from tests.checkpoint._models import build

KINTSUGI = Path(sys.executable).with_name("kintsugi")


@pytest.fixture
def clean_path(tmp_path: Path) -> Path:
    path = tmp_path / "clean.pt"
    torch.save({"model_state_dict": build("mlp", 32, 0).state_dict(), "epoch": 1}, path)
    return path


@pytest.fixture
def broken_path(tmp_path: Path) -> Path:
    state = build("mlp", 32, 0).state_dict()
    state["0.weight"][2, 3] = float("nan")
    state["2.weight"][1, 5] = 30.0
    state["4.weight"][4] = 0.0
    path = tmp_path / "broken.pt"
    torch.save(state, path)
    return path


@pytest.fixture
def outlier_path(tmp_path: Path) -> Path:
    """The MLP with one weight set to 1e6 (robust z ≈ 8e6): one pass keeps 61.8 % of it."""
    state = build("mlp", 32, 0).state_dict()
    state["2.weight"][1, 5] = 1e6
    path = tmp_path / "outlier.pt"
    torch.save(state, path)
    return path


def _numpy_robust_z(state: dict[str, torch.Tensor], name: str, index: tuple[int, int]) -> float:
    """Robust z of one weight as docs/checkpoint-tools.md defines it, computed here with numpy
    alone: |w - median| / max(1.4826 MAD of its tensor, the median of that over tensors of
    16+ elements with a non-zero MAD)."""

    def centre_and_spread(tensor: torch.Tensor) -> tuple[float, float]:
        values = tensor.double().numpy().ravel()
        centre = float(np.median(values))
        return centre, 1.4826 * float(np.median(np.abs(values - centre)))

    spreads = [centre_and_spread(t)[1] for t in state.values() if t.numel() >= 16]
    model_scale = float(np.median([s for s in spreads if s > 0]))
    centre, spread = centre_and_spread(state[name])
    return abs(float(state[name][index]) - centre) / max(spread, model_scale)


def _strict_json(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"invalid JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_detect_clean_exits_0(clean_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fracture-detect", "--input", str(clean_path)]) == _exit.OK
    assert "no fractures" in capsys.readouterr().out


def test_detect_broken_table_exits_1(broken_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fracture-detect", "--input", str(broken_path)]) == _exit.FOUND
    out = capsys.readouterr().out
    assert "nonfinite" in out and "[2, 3]" in out
    assert "outlier" in out and "[1, 5]" in out
    assert "dead_unit" in out and "3 fractures" in out


def test_detect_json_document(broken_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fracture-detect", "--input", str(broken_path), "--json"]) == _exit.FOUND
    document = _strict_json(capsys.readouterr().out)
    assert document["count"] == 3 == len(document["fractures"])
    assert document["input"] == str(broken_path)
    assert [(f["id"], f["kind"], f["tensor"], f["index"]) for f in document["fractures"]] == [
        (1, "nonfinite", "0.weight", [2, 3]),
        (2, "outlier", "2.weight", [1, 5]),
        (3, "dead_unit", "4.weight", [4]),
    ]
    assert document["fractures"][0]["value"] == "nan"
    assert document["fractures"][1]["value"] == 30.0


def test_detect_threshold_flag(broken_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fracture-detect", "--input", str(broken_path), "--threshold", "1e6", "--json"])
    assert code == _exit.FOUND
    kinds = {f["kind"] for f in _strict_json(capsys.readouterr().out)["fractures"]}
    assert kinds == {"nonfinite", "dead_unit"}  # the outlier is under a threshold of 1e6


@pytest.mark.parametrize(
    ("argv_tail", "expected"),
    [
        (["--input", "MISSING"], "does not exist"),
        (["--input", "TEXT"], "not a PyTorch checkpoint"),
        (["--input", "MODULE"], "torch.save(model.state_dict()"),
        (["--input", "CLEAN", "--threshold", "0"], "--threshold must be a positive"),
        (["--input", "CLEAN", "--max-per-tensor", "0"], "--max-per-tensor must be a positive"),
    ],
)
def test_detect_errors_exit_2_with_the_fix(
    tmp_path: Path,
    clean_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv_tail: list[str],
    expected: str,
) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    module = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), module)
    paths = {"MISSING": tmp_path / "missing.pt", "TEXT": text, "MODULE": module}
    paths["CLEAN"] = clean_path
    argv = ["fracture-detect"] + [str(paths.get(a, a)) for a in argv_tail]
    assert main(argv) == _exit.USAGE_ERROR
    assert expected in capsys.readouterr().err


def test_repair_all_then_detect_clean(
    tmp_path: Path, broken_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = hashlib.sha256(broken_path.read_bytes()).hexdigest()
    fixed = tmp_path / "fixed.pt"
    code = main(["golden-repair", "--input", str(broken_path), "--output", str(fixed)])
    out = capsys.readouterr().out
    assert code == _exit.FOUND  # the dead unit cannot be repaired, and is said to remain
    assert "dead unit" in out and "remaining: 1" in out
    assert "in 4 pass(es)" in out  # z 264 → under 50: ceil(log(264/50) / log φ) = 4 passes
    assert "--passes limit" not in out  # it stopped because only the dead unit was left
    assert hashlib.sha256(broken_path.read_bytes()).hexdigest() == digest
    assert main(["fracture-detect", "--input", str(fixed), "--json"]) == _exit.FOUND
    remaining = _strict_json(capsys.readouterr().out)["fractures"]
    assert [f["kind"] for f in remaining] == ["dead_unit"]


def test_repair_runs_to_convergence_by_default(
    tmp_path: Path, outlier_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = torch.load(outlier_path, weights_only=True)
    z0 = _numpy_robust_z(before, "2.weight", (1, 5))
    needed = math.ceil(math.log(z0 / 50) / math.log((1 + 5**0.5) / 2))  # z·(1/φ)^n < 50
    assert needed == 25
    fixed = tmp_path / "fixed.pt"
    argv = ["golden-repair", "--input", str(outlier_path), "--output", str(fixed)]
    assert main(argv) == _exit.OK
    out = capsys.readouterr().out
    assert f"in {needed} pass(es)" in out and "remaining: none." in out
    assert main([*argv, "--json"]) == _exit.OK
    captured = capsys.readouterr()
    report = _strict_json(captured.out)
    assert captured.err == ""
    assert report["passes_requested"] == DEFAULT_MAX_PASSES == 200
    assert report["passes_run"] == needed > 1
    assert report["remaining"]["count"] == 0 and report["ok"] is True and report["hints"] == []
    # The project's detector finds nothing in the written file...
    assert main(["fracture-detect", "--input", str(fixed)]) == _exit.OK
    assert "no fractures" in capsys.readouterr().out
    # ...and neither does a numpy-only robust z; the value is the closed form of the blend:
    # the median is unchanged, so after n passes w = c + (w0 - c)·(1/φ)^n.
    after = torch.load(fixed, weights_only=True)
    assert _numpy_robust_z(after, "2.weight", (1, 5)) < 50
    centre = float(np.median(before["2.weight"].double().numpy()))
    expected = centre + (1e6 - centre) * KEEP**needed
    assert float(after["2.weight"][1, 5]) == pytest.approx(expected, rel=1e-5)
    assert 3 < expected < 7  # under z 50 of the model scale 0.124: the blend stops there
    mask = torch.ones_like(after["2.weight"], dtype=torch.bool)
    mask[1, 5] = False
    assert torch.equal(after["2.weight"][mask], before["2.weight"][mask])
    assert all(torch.equal(after[k], v) for k, v in before.items() if k != "2.weight")


def test_repair_stops_at_the_passes_cap_and_says_what_remains(
    tmp_path: Path, outlier_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = tmp_path / "fixed.pt"
    argv = ["golden-repair", "--input", str(outlier_path), "--output", str(fixed), "--passes", "1"]
    assert main(argv) == _exit.FOUND
    out = capsys.readouterr().out
    assert "in 1 pass(es)" in out and "remaining: 1 fracture(s)" in out
    note = (
        "stopped at the --passes limit of 1 with 1 fracture(s) still to repair (1 outlier(s), "
        "the farthest at robust z 4.97e+06)"
    )
    assert note in out and "Raise the limit: rerun with --passes 25." in out
    assert main([*argv, "--json"]) == _exit.FOUND
    captured = capsys.readouterr()
    report = _strict_json(captured.out)
    assert report["passes_requested"] == report["passes_run"] == 1
    assert report["remaining"]["count"] == 1 and report["ok"] is False
    assert note in captured.err and "--passes 25" in captured.err  # JSON readers see it too
    assert main(["fracture-detect", "--input", str(fixed)]) == _exit.FOUND
    left = torch.load(fixed, weights_only=True)["2.weight"][1, 5]
    assert float(left) == pytest.approx(1e6 * KEEP, rel=1e-6)  # one blend: 61.8 % kept
    capsys.readouterr()
    argv[-1] = "25"  # the --passes the message names is enough
    assert main(argv) == _exit.OK
    assert "remaining: none." in capsys.readouterr().out


def test_repair_one_by_id_json(
    tmp_path: Path, broken_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = tmp_path / "fixed.pt"
    argv = ["golden-repair", "--input", str(broken_path), "-o", str(fixed), "--fracture-id", "1"]
    assert main([*argv, "--json"]) == _exit.OK
    report = _strict_json(capsys.readouterr().out)
    assert report["target"]["kind"] == "nonfinite" and report["target_fixed"] is True
    assert report["repaired"]["by_kind"]["nonfinite"] == 1
    assert report["remaining"]["count"] == 2
    assert report["checks"]["reloaded"] is True
    before = torch.load(broken_path, weights_only=True)
    after = torch.load(fixed, weights_only=True)
    assert torch.equal(after["2.weight"], before["2.weight"])  # the outlier was left alone


def test_repair_with_model_class_checks_the_forward_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = build("transformer", 32, 0).state_dict()
    state["embed.weight"][1, 3] = float("inf")  # token 1 is in the random input
    source = tmp_path / "tf.pt"
    torch.save(state, source)
    argv = [
        "golden-repair",
        "--input", str(source),
        "--output", str(tmp_path / "tf_fixed.pt"),
        "--model-class", "tests.checkpoint._models:TinyTransformer",
        "--model-kwargs", '{"d_model": 32}',
        "--input-shape", "2,8",
        "--input-dtype", "long",
        "--input-high", "4",
        "--json",
    ]  # fmt: skip
    assert main(argv) == _exit.OK
    checks = _strict_json(capsys.readouterr().out)["checks"]
    assert checks["strict_load"] is True
    assert checks["forward_before"].startswith("non-finite")
    assert checks["forward_after"] == "finite"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--fracture-id", "99"], "--fracture-id 99 does not exist"),
        (["--fracture-id", "3"], "dead_unit"),
        (["--passes", "0"], "--passes must be a positive integer"),
        (["--model-class", "no_colon"], "must look like module:Class"),
        (["--model-class", "json:Nope"], "has no attribute 'Nope'"),
        (["--model-class", "torch.nn:Linear"], "could not be built"),
        (["--input-shape", "1,16"], "--input-shape needs --model-class"),
        (["--model-class", "torch.nn:Linear", "--model-kwargs", "[1]"], "JSON object"),
    ],
)
def test_repair_errors_exit_2_and_write_nothing(
    tmp_path: Path,
    broken_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    expected: str,
) -> None:
    fixed = tmp_path / "fixed.pt"
    argv = ["golden-repair", "--input", str(broken_path), "--output", str(fixed), *extra]
    assert main(argv) == _exit.USAGE_ERROR
    assert expected in capsys.readouterr().err
    assert not fixed.exists()


def test_repair_refuses_its_own_input(
    broken_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = hashlib.sha256(broken_path.read_bytes()).hexdigest()
    argv = ["golden-repair", "--input", str(broken_path), "--output", str(broken_path)]
    assert main(argv) == _exit.USAGE_ERROR
    err = capsys.readouterr().err
    assert f"--output {str(broken_path)!r}" in err and f"--input {str(broken_path)!r}" in err
    assert hashlib.sha256(broken_path.read_bytes()).hexdigest() == digest


def test_art_therapy_scan_and_log(
    tmp_path: Path, broken_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    art = tmp_path / "art.png"
    assert main(["art-therapy", "--input", str(broken_path), "-o", str(art)]) == _exit.OK
    assert art.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "3 fractures" in capsys.readouterr().out
    log = tmp_path / "repairs.jsonl"
    log.write_text(json.dumps({"tensor": "fc.weight", "kind": "outlier", "count": 2}) + "\n")
    assert main(["art-therapy", "--input", str(log), "-o", str(tmp_path / "log.png")]) == 0
    assert "2 repaired elements" in capsys.readouterr().out
    assert main(["art-therapy", "--input", str(log), "-o", str(tmp_path / "x.gif")]) == 2
    assert "must end in .png" in capsys.readouterr().err


def test_installed_script_exit_codes(tmp_path: Path, broken_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KINTSUGI), *args], capture_output=True, text=True, timeout=60, check=False
        )

    found = run("fracture-detect", "--input", str(broken_path), "--json")
    assert found.returncode == 1 and _strict_json(found.stdout)["count"] == 3
    missing = run("fracture-detect", "--input", str(tmp_path / "nope.pt"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_help_explains_and_imports_no_torch() -> None:
    code = (
        "import sys, runtime.cli._checkpoint, argparse\n"
        "p = argparse.ArgumentParser(); s = p.add_subparsers()\n"
        "runtime.cli._checkpoint.add_parser(s)\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
    text = " ".join(
        subprocess.run(
            [str(KINTSUGI), "fracture-detect", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
    )
    assert "weights_only=True" in text and "Exit status" in text and "(default: 50.0)" in text


def test_repair_of_a_clean_checkpoint_writes_an_equal_copy(
    tmp_path: Path, clean_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.pt"
    argv = ["golden-repair", "--input", str(clean_path), "--output", str(copy)]
    assert main(argv) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    report = _strict_json(capsys.readouterr().out)
    # One scan, nothing to blend: no blend pass runs, nothing is repaired.
    assert report["passes_run"] == 0 and report["repaired"]["count"] == 0
    assert report["found"] == 0 and report["ok"] is True
    before = torch.load(clean_path, weights_only=True)
    after = torch.load(copy, weights_only=True)
    assert after["epoch"] == before["epoch"]
    for name, tensor in before["model_state_dict"].items():  # bit for bit
        assert after["model_state_dict"][name].numpy().tobytes() == tensor.numpy().tobytes()
