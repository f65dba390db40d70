"""End-to-end latency: a chunk leaving the driver → control received by a client.

Beside it, in the same run, the floor: raw pyzmq carrying a message of the same size over
the same hops (publisher → broker → relay → broker → relay → broker → subscriber: the
driver, feature and controller stages each cross the broker once). Optionally with a CPU
training job loading both cores (``--load``).

    python -m bench.bench_e2e [--seconds 30] [--load]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from bench._common import TrainingLoad, synthetic_daemon_config


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def measure_pipeline(seconds: float) -> list[float]:
    """Run the real daemon on the synthetic board; latency (ms) of each control message."""
    from runtime.bus import BusSubscriber
    from runtime.daemon import Daemon
    from runtime.messages import Control

    config = synthetic_daemon_config()
    latencies: list[float] = []
    with Daemon(config) as daemon:
        subscriber = BusSubscriber(daemon.subscribe_endpoint, ("control",))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            message = subscriber.recv(timeout_s=0.5)
            if message is None:
                continue
            received = time.time()
            control = message.data
            # Timer hops re-publish control on an older trace; only feature-triggered count.
            if (
                isinstance(control, Control)
                and control.trigger == "feature"
                and control.sample_time is not None
            ):
                latencies.append((received - control.sample_time) * 1000)
        subscriber.close()
    return latencies


def measure_floor(n: int, payload_bytes: int) -> list[float]:
    """Raw pyzmq over the same hops: 3 broker crossings and 2 relays."""
    ctx = zmq.Context()
    front, back = ctx.socket(zmq.XSUB), ctx.socket(zmq.XPUB)
    front.bind("tcp://127.0.0.1:*")
    back.bind("tcp://127.0.0.1:*")
    pub_ep = front.getsockopt_string(zmq.LAST_ENDPOINT)
    sub_ep = back.getsockopt_string(zmq.LAST_ENDPOINT)
    proxy = threading.Thread(target=_proxy, args=(front, back), daemon=True)
    proxy.start()
    stop = threading.Event()
    relays = [
        threading.Thread(target=_relay, args=(ctx, pub_ep, sub_ep, a, b, stop), daemon=True)
        for a, b in ((b"raw", b"feat"), (b"feat", b"ctrl"))
    ]
    for relay in relays:
        relay.start()
    pub = ctx.socket(zmq.PUB)
    pub.connect(pub_ep)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"ctrl")
    sub.connect(sub_ep)
    payload = b"x" * payload_bytes
    time.sleep(0.5)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        pub.send_multipart([b"raw", payload])
        if not sub.poll(1000):
            continue
        sub.recv_multipart()
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.005)
    stop.set()
    for relay in relays:
        relay.join()
    for sock in (pub, sub):
        sock.close(linger=0)
    ctx.term()  # ends zmq.proxy with ETERM; the proxy thread closes its sockets
    proxy.join()
    return out


def _proxy(front: zmq.Socket, back: zmq.Socket) -> None:
    try:
        zmq.proxy(front, back)
    except zmq.ContextTerminated:
        front.close(linger=0)
        back.close(linger=0)


def _relay(
    ctx: zmq.Context,
    pub_ep: str,
    sub_ep: str,
    topic_in: bytes,
    topic_out: bytes,
    stop: threading.Event,
) -> None:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, topic_in)
    sub.connect(sub_ep)
    pub = ctx.socket(zmq.PUB)
    pub.connect(pub_ep)
    while not stop.is_set():
        if sub.poll(100):
            frames = sub.recv_multipart()
            pub.send_multipart([topic_out, frames[1][:256]])
    sub.close(linger=0)
    pub.close(linger=0)


def run(quick: bool = False, load: bool = False) -> dict[str, Any]:
    """Measure; returns the figures (ms)."""
    seconds = 20.0 if quick else 60.0
    with TrainingLoad() if load else contextlib.nullcontext():
        pipeline = measure_pipeline(seconds)
        floor = measure_floor(300 if quick else 1000, payload_bytes=16 * 5 * 4)
    return {
        "e2e_p50_ms": percentile(pipeline, 50),
        "e2e_p99_ms": percentile(pipeline, 99),
        "e2e_n": len(pipeline),
        "floor_p50_ms": percentile(floor, 50),
        "floor_p99_ms": percentile(floor, 99),
        "floor_n": len(floor),
        "load": load,
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"end-to-end latency, chunk leaving the driver → control at a client "
        f"({'with' if result['load'] else 'without'} a training job loading both cores)"
    )
    print(f"{'':<28}{'p50 ms':>10}{'p99 ms':>10}{'n':>8}")
    print(
        f"{'kintsugi pipeline':<28}{result['e2e_p50_ms']:>10.2f}{result['e2e_p99_ms']:>10.2f}"
        f"{result['e2e_n']:>8}"
    )
    print(
        f"{'raw pyzmq, same hops':<28}{result['floor_p50_ms']:>10.2f}"
        f"{result['floor_p99_ms']:>10.2f}{result['floor_n']:>8}"
    )
    ratio = result["e2e_p50_ms"] / result["floor_p50_ms"]
    print(f"{'ratio (p50)':<28}{ratio:>10.1f}×")


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
