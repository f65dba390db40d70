"""The README's examples run as written, so they cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_training_script_example_runs_without_a_daemon(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python example"
    script = tmp_path / "example.py"
    # No daemon listens on this port: the example must train in the safe state.
    script.write_text(blocks[0].replace("tcp://127.0.0.1:5592", "tcp://127.0.0.1:1"))
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rule 'safe:no-control-yet'" in result.stdout


def test_every_command_the_readme_names_exists():
    from runtime.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    named = set(re.findall(r"kintsugi ([a-z][a-z-]+)", README.read_text()))
    assert named - commands == set(), f"README names unknown commands: {named - commands}"
