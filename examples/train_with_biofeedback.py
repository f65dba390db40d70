"""Train a small model while the kintsugi daemon steers it.

Start the daemon first (``kintsugi run -c configs/synthetic.toml``), then::

    python examples/train_with_biofeedback.py --steps 600

Every step reads the latest control (never blocking), applies it to a GoldenRepair hook on
the model's layers and to the VWPR optimiser, and every ``--print-every`` steps prints the
control it applied: intensity, gentle mode and the rule that set them. Without a daemon it
trains in the safe state (gentle, baseline intensity) and says so.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch
from torch import nn

from runtime.client import DEFAULT_PUBLISH_ENDPOINT, DEFAULT_SUBSCRIBE_ENDPOINT, ControlClient
from runtime.training import VWPR, Biofeedback, GoldenRepair, RepairLog


def make_batch(generator: torch.Generator, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """A regression task with occasional corrupted inputs, so repairs have work to do."""
    x = torch.randn(batch, 32, generator=generator)
    y = torch.sin(x[:, :4].sum(dim=1, keepdim=True))
    if torch.rand(1, generator=generator).item() < 0.05:
        x[0, 0] = 50.0  # an outlier the repair hook should catch downstream
    return x, y


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument(
        "--endpoint", default=DEFAULT_SUBSCRIBE_ENDPOINT, help="the daemon's subscribe endpoint"
    )
    parser.add_argument(
        "--publish-endpoint", default=DEFAULT_PUBLISH_ENDPOINT, help="where model.status goes"
    )
    parser.add_argument("--keys", default=None, help="CURVE keys directory (kintsugi keys)")
    parser.add_argument("--print-every", type=int, default=50)
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.0,
        help="seconds to sleep per step, to stretch a demo over time",
    )
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be a positive integer; {args.steps} is invalid")

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )
    repair = GoldenRepair(model, ["0", "2"])
    optimizer = VWPR(model.parameters(), lr=1e-3)
    client = ControlClient(args.endpoint, publish_endpoint=args.publish_endpoint, keys=args.keys)
    losses: list[float] = []
    log = RepairLog()
    feedback = Biofeedback(
        model, client, repair=repair, optimizer=optimizer, status_every=10, repair_log=log
    )
    with client, feedback:
        for step in range(1, args.steps + 1):
            control = feedback.step()
            x, y = make_batch(generator)
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if step % args.print_every == 0 or step == args.steps:
                source = "daemon" if client.is_live() else "no daemon: safe state"
                recent = losses[-args.print_every :]
                repaired = sum(e.nonfinite + e.outliers for e in log)
                print(
                    f"step {step:>5}  loss {sum(recent) / len(recent):.4f}  "
                    f"intensity {control.intensity:.2f}  gentle {str(control.gentle):<5}  "
                    f"rule {control.rule!r}  ({source}; {repaired} activations repaired)",
                    flush=True,
                )
            if args.step_delay:
                time.sleep(args.step_delay)
    final = sum(losses[-20:]) / min(20, len(losses))
    if not math.isfinite(final) or final > 10.0:
        print(f"training diverged: final loss {final}", file=sys.stderr)
        return 1
    print(f"done: {args.steps} steps, final loss {final:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
