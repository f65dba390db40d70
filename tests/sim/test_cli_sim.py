"""``kintsugi sim``: writes a recording with ground truth and says what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from brainflow.data_filter import DataFilter

from runtime.cli import _exit, main


def test_sim_writes_recording_truth_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "galea.csv"
    code = main(["sim", "ci_short", "-o", str(out), "--board", "galea", "--speed", "max",
                 "--seconds", "12"])
    assert code == _exit.OK
    printed = capsys.readouterr().out
    for path in (out, Path(f"{out}.aux"), Path(f"{out}.truth.npz"), Path(f"{out}.truth.json")):
        assert path.is_file() and str(path) in printed
    assert "29 rows x 3000 samples at 250 Hz" in printed
    assert "20 rows x 600 samples at 50 Hz" in printed
    assert DataFilter.read_file(str(out)).shape == (29, 3000)
    summary = json.loads(Path(f"{out}.truth.json").read_text())
    assert summary["duration_s"] == 12.0 and summary["speed"] == 0.0


def test_sim_takes_a_scenario_path_and_a_speed(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('duration_s = 4\nseed = 1\nattention = [[0, 0.5]]\nstress = [[0, 0.1]]\n')
    out = tmp_path / "s.csv"
    assert main(["sim", str(scenario), "-o", str(out), "--board", "cyton", "--speed", "8"]) == 0
    data = DataFilter.read_file(str(out))
    stamps = data[22]  # Cyton's timestamp row
    assert stamps[1] - stamps[0] == pytest.approx(1 / 250 / 8, abs=2e-6)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sim", "nope", "-o", "{tmp}/x.csv"], "'nope' is neither a file nor a shipped scenario"),
        (["sim", "ci_short", "-o", "{tmp}/missing/x.csv"], "-o/--output: directory"),
        (["sim", "ci_short", "-o", "{tmp}/x.csv", "--seconds", "0"], "--seconds must be"),
    ],
)
def test_sim_errors_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(argv) == _exit.USAGE_ERROR
    assert message in capsys.readouterr().err


def test_bad_speed_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sim", "ci_short", "-o", str(tmp_path / "x.csv"), "--speed", "fast"])
    assert info.value.code == 2
    assert "--speed must be a number >= 0 or 'max'" in capsys.readouterr().err


def test_the_subcommand_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, runtime.cli._sim; "
        "print(sorted(m for m in ('numpy', 'scipy', 'brainflow', 'sim', 'torch', 'qiskit') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "[]"
