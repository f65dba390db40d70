"""Distributed training with biofeedback: every rank applies the same control at the same step.

Run on the CPU with two processes (gloo)::

    torchrun --standalone --nproc_per_node=2 examples/train_distributed.py --steps 200 \\
        --endpoint tcp://127.0.0.1:5592

Rank 0 reads ``runtime.client.ControlClient(endpoint)``; the control reaches the other ranks
through a small broadcast (``DistributedControl``; by default asynchronous: the value read at
step k−1 is applied by every rank at step k, so no step waits for the wire or the daemon).
Without ``--endpoint``, or while nothing answers there, every rank runs in the safe state.
``--scripted-control`` makes rank 0 cycle through a few control states on its own clock
instead (for CI, where no daemon runs). At the end every rank's per-step record of the
applied control is gathered and compared; the script prints

    ranks agreed on N steps (...)

and exits 0, or names the first step where they disagreed and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

# Run from a checkout without installing: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

from runtime.messages import Control  # noqa: E402
from runtime.training import Biofeedback, ControlSource, gloo_process_group  # noqa: E402


class ScriptedControl:
    """A control source that cycles through control states every ``period_s`` seconds.

    Its changes fall on arbitrary steps, which is what the agreement check needs to see.
    """

    STATES = ((1.0, False), (1.5, False), (0.6, True), (2.25, False))

    def __init__(self, period_s: float = 0.01) -> None:
        self.period_s = period_s
        self.start = time.monotonic()
        self.reports = 0

    def current(self) -> Control:
        index = int((time.monotonic() - self.start) / self.period_s)
        intensity, gentle = self.STATES[index % len(self.STATES)]
        now = time.time()
        return Control(
            intensity=intensity,
            gentle=gentle,
            rule=f"scripted:{index}",
            ttl_s=1.0,
            issued_at=now,
            expires_at=now + 1.0,
            safe=False,
            seq=index,
            source_time=now,
        )

    def report(self, status: dict[str, Any]) -> None:
        self.reports += 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=200, help="training steps per rank")
    parser.add_argument("--endpoint", help="broker subscribe endpoint (control); none: safe state")
    parser.add_argument(
        "--publish-endpoint", help="broker publish endpoint for model.status (default: client's)"
    )
    parser.add_argument(
        "--wait-for-control",
        type=float,
        default=0.0,
        help="seconds rank 0 waits for live control before training (0: start at once)",
    )
    parser.add_argument(
        "--scripted-control",
        action="store_true",
        help="rank 0 cycles through control states itself instead of a daemon (CI)",
    )
    parser.add_argument("--mode", choices=("async", "sync"), default="async", help="broadcast")
    parser.add_argument(
        "--every",
        type=int,
        default=None,
        help="steps between control broadcasts (held between); default: by time, --interval",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.1,
        help="seconds between control broadcasts when --every is not given (default 0.1)",
    )
    parser.add_argument("--status-every", type=int, default=10, help="steps between model.status")
    parser.add_argument("--batch", type=int, default=32, help="batch size per rank")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be ≥ 1; {args.steps} is invalid")
    return args


def make_source(args: argparse.Namespace) -> tuple[ControlSource | None, Any]:
    """Rank 0's control source and the object to close afterwards."""
    if args.scripted_control:
        return ScriptedControl(), None
    if not args.endpoint:
        return None, None
    from runtime.client import ControlClient

    options = {} if args.publish_endpoint is None else {"publish_endpoint": args.publish_endpoint}
    client = ControlClient(args.endpoint, component="train-distributed", **options)
    if args.wait_for_control > 0:
        deadline = time.monotonic() + args.wait_for_control
        while not client.is_live() and time.monotonic() < deadline:
            time.sleep(0.01)
    return client, client


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    # The group comes from torchrun's environment; leaving the block waits for every rank
    # before tearing it down (gloo aborts a process whose peer closes the connection under it).
    with gloo_process_group() as (rank, world):
        status = train_and_compare(args, rank, world)
    return status


def train_and_compare(args: argparse.Namespace, rank: int, world: int) -> int:
    """Train on every rank, then gather the applied controls and compare them; 0 if all
    ranks agreed at every step (the same exit code on every rank)."""
    torch.manual_seed(0)  # same initial weights on every rank
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01)
    source, closable = make_source(args) if rank == 0 else (None, None)
    generator = torch.Generator().manual_seed(1000 + rank)
    applied: list[tuple[int, int, float, bool]] = []
    started = time.perf_counter()
    try:
        with Biofeedback(
            model,
            source,
            distributed=True,
            distributed_mode=args.mode,
            distributed_every=args.every,
            distributed_interval_s=args.interval,
            status_every=args.status_every,
        ) as bf:
            for _ in range(args.steps):
                control = bf.control
                applied.append((bf.step_count, control.seq, control.intensity, control.gentle))
                x = torch.randn(args.batch, 16, generator=generator)
                target = x[:, :4].sum(1).round().long().clamp(0, 3)
                loss = nn.functional.cross_entropy(ddp(x), target)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                bf.step()
    finally:
        if closable is not None:
            closable.close()
    elapsed = time.perf_counter() - started
    records: list[Any] = [None] * world
    dist.all_gather_object(records, applied)
    status = 0
    if rank == 0:
        reference = records[0]
        for other in range(1, world):
            for step, (mine, theirs) in enumerate(zip(reference, records[other], strict=True)):
                if mine != theirs:
                    print(f"ranks 0 and {other} disagree at step {step}: {mine} vs {theirs}")
                    status = 1
                    break
        if status == 0:
            cadence = f"{args.interval:g} s" if args.every is None else f"{args.every} steps"
            pairs = zip(reference[:-1], reference[1:], strict=True)
            changes = sum(a[1:] != b[1:] for a, b in pairs)
            print(
                f"ranks agreed on {len(reference)} steps (world size {world}, mode {args.mode}, "
                f"broadcast every {cadence}, "
                f"control changed {changes} times, last seq {reference[-1][1]}, "
                f"{elapsed / args.steps * 1e3:.2f} ms/step)",
                flush=True,
            )
    flags = torch.tensor([status])
    dist.broadcast(flags, 0)
    return int(flags.item())


if __name__ == "__main__":
    if "RANK" not in os.environ:
        sys.exit(
            "run under torchrun: torchrun --standalone --nproc_per_node=2 "
            "examples/train_distributed.py --steps 200"
        )
    code = main()
    # Skip interpreter finalization: gloo's worker threads can still hold work objects then,
    # and tearing them down aborts the process ("terminate called without an active
    # exception", SIGABRT) now and then, after everything has completed (a known torch issue,
    # reproduced here with plain DDP + gloo and no kintsugi code).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
