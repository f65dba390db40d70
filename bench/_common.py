"""What the benchmark modules share: percentiles, a CPU training load, machine info, tables.

Nothing here measures anything by itself. The load job is a real torch training loop in a
subprocess (two threads, so both cores of this machine are busy), the same kind of job the
daemon runs beside.
"""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

#: The repository root (bench/ is not installed; subprocesses run from here).
REPO = Path(__file__).resolve().parents[1]

#: Environment variables that decide how many threads numeric libraries use.
THREAD_ENV = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "OPENBLAS_CORETYPE",
)

_LOAD_SCRIPT = """
import torch
torch.set_num_threads({threads})
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
    torch.nn.Linear(1024, 10),
)
optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)
x, y = torch.randn(256, 512), torch.randint(0, 10, (256,))
step = 0
while True:
    optimiser.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimiser.step()
    step += 1
    if step == 3:
        print("ready", flush=True)
"""


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The q-th percentile (0–100) of ``values``; NaN when there are none."""
    array = np.asarray(values, dtype=float)
    return float(np.percentile(array, q)) if array.size else float("nan")


def summarise_ms(values: Sequence[float] | np.ndarray, prefix: str) -> dict[str, float]:
    """``{prefix}_p50_ms``, ``_p99_ms``, ``_max_ms`` and ``{prefix}_n`` of latencies in ms."""
    array = np.asarray(values, dtype=float)
    return {
        f"{prefix}_p50_ms": percentile(array, 50),
        f"{prefix}_p99_ms": percentile(array, 99),
        f"{prefix}_max_ms": float(array.max()) if array.size else float("nan"),
        f"{prefix}_n": int(array.size),
    }


_PORTS_GIVEN: set[int] = set()


def free_tcp_port() -> int:
    """A loopback port that was free a moment ago and that this process has not handed out
    before (for a daemon run as a subprocess, or a test's bus).

    The kernel may return the port it just gave when the probing socket is closed, so two
    calls in a row (a publish and a subscribe endpoint) could otherwise get the same one."""
    for _ in range(1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port
    raise RuntimeError("no fresh loopback port after 1000 tries")


def loopback_bus() -> dict[str, str]:
    """A ``[bus]`` table on two fresh loopback ports, so runs never see each other."""
    return {
        "publish_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}",
        "subscribe_endpoint": f"tcp://127.0.0.1:{free_tcp_port()}",
    }


def synthetic_daemon_config(bus: dict[str, str] | None = None) -> Any:
    """The latency benchmarks' daemon config: the synthetic board on ``bus`` (fresh loopback
    ports by default), a 4 s attention baseline, and control from attention alone (stress
    would need a minute of heart data first)."""
    from runtime.config import config_from_mapping

    return config_from_mapping(
        {
            "bus": bus if bus is not None else loopback_bus(),
            "source": {"board": "synthetic"},
            "features": {"eeg": {"baseline_s": 4.0}},
            "controller": {"require_stress": False},
        },
        origin="bench",
    )


def clock_ticks_per_s() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a live process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks_per_s()  # utime + stime


class TrainingLoad:
    """A torch training loop in a subprocess on ``threads`` threads, until the block ends.

    ``nice`` (0–19) runs it at a lower scheduling priority. ``cores_used()`` says how many
    cores it actually kept busy (CPU s per wall s), so a result can show that the load was
    really there.
    """

    def __init__(self, threads: int = 2, nice: int = 0) -> None:
        if threads < 1:
            raise ValueError(f"threads must be ≥ 1; got {threads}")
        if not 0 <= nice <= 19:
            raise ValueError(f"nice must be in 0–19 (0 = normal priority); got {nice}")
        self.threads = threads
        self.nice = nice
        self._process: subprocess.Popen[str] | None = None
        self._cpu_start = 0.0
        self._wall_start = 0.0

    def __enter__(self) -> TrainingLoad:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _LOAD_SCRIPT.format(threads=self.threads)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            self.__exit__()
            raise RuntimeError("the training load did not start; is torch installed in this venv?")
        self._cpu_start = process_cpu_s(self._process.pid)
        self._wall_start = time.perf_counter()
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def cores_used(self) -> float:
        """CPU seconds the job used per wall second since it got going."""
        wall = time.perf_counter() - self._wall_start
        return (process_cpu_s(self.pid) - self._cpu_start) / max(wall, 1e-9)

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is not None:
            self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def machine_info() -> dict[str, Any]:
    """What a result depends on: CPU, cores, load, Python and library versions, thread env."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    status = _git("status", "--porcelain")
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "load_avg_1_5_15": [round(v, 2) for v in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("numpy", "scipy", "torch", "brainflow", "pyzmq", "qiskit", "qiskit-aer")
        },
        "thread_env": {name: os.environ.get(name) for name in THREAD_ENV},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
    }


def is_finite_number(value: object) -> bool:
    """True for an int or float (not bool) that is finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars made Python and non-finite floats made None (valid JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_value(value: object, digits: int = 2) -> str:
    """A table cell: numbers with ``digits`` decimals, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[format_value(c) for c in row] for row in rows]
    widths = [len(h) for h in header]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    print(title)
    print(_line(list(header), widths))
    for row in cells:
        print(_line(row, widths))
    print(flush=True)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  " + "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def module_main(
    run: Any,
    doc: str | None,
    argv: list[str] | None,
    *,
    quick_help: str = "shorter run",
    smoke_help: str = "tiny budgets (tests)",
) -> int:
    """The command line every benchmark module shares: ``--quick``, ``--smoke``, ``--json``."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args = parser.parse_args(argv)
    result = run(args.quick, smoke=args.smoke)
    if args.json:
        args.json.write_text(json.dumps(json_ready(result), indent=2))
    return 0
