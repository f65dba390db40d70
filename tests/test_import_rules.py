"""The never-rules of imports: brainflow only in drivers/, qiskit only in runtime/resolver/,
torch only in runtime/training/ and runtime/checkpoint/.

(a) is a static check of every import statement in the source tree; (b) imports each public
package in a clean interpreter and asserts exactly which heavy packages it loads, so a lazy
import that turned eager (the daemon pulling in torch, a training job's client pulling in
brainflow) fails here, naming the package.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Where each heavy package may be imported, as paths from the repository root.
#: bench/ may import all of them: it measures them (BrainFlow's own filters and start-up,
#: qiskit's simulator, torch training). sim/ may import none: it writes BrainFlow's file
#: format and speaks the boards' wire protocols without BrainFlow, and reaches BrainFlow,
#: when at all, only through drivers/.
ALLOWED: dict[str, tuple[str, ...]] = {
    "brainflow": ("drivers/", "bench/"),
    "qiskit": ("runtime/resolver/", "bench/"),
    "qiskit_aer": ("runtime/resolver/", "bench/"),
    "torch": ("runtime/training/", "runtime/checkpoint/", "bench/"),
}

#: The source tree the rules cover.
SOURCE_DIRS = ("runtime", "drivers", "sim", "bench")


def _imported_names(tree: ast.AST) -> list[tuple[str, int]]:
    """(top-level package, line) of every import in ``tree``: import statements, and
    ``importlib.import_module("x")`` / ``__import__("x")`` with a literal name."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.append((first.value.split(".")[0], node.lineno))
    return found


def find_violations(root: Path, dirs: tuple[str, ...] = SOURCE_DIRS) -> list[str]:
    """``path:line: imports X (allowed only in …)`` for every import that breaks a rule."""
    violations = []
    for directory in dirs:
        for path in sorted((root / directory).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
            for package, line in _imported_names(tree):
                allowed = ALLOWED.get(package)
                if allowed is not None and not relative.startswith(allowed):
                    violations.append(
                        f"{relative}:{line}: imports {package} (allowed only in "
                        f"{', '.join(allowed)})"
                    )
    return violations


def test_heavy_packages_are_imported_only_where_allowed():
    violations = find_violations(REPO)
    assert not violations, "\n".join(violations)


def test_the_static_check_names_the_file_and_line_of_a_broken_rule(tmp_path):
    bad = tmp_path / "runtime" / "features" / "_bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "import json\n"
        "def f():\n"
        "    import torch.nn\n"
        "    from brainflow.board_shim import BoardShim\n"
        "    return importlib.import_module('qiskit_aer')\n"
    )
    fine = tmp_path / "runtime" / "training" / "_fine.py"
    fine.parent.mkdir(parents=True)
    fine.write_text("import torch\nfrom . import x\n")
    assert find_violations(tmp_path, ("runtime",)) == [
        "runtime/features/_bad.py:3: imports torch (allowed only in runtime/training/, "
        "runtime/checkpoint/, bench/)",
        "runtime/features/_bad.py:4: imports brainflow (allowed only in drivers/, bench/)",
        "runtime/features/_bad.py:5: imports qiskit_aer (allowed only in runtime/resolver/, "
        "bench/)",
    ]


#: Exactly the heavy packages each public package loads when imported alone. brainflow
#: comes with drivers/ and the driver stage (runtime.stages loads it only when a driver
#: name is first used, so the recorder, lab and LSL bridge stay free of it; the daemon,
#: which runs the driver, loads it); torch with runtime.training, whose
#: public API is torch modules. qiskit only when a quantum resolver is built, checkpoint's
#: torch only when a checkpoint is read.
EXPECTED_HEAVY: dict[str, set[str]] = {
    "runtime": set(),
    "runtime.bus": set(),
    "runtime.client": set(),
    "runtime.messages": set(),
    "runtime.controller": set(),
    "runtime.features": set(),
    "runtime.stages": set(),
    "runtime.supervisor": set(),
    "runtime.resolver": set(),
    "runtime.training": {"torch"},
    "runtime.checkpoint": set(),
    "runtime.recorder": set(),
    "runtime.lab": set(),
    "runtime.participants": set(),
    "runtime.clock": set(),
    "runtime.lsl": set(),
    "runtime.monitor": set(),
    "runtime.cli": set(),
    "runtime.daemon": {"brainflow"},
    "drivers": {"brainflow"},
    "sim": set(),
}
WATCHED = ("brainflow", "qiskit", "qiskit_aer", "torch", "numpy", "zmq")

#: One clean interpreter forks a child per package (fork before anything is imported, so
#: each child starts as clean as a new interpreter), all at once; each child imports its
#: package and prints which watched packages are then in sys.modules.
_PROBE = """
import json, os, sys
packages, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
children = {}
for package in packages:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        import importlib, warnings
        warnings.simplefilter("ignore")  # brainflow's pkg_resources warning
        try:
            importlib.import_module(package)
            loaded = sorted({m.split(".")[0] for m in sys.modules} & set(watched))
            out = {"loaded": loaded}
        except BaseException as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(out).encode())
        os._exit(0)
    os.close(write_end)
    children[package] = (pid, read_end)
result = {}
for package, (pid, read_end) in children.items():
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    result[package] = json.loads(b"".join(chunks) or b'{"error": "no answer"}')
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def loaded_by_package() -> dict[str, dict]:
    if not hasattr(os, "fork"):  # pragma: no cover - the runtime targets Linux
        pytest.skip("the import probe forks")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(EXPECTED_HEAVY)), json.dumps(WATCHED)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("package", list(EXPECTED_HEAVY))
def test_importing_a_package_loads_exactly_its_heavy_dependencies(loaded_by_package, package):
    answer = loaded_by_package[package]
    assert "error" not in answer, f"import {package}: {answer.get('error')}"
    heavy = set(answer["loaded"]) & {"brainflow", "qiskit", "qiskit_aer", "torch"}
    assert heavy == EXPECTED_HEAVY[package], (
        f"import {package} loads {sorted(heavy) or 'none'} of brainflow/qiskit/torch; "
        f"expected {sorted(EXPECTED_HEAVY[package]) or 'none'}"
    )


def test_the_message_types_load_neither_numpy_nor_zmq(loaded_by_package):
    # Standard library only: a training job, a monitor or another language's reader can
    # use the types without the bus's dependencies.
    assert loaded_by_package["runtime.messages"]["loaded"] == []
