"""Start-up: from ``kintsugi run`` to the first control a client receives.

Run: ``python -m bench.bench_startup [--quick]``. Each figure is the median of a few fresh
processes, beside its floor measured the same way:

* ``kintsugi run -c configs/synthetic.toml`` (on free loopback ports) → the first
  ``control`` message at a subscriber that connected before the process started, and →
  the first control made from a feature (that one also waits for the first EEG window,
  ``window_s`` of data, which is reported beside it);
* floor: a Python process that imports what the daemon needs (zmq, numpy, scipy.signal,
  brainflow, pydantic), opens BrainFlow's synthetic board and reads its first sample;
* ``kintsugi --help`` beside ``python -c pass``, and whether importing the daemon pulls in
  torch or qiskit (it must not).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import REPO, free_tcp_port, module_main, print_table

_BOARD_FLOOR = """
import time
t0 = time.perf_counter()
import numpy, scipy.signal, zmq, pydantic
from brainflow.board_shim import BoardShim, BrainFlowInputParams
BoardShim.disable_board_logger()
board = BoardShim(-1, BrainFlowInputParams())
board.prepare_session()
board.start_stream()
while board.get_board_data_count() == 0:
    time.sleep(0.001)
print(time.perf_counter() - t0, flush=True)
board.stop_stream()
board.release_session()
"""

_IMPORTS = """
import sys, time
t0 = time.perf_counter()
import runtime.daemon, runtime.cli, runtime.client
t1 = time.perf_counter()
heavy = sorted(m for m in ("torch", "qiskit", "qiskit_aer") if m in sys.modules)
print(t1 - t0, ",".join(heavy) or "-")
"""


def _python_s(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def _kintsugi() -> list[str]:
    script = Path(sys.executable).with_name("kintsugi")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runtime.cli"]


def _help_s() -> float:
    start = time.perf_counter()
    subprocess.run([*_kintsugi(), "--help"], cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def _first_controls(config: Path, timeout_s: float = 60.0) -> dict[str, float]:
    """Start ``kintsugi run`` and time the first control and the first feature control."""
    from runtime.bus import BusSubscriber
    from runtime.messages import Control

    pub, sub = free_tcp_port(), free_tcp_port()
    subscriber = BusSubscriber(f"tcp://127.0.0.1:{sub}", ("control",))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    process = subprocess.Popen(
        [
            *_kintsugi(),
            "run",
            "-c",
            str(config),
            "--publish-endpoint",
            f"tcp://127.0.0.1:{pub}",
            "--subscribe-endpoint",
            f"tcp://127.0.0.1:{sub}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = feature = None
    try:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and feature is None:
            message = subscriber.recv(timeout_s=0.1)
            if message is None:
                if process.poll() is not None:
                    break
                continue
            now = time.perf_counter() - start
            first = first if first is not None else now
            if isinstance(message.data, Control) and message.data.trigger == "feature":
                feature = now
    finally:
        subscriber.close()
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    if first is None or feature is None:
        raise RuntimeError(f"kintsugi run gave no control in {timeout_s:.0f} s:\n{stderr[-2000:]}")
    return {"first_control_s": first, "first_feature_control_s": feature}


def _board_floor_s() -> tuple[float, float]:
    """(wall s from spawn to first sample, of which inside the process)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _BOARD_FLOOR],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, float(out.stdout.split()[0])


def run(quick: bool, smoke: bool = False) -> dict[str, Any]:
    """Measure and print; ``startup_first_control_s`` is the headline."""
    from runtime.config import load_config

    repeats = 1 if smoke else (2 if quick else 7)
    config = REPO / "configs" / "synthetic.toml"
    window_s = load_config(config).features.eeg.window_s
    runs = [_first_controls(config) for _ in range(repeats)]
    floors = [_board_floor_s() for _ in range(repeats)]
    helps = [_help_s() for _ in range(repeats)]
    pythons = [_python_s("pass") for _ in range(repeats)]
    import_out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _IMPORTS],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    median = statistics.median
    result = {
        "startup_first_control_s": median(r["first_control_s"] for r in runs),
        "startup_first_feature_control_s": median(r["first_feature_control_s"] for r in runs),
        "startup_eeg_window_s": window_s,
        "startup_floor_board_first_sample_s": median(f[0] for f in floors),
        "startup_floor_board_in_process_s": median(f[1] for f in floors),
        "cli_help_s": median(helps),
        "python_startup_s": median(pythons),
        "import_daemon_s": float(import_out[0]),
        "daemon_imports_heavy": import_out[1] if import_out[1] != "-" else "",
        "repeats": repeats,
    }
    result["startup_ratio_to_floor"] = (
        result["startup_first_control_s"] / result["startup_floor_board_first_sample_s"]
    )
    print_table(
        f"start-up, median of {repeats} fresh processes (s)",
        ["measure", "kintsugi", "floor", "ratio"],
        [
            [
                "`kintsugi run` → first control  |  imports + synthetic board → first sample",
                result["startup_first_control_s"],
                result["startup_floor_board_first_sample_s"],
                result["startup_ratio_to_floor"],
            ],
            [
                f"`kintsugi run` → first feature control (incl. {window_s:g} s EEG window)",
                result["startup_first_feature_control_s"],
                result["startup_floor_board_first_sample_s"] + window_s,
                result["startup_first_feature_control_s"]
                / (result["startup_floor_board_first_sample_s"] + window_s),
            ],
            [
                "`kintsugi --help`  |  python -c pass",
                result["cli_help_s"],
                result["python_startup_s"],
                result["cli_help_s"] / result["python_startup_s"],
            ],
        ],
    )
    heavy = result["daemon_imports_heavy"] or "none"
    print(
        f"import runtime.daemon + runtime.cli + runtime.client: "
        f"{result['import_daemon_s'] * 1e3:.0f} ms; torch/qiskit imported by it: {heavy}\n",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    return module_main(
        run, __doc__, argv, quick_help="2 repeats, not 7", smoke_help="one repeat (tests)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
