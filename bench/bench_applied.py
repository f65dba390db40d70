"""Sample → control applied by a training job, read from its ``model.status``.

Run: ``python -m bench.bench_applied [--quick]``. The real daemon on BrainFlow's synthetic
board (as in ``bench/bench_e2e.py``: 4 s calibration, attention only) and, as a subprocess,
a real training job on both cores: an MLP 512→512→512→10, batch 64, Adam,
``torch.set_num_threads(2)``, with a :class:`runtime.client.ControlClient` and
:class:`runtime.training.Biofeedback` (``status_every=1``), so every step reports the
control it applies and when (``applied_at``).

Latency of a control = ``applied_at`` − ``sample_time`` (when the newest chunk behind it
left the driver; the EEG window length is not in it). A control re-published by the
controller's timer carries an older ``sample_time``, so each ``sample_time`` counts once,
at the first step that applied a control resting on it. Beside it, in the same run: the
same controls as received by a plain subscriber (the figure ``bench_e2e`` measures), so the
difference is the wait for the job's next step boundary (up to one step). The received
latency is also split at the messages' own publish times: raw chunk published → attention
estimate published (feature stage, including the estimate) → control published
(controller) → received.

From the sample's own clock (``bench/_latency.py``): ``board_to_applied_*`` starts at the
BrainFlow timestamp of the newest sample the applied control rests on, and the
``stage_*_ms`` keys split it per sample into board buffer and poll, driver → bus, features,
controller, bus → client (the job's own client: ``model.status`` reports when it received
the applied control, ``control.received_at``) and client → applied step; the parts sum to
the whole per sample before percentiles.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from bench._common import (
    REPO,
    loopback_bus,
    module_main,
    print_table,
    summarise_ms,
    synthetic_daemon_config,
)
from bench._latency import STAGES, StampLog, summarise_stages

_JOB = """
import sys, time
import torch
from runtime.client import ControlClient
from runtime.training import Biofeedback

torch.set_num_threads(2)
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
    torch.nn.Linear(512, 10),
)
optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
x, y = torch.randn(64, 512), torch.randint(0, 10, (64,))
client = ControlClient(sys.argv[1], publish_endpoint=sys.argv[2], component="bench-job")
steps, start = 0, time.perf_counter()
with Biofeedback(model, client, repair=False, status_every=1) as bf:
    while True:
        optimiser.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
        bf.step()
        steps += 1
        if steps == 20:
            print("ready", flush=True)
"""


def measure(seconds: float) -> dict[str, Any]:
    from runtime.bus import BusSubscriber
    from runtime.daemon import Daemon
    from runtime.messages import AttentionFeature, Control, ModelStatus

    bus = loopback_bus()
    config = synthetic_daemon_config(bus)
    applied: dict[float, float] = {}  # sample_time → first applied_at
    received: list[float] = []
    feature_published: dict[Any, float] = {}  # raw_seq → the estimate's publish time
    split: list[tuple[float, float, float]] = []
    steps: list[tuple[int, float]] = []
    log = StampLog()
    with Daemon(config) as daemon:
        subscriber = BusSubscriber(
            daemon.subscribe_endpoint, ("model.status", "control", "features")
        )
        job = subprocess.Popen(
            [
                sys.executable,
                "-W",
                "ignore",
                "-c",
                _JOB,
                daemon.subscribe_endpoint,
                daemon.publish_endpoint,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert job.stdout is not None
            if job.stdout.readline().strip() != "ready":
                raise RuntimeError("the training job did not start")
            while subscriber.recv_nowait() is not None:  # queued while we waited: stale
                pass
            applied.clear()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                message = subscriber.recv(timeout_s=0.5)
                if message is None:
                    continue
                now, data = time.time(), message.data
                log.observe(message, now)
                if isinstance(data, AttentionFeature):
                    raw_seq = data.trace.raw_seq if data.trace is not None else None
                    feature_published[raw_seq] = message.publish_time
                    continue
                if isinstance(data, Control):
                    sample_time = data.sample_time
                    if data.trigger == "feature" and sample_time is not None:
                        received.append((now - sample_time) * 1e3)
                        raw_seq = data.trace.raw_seq if data.trace is not None else None
                        feature_time = feature_published.get(raw_seq)
                        if feature_time is not None:
                            split.append(
                                (
                                    (feature_time - sample_time) * 1e3,
                                    (message.publish_time - feature_time) * 1e3,
                                    (now - message.publish_time) * 1e3,
                                )
                            )
                    continue
                if not isinstance(data, ModelStatus):
                    continue
                sample_time = data.control.sample_time if data.control is not None else None
                client_received = data.control.received_at if data.control is not None else None
                applied_at = data.applied_at
                steps.append((data.step, time.perf_counter()))
                if sample_time is not None and applied_at is not None:
                    applied.setdefault(sample_time, (applied_at, client_received))
        finally:
            job.kill()
            job.wait(10)
            if job.stdout is not None:
                job.stdout.close()
            subscriber.close()
    # Each sample_time's first application; drop the first, which may predate the job.
    first_applied = sorted(applied.items())[1:]
    latencies = [(a - s) * 1e3 for s, (a, _) in first_applied]
    # The same applications from the board's clock: the stamps of the sample each rests on,
    # with the job's own client's receive time where its model.status reports it.
    by_sample_time = {row.driver_publish: row for row in log.rows}
    rows = [
        by_sample_time[s].with_applied(a, client_received=r)
        for s, (a, r) in first_applied
        if s in by_sample_time
    ]
    job_receive_known = sum(r is not None for _, (_, r) in first_applied)
    step_ms = float("nan")
    if len(steps) > 1:
        step_ms = (steps[-1][1] - steps[0][1]) / max(1, steps[-1][0] - steps[0][0]) * 1e3
    parts = ("raw_to_features", "features_to_control", "control_to_client")
    return {
        **summarise_ms(latencies, "sample_to_applied"),
        **summarise_ms([(r.applied - r.board) * 1e3 for r in rows], "board_to_applied"),
        **summarise_ms([(r.client_receive - r.board) * 1e3 for r in log.rows], "board_to_received"),
        **summarise_stages(rows, applied=True),
        "stage_incomplete_n": log.incomplete,
        # How many applied rows split bus → client at the job's own client (model.status
        # control.received_at); the rest at this process's subscriber.
        "stage_job_receive_n": job_receive_known,
        **summarise_ms(received, "sample_to_received"),
        **{
            k: v
            for i, part in enumerate(parts)
            for k, v in summarise_ms([row[i] for row in split], f"split_{part}").items()
            if not k.endswith(("_max_ms", "_n"))
        },
        "training_step_ms": step_ms,
    }


def run(quick: bool, smoke: bool = False) -> dict[str, Any]:
    """Measure and print; ``sample_to_applied_p50_ms``/``_p99_ms`` are the headline."""
    seconds = 5.0 if smoke else (12.0 if quick else 60.0)
    result = measure(seconds)
    r = result
    print_table(
        f"sample → control, training job on both cores (step {r['training_step_ms']:.1f} ms), "
        f"{seconds:.0f} s",
        ["measure", "p50 ms", "p99 ms", "max ms", "n"],
        [
            [
                "received by a subscriber",
                r["sample_to_received_p50_ms"],
                r["sample_to_received_p99_ms"],
                r["sample_to_received_max_ms"],
                r["sample_to_received_n"],
            ],
            *(
                [
                    f"  of which {label}",
                    r[f"split_{part}_p50_ms"],
                    r[f"split_{part}_p99_ms"],
                    None,
                    None,
                ]
                for part, label in (
                    ("raw_to_features", "raw → estimate published"),
                    ("features_to_control", "estimate → control published"),
                    ("control_to_client", "control → received"),
                )
            ),
            [
                "applied by the training job",
                r["sample_to_applied_p50_ms"],
                r["sample_to_applied_p99_ms"],
                r["sample_to_applied_max_ms"],
                r["sample_to_applied_n"],
            ],
            [
                "board timestamp → applied",
                r["board_to_applied_p50_ms"],
                r["board_to_applied_p99_ms"],
                r["board_to_applied_max_ms"],
                r["board_to_applied_n"],
            ],
            *(
                [f"  {label}", r[f"stage_{name}_p50_ms"], r[f"stage_{name}_p99_ms"], None, None]
                for name, label, _, _ in STAGES
            ),
        ],
    )
    print(
        f"parts sum to the whole within {r['stage_sum_max_error_ms']:.1e} ms; "
        f"controls without complete stamps: {r['stage_incomplete_n']}; bus → client split at "
        f"the job's own client for {r.get('stage_job_receive_n', 0)} of {r['board_to_applied_n']}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    return module_main(run, __doc__, argv, quick_help="12 s, not 60", smoke_help="5 s (tests)")


if __name__ == "__main__":
    raise SystemExit(main())
