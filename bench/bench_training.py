"""Overhead of the model side on a small CPU training step, and of distributed agreement.

Run: ``python -m bench.bench_training`` (``--quick`` for a short run). Target: each ≤ 1 %.

1. One process, an MLP 512→512→512→10 with Adam on batch 64 (about 3 ms a step here), in
   interleaved blocks of 10 steps on one model and optimiser (each variant's checks are
   attached for its own blocks only):

   * ``plain``: the step alone;
   * ``client``: plus ``Biofeedback(repair=False)`` fed by a real ``ControlClient``
     subscribed to a real broker that publishes control at 20 Hz (``current()`` once per
     step, apply at the boundary, ``model.status`` every 10 steps);
   * ``repair``: plus ``GoldenRepair`` on the two hidden Linear layers (the actuator),
     checking every forward (the default), and the same client plumbing;
   * ``sampled``: the same with ``GoldenRepair(check_every=8)``, and ``sampled4`` with
     ``check_every=4``;
   * ``floor``: the client plumbing plus a bare check on the same two layers (attached the
     way GoldenRepair attaches, as a wrapper of the module's ``forward``) that reads
     ``aminmax`` of the activations: the cheapest exact check any actuator that looks at
     every activation of every forward can do, beside which the ``repair`` figure is read.

   Overheads are medians over rounds of (variant block time / plain block time of the
   same round) − 1: paired, so load from other processes that comes and goes cancels.
   Two A/Bs: wall clock with two torch threads (a ≈ 2–2.5 ms step), and the training
   thread's CPU time with one torch thread (a ≈ 3.5 ms step, the step the target is
   stated for, and blind to other processes taking the cores: the headline). On this
   shared 2-core machine the wall-clock A/B moves by ±1–2 % between runs, so the time
   spent inside our code is also timed where it runs, and the client's cost alone in a
   loop (``Biofeedback.step()``, reports included).
2. Two gloo ranks (``torch.multiprocessing``, one thread each) training the same MLP under
   DistributedDataParallel: the step alone vs the step plus ``DistributedControl.current()``
   in ``sync`` and ``async`` mode every step, ``async`` every 4 steps, and the default (async,
   about every 100 ms), interleaved; as wall-clock
   and process-CPU A/B, and as the time the training thread spends inside ``current()``.

The single-process benchmark and the paired A/B harness are in ``bench/_training_single.py``,
the two ranks in ``bench/_training_distributed.py``; this module runs both and prints them.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench._training_distributed import bench_distributed
from bench._training_single import (
    DENSER_CHECK_EVERY,
    SAMPLED_CHECK_EVERY,
    bench_single,
    make_mlp,
)

__all__ = [
    "DENSER_CHECK_EVERY",
    "SAMPLED_CHECK_EVERY",
    "TARGET_PCT",
    "bench_distributed",
    "bench_single",
    "main",
    "make_mlp",
    "run",
]

TARGET_PCT = 1.0


def run(quick: bool) -> dict[str, Any]:
    """All measurements; keys ending in ``_pct`` are overheads in percent of a plain step."""
    single = bench_single(quick)
    distributed = bench_distributed(quick)
    return {
        **single,
        "distributed_step_ms": distributed["ddp_step_ms"],
        "distributed_sync_overhead_pct": distributed["sync_overhead_pct"],
        "distributed_async_overhead_pct": distributed["async_overhead_pct"],
        "distributed_async_every4_overhead_pct": distributed["async4_overhead_pct"],
        "distributed_auto_overhead_pct": distributed["auto_overhead_pct"],
        "distributed_cpu_sync_overhead_pct": distributed["cpu_sync_overhead_pct"],
        "distributed_cpu_async_overhead_pct": distributed["cpu_async_overhead_pct"],
        "distributed_cpu_async_every4_overhead_pct": distributed["cpu_async4_overhead_pct"],
        "distributed_cpu_auto_overhead_pct": distributed["cpu_auto_overhead_pct"],
        "distributed_inside_sync_pct": distributed["inside_sync_pct"],
        "distributed_inside_async_pct": distributed["inside_async_pct"],
        "distributed_inside_async_every4_pct": distributed["inside_async4_pct"],
        "distributed_inside_auto_pct": distributed["inside_auto_pct"],
        "distributed_overhead_pct": distributed["auto_overhead_pct"],
        "target_pct": TARGET_PCT,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    result = run(args.quick)
    print(
        f"single process: MLP 2x512, batch 64, Adam; plain step {result['step_ms']:.3f} ms "
        f"(2 threads, wall) | {result['cpu_step_ms']:.3f} ms (1 thread, CPU time)"
    )
    print(f"  {'':<52s} {'wall A/B':>9s} {'CPU A/B':>9s}   (target <= {TARGET_PCT:.0f} %)")
    k = result["sampled_check_every"]
    rows = [
        ("client (Biofeedback + ControlClient)", "client_overhead_pct", "cpu_client_overhead_pct"),
        (
            "client + GoldenRepair on 2 layers, every forward",
            "client_plus_actuator_overhead_pct",
            "cpu_client_plus_actuator_overhead_pct",
        ),
        (
            f"client + GoldenRepair, check_every={k}",
            "sampled_client_plus_actuator_overhead_pct",
            "cpu_sampled_client_plus_actuator_overhead_pct",
        ),
        (
            f"client + GoldenRepair, check_every={result['denser_check_every']}",
            "denser_client_plus_actuator_overhead_pct",
            "cpu_denser_client_plus_actuator_overhead_pct",
        ),
        (
            "floor: client + bare aminmax check on 2 layers",
            "range_check_floor_pct",
            "cpu_range_check_floor_pct",
        ),
    ]
    for label, wall, cpu in rows:
        print(f"  {label:<52s} {result[wall]:+8.2f}% {result[cpu]:+8.2f}%")
    print(
        f"  Biofeedback.step() alone: {result['client_call_us']:.2f} us per step "
        f"= {result['client_call_pct']:.3f} % of the plain step (direct timing)"
    )
    print(
        "  time inside GoldenRepair's checks + Biofeedback.step(), timed in the loop: "
        f"every forward {result['inside_exact_us']:.1f} us/step "
        f"({result['inside_exact_pct']:.2f} %), check_every={k} "
        f"{result['inside_sampled_us']:.1f} us/step ({result['inside_sampled_pct']:.2f} %)"
    )
    print(f"  control live: {result['control_live']}, last seq {result['last_control_seq']}")
    print(
        f"two gloo ranks, DDP step {result['distributed_step_ms']:.3f} ms "
        "(wall A/B | process CPU A/B | time blocked inside current())"
    )
    for label, key in (
        ("sync broadcast every step", "sync"),
        ("async (apply one step later)", "async"),
        ("default: async, about every 100 ms", "auto"),
        ("async, broadcast every 4 steps", "async_every4"),
    ):
        wall = result[f"distributed_{key}_overhead_pct"]
        cpu = result[f"distributed_cpu_{key}_overhead_pct"]
        inside = result[f"distributed_inside_{key}_pct"]
        print(f"  agreement, {label:<32s} {wall:+7.2f} % | {cpu:+7.2f} % | {inside:6.3f} %")


if __name__ == "__main__":
    main()
