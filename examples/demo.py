"""The README's demo: the daemon replaying a sim session, and a training job it steers.

Starts ``kintsugi run -c configs/demo.toml`` (a sim scenario at 4× through BrainFlow's
playback board), waits for its bus, runs ``examples/train_with_biofeedback.py --phases``
beside it for the session's length, and stops the daemon at the end. The training job
prints one line per phase of control — calibrating (safe), hold, intensify, gentle, hold —
with the intensity, gentle mode and repairs it applied. ``--synthetic`` runs BrainFlow's
synthetic board instead (what CI has): its EEG is fixed sines and its PPG noise with no
pulse, so stress is unavailable and the controller runs on attention alone.
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
    parser.add_argument("--config", default=None, help="default: configs/demo.toml")
    parser.add_argument(
        "--synthetic", action="store_true", help="the synthetic board (configs/synthetic.toml)"
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="how long to train (default: the session)"
    )
    parser.add_argument("--step-delay", type=float, default=0.02)
    parser.add_argument(
        "--corrupt-rate",
        type=float,
        default=0.0,
        help="share of the training job's batches with an outlier input (default: a clean task)",
    )
    args = parser.parse_args()
    if args.config is None:
        name = "synthetic.toml" if args.synthetic else "demo.toml"
        args.config = str(ROOT / "configs" / name)
    seconds = args.seconds or (40.0 if args.synthetic else 92.0)
    if args.synthetic:
        print(
            "demo: BrainFlow's synthetic board: its PPG is uniform noise with no pulse, so "
            "stress is unavailable (no beats: its RR intervals fail the quality rules) and "
            "the controller runs on attention alone (require_stress = false). Its EEG is "
            "fixed sines, so attention stays at rest and the controller holds. "
            "`make demo` without --synthetic shows every mode on a sim session.",
            flush=True,
        )

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
                "--phases",
                "--corrupt-rate",
                str(args.corrupt_rate),
                "--steps",
                "1000000",
                "--seconds",
                str(seconds),
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
