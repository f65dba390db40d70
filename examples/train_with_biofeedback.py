"""Train a small model while the kintsugi daemon steers it.

Start the daemon first (``kintsugi run -c configs/synthetic.toml``), then::

    python examples/train_with_biofeedback.py --steps 600

Every step reads the latest control (never blocking), applies it to a GoldenRepair hook on
the model's layers and to the VWPR optimiser, and every ``--print-every`` steps prints the
control it applied: intensity, gentle mode and the rule that set them. Without a daemon it
trains in the safe state (gentle, baseline intensity) and says so.

``--session DIR`` writes the step-aligned log ``DIR/training.jsonl`` (one line per step:
the control applied, its seq, the repairs; give the directory the daemon records into,
``kintsugi run --record DIR``). ``--follow-log DIR/training.jsonl`` reproduces such a
job beside a replay of its session: start this job first, then ``kintsugi replay DIR``;
at each step it waits for the control the log applied there::

    python examples/train_with_biofeedback.py --seed 0 --session s1        # live
    python examples/train_with_biofeedback.py --seed 0 --session s2 \
        --follow-log s1/training.jsonl &                                   # reproduce
    kintsugi replay s1 --speed 0 --record s2
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from runtime.client import DEFAULT_PUBLISH_ENDPOINT, DEFAULT_SUBSCRIBE_ENDPOINT, ControlClient
from runtime.training import VWPR, Biofeedback, GoldenRepair, LockstepControl, RepairLog


def make_batch(
    generator: torch.Generator, batch: int = 64, corrupt_rate: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    """A regression task with occasional corrupted inputs, so repairs have work to do."""
    x = torch.randn(batch, 32, generator=generator)
    y = torch.sin(x[:, :4].sum(dim=1, keepdim=True))
    if torch.rand(1, generator=generator).item() < corrupt_rate:
        x[0, 0] = 50.0  # an outlier the repair hook should catch downstream
    return x, y


def mode_of(rule: str) -> str:
    """The controller's mode named by a control's rule: ``intensify: …`` → intensify,
    ``dwell:hold (wanted …)`` and ``decision:gentle (…)`` → the mode they hold or chose,
    ``safe:attention-calibrating`` → safe (calibrating)."""
    head, _, rest = rule.partition(":")
    if head in ("dwell", "decision"):
        return rest.split(" ", 1)[0] or head
    if head == "safe":
        return "safe (calibrating)" if "calibrating" in rest else f"safe ({rest})"
    return head


class PhaseReport:
    """Prints one line per phase of control: when the mode changes, what the job applied
    during the phase that ended (steps, seconds, intensity range, gentle mode, repairs)."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.started = time.monotonic()
        self.steps = 0
        self.intensities: list[float] = []
        self.gentle: set[bool] = set()
        self.repairs_at_start = 0
        self.rule = ""

    def observe(
        self, rule: str, intensity: float, gentle: bool, repairs: Callable[[], int]
    ) -> None:
        """One step's applied control; ``repairs()`` (the running total) is read only when
        the mode changes."""
        mode = mode_of(rule)
        if mode != self.mode:
            total = repairs()
            self.flush(total)
            self.mode, self.started, self.steps = mode, time.monotonic(), 0
            self.intensities, self.gentle, self.repairs_at_start = [], set(), total
            self.rule = rule
        self.steps += 1
        self.intensities.append(intensity)
        self.gentle.add(gentle)

    def flush(self, repairs: int) -> None:
        if self.mode is None or not self.steps:
            return
        gentle = "on" if self.gentle == {True} else "off" if self.gentle == {False} else "on/off"
        low, high = min(self.intensities), max(self.intensities)
        span = f"{low:.2f}" if high - low < 0.005 else f"{low:.2f}–{high:.2f}"
        print(
            f"phase {self.mode:<20} {time.monotonic() - self.started:5.1f} s  "
            f"{self.steps:>5} steps  intensity {span:<9}  gentle {gentle:<6}  "
            f"{repairs - self.repairs_at_start:>5} repaired  ({self.rule})",
            flush=True,
        )


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
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the model and the data (default 0)"
    )
    parser.add_argument(
        "--session",
        default=None,
        metavar="DIR",
        help="write the step-aligned log DIR/training.jsonl (the session's directory)",
    )
    parser.add_argument(
        "--follow-log",
        default=None,
        metavar="LOG",
        help="apply at each step the control this training log applied, as it arrives "
        "from a replay of its session (lockstep)",
    )
    parser.add_argument(
        "--follow-timeout",
        type=float,
        default=30.0,
        help="seconds a step waits for its control with --follow-log (default 30)",
    )
    parser.add_argument("--print-every", type=int, default=50)
    parser.add_argument(
        "--corrupt-rate",
        type=float,
        default=0.05,
        help="share of batches with an outlier input (0: a clean task)",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="print one line per phase of control (when the mode changes) instead of every "
        "--print-every steps",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="stop after this many seconds of training (--steps stays a cap)",
    )
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.0,
        help="seconds to sleep per step, to stretch a demo over time",
    )
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be a positive integer; {args.steps} is invalid")

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    model = nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )
    repair = GoldenRepair(model, ["0", "2"])
    optimizer = VWPR(model.parameters(), lr=1e-3)
    client = ControlClient(args.endpoint, publish_endpoint=args.publish_endpoint, keys=args.keys)
    losses: list[float] = []
    log = RepairLog()
    follow = None
    if args.follow_log is not None:
        follow = LockstepControl(
            args.follow_log, args.endpoint, keys=args.keys, timeout_s=args.follow_timeout
        )
    feedback = Biofeedback(
        model,
        client,
        repair=repair,
        optimizer=optimizer,
        status_every=10,
        repair_log=log,
        log=args.session,
        log_info={"model_seed": args.seed, "job": "examples/train_with_biofeedback.py"},
        follow=follow,
    )
    phases = PhaseReport() if args.phases else None
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    steps_done = 0
    if follow is not None:
        follow.start()
        print(f"following {args.follow_log} ({follow.steps} steps): start the replay now",
              flush=True)
    with client, feedback:
        for step in range(1, args.steps + 1):
            if deadline is not None and time.monotonic() >= deadline:
                break
            steps_done = step
            control = feedback.step()
            x, y = make_batch(generator, corrupt_rate=args.corrupt_rate)
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if phases is not None:
                phases.observe(
                    control.rule,
                    control.intensity,
                    control.gentle,
                    lambda: sum(e.nonfinite + e.outliers for e in log),
                )
            elif step % args.print_every == 0 or step == args.steps:
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
    if phases is not None:
        phases.flush(sum(e.nonfinite + e.outliers for e in log))
    if not losses:
        print("no training step ran (--seconds too short?)", file=sys.stderr)
        return 1
    final = sum(losses[-20:]) / min(20, len(losses))
    if not math.isfinite(final) or final > 10.0:
        print(f"training diverged: final loss {final}", file=sys.stderr)
        return 1
    if follow is not None:
        follow.close()
    print(f"done: {steps_done} steps, final loss {final:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
