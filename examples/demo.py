"""The README's demo: the daemon on the synthetic board plus a training job it steers.

Starts ``kintsugi run -c configs/synthetic.toml`` (or ``--config``), waits for its bus,
runs ``examples/train_with_biofeedback.py`` beside it, and stops the daemon at the end.
The synthetic board needs ~20 s of calibration (see the config) before control leaves
the safe state; the training job prints what it applies meanwhile.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "synthetic.toml"))
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--step-delay", type=float, default=0.04)
    args = parser.parse_args()

    kintsugi = [sys.executable, "-m", "runtime.cli"]
    daemon = subprocess.Popen(
        [*kintsugi, "run", "-c", args.config], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert daemon.stdout is not None
        line = daemon.stdout.readline()
        print(line.rstrip(), flush=True)
        found = dict(re.findall(r"(\w+_endpoint)=(\S+)", line))
        if "subscribe_endpoint" not in found:
            print("demo: the daemon did not start (see its error above)", file=sys.stderr)
            return 3
        time.sleep(0.5)
        training = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "train_with_biofeedback.py"),
                "--steps",
                str(args.steps),
                "--step-delay",
                str(args.step_delay),
                "--endpoint",
                found["subscribe_endpoint"],
                "--publish-endpoint",
                found["publish_endpoint"],
            ],
            cwd=ROOT,
        )
        return training.returncode
    finally:
        daemon.send_signal(signal.SIGINT)
        try:
            out, _ = daemon.communicate(timeout=15)
            print(out.rstrip(), flush=True)
        except subprocess.TimeoutExpired:
            daemon.kill()


if __name__ == "__main__":
    sys.exit(main())
