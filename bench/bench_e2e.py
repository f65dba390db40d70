"""End-to-end latency: a sample on the board → control received by a client.

Two clocks, both measured on every feature-triggered control of the real daemon on the
synthetic board: ``e2e_*`` from the driver's publish time of the chunk that completes the
window (``Control.sample_time``), ``board_to_control_*`` from the BrainFlow timestamp of
the newest sample that control rests on (``trace.raw_source_time``), with the breakdown of
the latter into stages (``stage_*_ms``, ``bench/_latency.py``) that sum to it per sample.

Beside them, in the same run (``bench/_latency_peers.py``): the floor, raw pyzmq carrying
a message of the same size over the same hops (``floor_*``), and peers from the board's
own clock: the same synthetic board polled every 20 ms into a pylsl outlet → inlet
(``peer_lsl_sample_to_pull_*``) and into raw pyzmq over the same hops
(``peer_zmq_sample_to_receive_*``). Optionally with a CPU training job loading both cores
(``--load``).

    python -m bench.bench_e2e [--seconds 30] [--load]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import TrainingLoad, summarise_ms, synthetic_daemon_config
from bench._latency import STAGES, StampLog, summarise_stages
from bench._latency_peers import measure_board_peers, measure_floor

__all__ = ["measure_board_peers", "measure_floor", "measure_pipeline", "run"]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def measure_pipeline(seconds: float) -> tuple[list[float], StampLog]:
    """Run the real daemon on the synthetic board: the ``e2e`` latency (ms) of each
    feature-triggered control, and the stamps of each one's sample (its board clock on)."""
    from runtime.bus import BusSubscriber
    from runtime.daemon import Daemon
    from runtime.messages import Control

    config = synthetic_daemon_config()
    latencies: list[float] = []
    log = StampLog()
    with Daemon(config) as daemon:
        subscriber = BusSubscriber(daemon.subscribe_endpoint, ("control", "features"))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            message = subscriber.recv(timeout_s=0.5)
            if message is None:
                continue
            received = time.time()
            log.observe(message, received)
            control = message.data
            # Timer hops re-publish control on an older trace; only feature-triggered count.
            if (
                isinstance(control, Control)
                and control.trigger == "feature"
                and control.sample_time is not None
            ):
                latencies.append((received - control.sample_time) * 1000)
        subscriber.close()
    return latencies, log


def run(quick: bool = False, load: bool = False) -> dict[str, Any]:
    """Measure; returns the figures (ms)."""
    seconds = 20.0 if quick else 60.0
    with TrainingLoad() if load else contextlib.nullcontext():
        pipeline, log = measure_pipeline(seconds)
        floor = measure_floor(300 if quick else 1000, payload_bytes=16 * 5 * 4)
        peers = measure_board_peers(10.0 if quick else 30.0)
    board = summarise_ms([(r.client_receive - r.board) * 1e3 for r in log.rows], "board_to_control")
    return {
        "e2e_p50_ms": percentile(pipeline, 50),
        "e2e_p99_ms": percentile(pipeline, 99),
        "e2e_n": len(pipeline),
        **board,
        **summarise_stages(log.rows, applied=False),
        "stage_incomplete_n": log.incomplete,
        **peers,
        "floor_p50_ms": percentile(floor, 50),
        "floor_p99_ms": percentile(floor, 99),
        "floor_n": len(floor),
        "load": load,
    }


def print_table(result: dict[str, Any]) -> None:
    r = result
    print(
        f"end-to-end latency, sample → control at a client "
        f"({'with' if r['load'] else 'without'} a training job loading both cores)"
    )
    print(f"{'':<44}{'p50 ms':>10}{'p99 ms':>10}{'n':>8}")

    def row(label: str, prefix: str, n: Any = "") -> None:
        print(f"{label:<44}{r[prefix + '_p50_ms']:>10.2f}{r[prefix + '_p99_ms']:>10.2f}{n:>8}")

    row("board timestamp → client (ours)", "board_to_control", r["board_to_control_n"])
    for name, label, _, _ in STAGES[:-1]:
        row(f"  {label}", f"stage_{name}")
    row(
        "board timestamp → LSL inlet pull (peer)",
        "peer_lsl_sample_to_pull",
        r["peer_lsl_sample_to_pull_n"],
    )
    row(
        "board timestamp → raw pyzmq, same hops",
        "peer_zmq_sample_to_receive",
        r["peer_zmq_sample_to_receive_n"],
    )
    row("  of which board buffer and poll", "peer_board_buffer_poll")
    row("driver publish → client (ours, e2e)", "e2e", r["e2e_n"])
    row("raw pyzmq send → receive, same hops", "floor", r["floor_n"])
    for q in ("p50", "p99"):
        lsl = r["board_to_control_" + q + "_ms"] / r["peer_lsl_sample_to_pull_" + q + "_ms"]
        zq = r["board_to_control_" + q + "_ms"] / r["peer_zmq_sample_to_receive_" + q + "_ms"]
        e2e = r["e2e_" + q + "_ms"] / r["floor_" + q + "_ms"]
        print(
            f"ratio ours/peer ({q}): board → client / LSL {lsl:.2f}×, / raw pyzmq {zq:.2f}×; "
            f"e2e / raw pyzmq {e2e:.1f}×"
        )
    print(
        f"parts sum to the whole within {r['stage_sum_max_error_ms']:.1e} ms; "
        f"controls without complete stamps: {r['stage_incomplete_n']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--load", action="store_true", help="a training job loads both cores")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run(quick=args.quick, load=args.load)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
