"""Overhead of the model side on a small CPU training step, and of distributed agreement.

Run: ``python -m bench.bench_training`` (``--quick`` for a short run). Target: each ≤ 1 %.

1. One process, an MLP 512→512→512→10 with Adam on batch 64 (the step the docs state the
   target for: ≈ 3.5 ms of CPU on one thread here), one model and optimiser for every
   variant (each variant's checks are attached for its own blocks only):

   * ``plain``: the step alone (the floor every overhead is read against);
   * ``client``: plus ``Biofeedback(repair=False)`` fed by a real ``ControlClient``
     subscribed to a real broker in another process, which publishes control at the
     controller's cadence (every 0.25 s; ``current()`` once per step, apply at the
     boundary, ``model.status`` every 10 steps);
   * ``repair``: plus ``GoldenRepair`` on the two hidden Linear layers (the actuator),
     checking every forward (the default), and the same client plumbing;
   * ``sampled``: the same with ``GoldenRepair(check_every=8)``, and ``sampled4`` with
     ``check_every=4``;
   * ``floor``: the client plumbing plus a bare check on the same two layers (attached the
     way GoldenRepair attaches, as a wrapper of the module's ``forward``) that reads
     ``aminmax`` of the activations: the cheapest exact check any actuator that looks at
     every activation of every forward can do, printed beside GoldenRepair.

   The headline, ``client_overhead_pct`` (``repair`` against ``plain``), is a process-CPU
   A/B (``time.process_time()``: every thread, the client's receive thread and ZeroMQ's
   I/O thread included) with one torch thread: each client variant gets a fresh client
   for each of its blocks of 100 steps, so the plain blocks have no client thread; every
   variant block sits between two plain blocks, and each round gives one pair per variant
   (``bench/_training_cpu.py``). Reported: the median over pairs, the interquartile range
   (``client_overhead_pct_spread``), the pairs, and ``client_overhead_noise_bound`` when the
   range is wider than the 1 % target (then the verdict is "noise-bound", not a pass or a
   fail). A plain-against-plain pair in the same run (``client_overhead_aa_*``) shows what
   noise alone reads. Beside it: a wall-clock A/B with two torch threads (blocks of 10
   steps, one client alive throughout), the time spent inside our code timed where it
   runs, and the client's cost alone in a loop (``Biofeedback.step()``, reports included).
2. Two gloo ranks (``torch.multiprocessing``, one thread each) training the same MLP under
   DistributedDataParallel: the step alone vs the step plus ``DistributedControl.current()``
   in ``sync`` and ``async`` mode every step, ``async`` every 4 steps, and the default (async,
   about every 100 ms), interleaved; as wall-clock
   and process-CPU A/B, and as the time the training thread spends inside ``current()``.

The single-process benchmark is in ``bench/_training_single.py`` (its process-CPU A/B in
``bench/_training_cpu.py``, the harness in ``bench/_training_ab.py``), the two ranks in
``bench/_training_distributed.py``; this module runs both and prints them.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench._training_distributed import bench_distributed
from bench._training_single import (
    DENSER_CHECK_EVERY,
    SAMPLED_CHECK_EVERY,
    TARGET_PCT,
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
    "print_result",
    "print_single",
    "run",
]


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


def print_single(result: dict[str, Any]) -> None:
    """The single-process part: the process-CPU A/B with its spread, then the rest."""
    ab = result["cpu_ab"]
    print(
        f"single process: MLP 2x512, batch 64, Adam; plain step {result['cpu_step_ms']:.3f} ms "
        f"of process CPU (1 thread) | {result['step_ms']:.3f} ms wall (2 threads)"
    )
    print(
        f"  process CPU A/B (all threads; {ab['rounds']} pairs of {ab['block_steps']}-step "
        "blocks, each between two plain blocks): median, interquartile range, verdict "
        f"(target <= {TARGET_PCT:.0f} %)"
    )
    k = result["sampled_check_every"]
    rows = [
        ("client (Biofeedback + ControlClient)", "client", "wall_client_only_overhead_pct"),
        (
            "client + GoldenRepair on 2 layers, every forward",
            "repair",
            "client_plus_actuator_overhead_pct",
        ),
        (
            f"client + GoldenRepair, check_every={k}",
            "sampled",
            "sampled_client_plus_actuator_overhead_pct",
        ),
        (
            f"client + GoldenRepair, check_every={result['denser_check_every']}",
            "sampled4",
            "denser_client_plus_actuator_overhead_pct",
        ),
        ("client + bare aminmax check on 2 layers", "floor", "range_check_floor_pct"),
        ("nothing added (plain against plain: noise)", "plain_again", None),
    ]
    print(f"  {'':<46s} {'median':>8s} {'IQR':>15s} {'verdict':>12s} {'wall A/B':>9s}")
    for label, name, wall in rows:
        v = ab["variants"][name]
        iqr = f"[{v['q25_pct']:+.2f}, {v['q75_pct']:+.2f}]"
        wall_cell = f"{result[wall]:+8.2f}%" if wall else f"{'–':>9s}"
        print(f"  {label:<46s} {v['median_pct']:+7.2f}% {iqr:>15s} {v['verdict']:>12s} {wall_cell}")
    verdict = result["client_overhead_verdict"]
    print(
        f"  client_overhead_pct = {result['client_overhead_pct']:+.2f} % (spread "
        f"{result['client_overhead_pct_spread']:.2f} points): {verdict}"
        + (" - the pairs' spread is wider than the target" if verdict == "noise-bound" else "")
    )
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
    print(
        f"  control live: {result['control_live']}, last seq {result['last_control_seq']}; "
        f"CPU A/B blocks with live control {result['cpu_ab_blocks_live']}"
    )


def print_result(result: dict[str, Any]) -> None:
    """Both parts' tables (``python -m bench._runner ... --print-with print_result``)."""
    print_single(result)
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
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    print_result(run(args.quick))


if __name__ == "__main__":
    main()
