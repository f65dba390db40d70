"""Latency from the device: a sample's bytes written to the Cyton emulator's pty → control.

The nearest this machine gets to a physical sensor-to-actuation figure. A Cyton emulator
(``sim.emulators.CytonEmulator``, in its own process, as a board is its own device) streams
a sim/ scenario on a pseudo-terminal and logs when each packet's bytes were written (the
wall clock just before the ``os.write`` that completed it; see ``sim/emulators/
_write_log.py``). The real daemon reads it through BrainFlow's real Cyton driver on the
pty's serial port (configs/cyton.toml, with a 4 s baseline and control from attention
alone, as bench_e2e), and a subscriber on its bus receives the controls.

For each feature-triggered control, its trace names the raw chunk it rests on; the newest
sample of that chunk (its driver index, ``first_index + n - 1``) is the emulator's packet
of the same index in the stream, so the control maps back to the moment that sample's
bytes reached the pty. Keys (ms, p50/p99/max and n):

* ``device_to_control_*``: bytes written → control received by the client;
* ``device_stage_device_to_board_*``: bytes written → BrainFlow's timestamp of that sample
  (BrainFlow's serial reader thread parsing the packet);
* ``device_stage_<stage>_*``: the rest, as bench_e2e's ``stage_*`` (``bench/_latency.py``):
  board buffer and poll, driver → bus, features, controller, bus → client. The parts sum
  to the whole per sample (``device_stage_sum_max_error_ms``);
* ``device_board_to_control_*``: BrainFlow timestamp → client on this board (bench_e2e's
  ``board_to_control`` measures the same span on the synthetic board);
* ``device_peer_plain_read_*``: the peer, in the same run: bytes written → read by a plain
  ``os.read`` reader on the same pty (one blocking read per wake-up, split into packets),
  printed beside BrainFlow's read as a ratio.

The index mapping holds while every written packet reaches the driver; the run checks it
(no write lost, no packet the driver's counter saw missing, one stream) and reports NaN,
never a guess, when it did not hold (``device_mapping_ok``).

    python -m bench.bench_device [--quick] [--no-load] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import termios
import time
import tty
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import REPO, TrainingLoad, json_ready, loopback_bus, summarise_ms
from bench._device_emulator import EmulatorProcess, WriteTimes
from bench._latency import STAGES, ControlStamps, StampLog, stage_parts_ms, whole_ms

__all__ = ["EmulatorProcess", "WriteTimes", "measure_daemon", "measure_plain_read", "run"]

#: Cyton packet: 0xA0, counter, 24 bytes of channels, 6 aux bytes, end byte.
PACKET_SIZE = 33
#: The stages after the BrainFlow timestamp, as bench_e2e's (no applied step here).
BOARD_STAGES = tuple(s for s in STAGES if s[0] != "client_to_applied")


def cyton_daemon_config(serial_port: str) -> Any:
    """configs/cyton.toml on ``serial_port`` and fresh loopback ports, with bench_e2e's
    settings: a 4 s attention baseline and control from attention alone."""
    from runtime.config import config_from_mapping, load_config

    data = load_config(REPO / "configs" / "cyton.toml").model_dump()
    data["bus"].update(loopback_bus())
    data["source"]["serial_port"] = serial_port
    data["features"]["eeg"]["baseline_s"] = 4.0
    data["controller"]["require_stress"] = False
    return config_from_mapping(data, origin="bench")


@dataclass
class DaemonRun:
    """What the subscriber saw: each control's stamps with its newest sample's driver
    index, controls whose chunk it did not see, and the board drops the driver counted."""

    rows: list[tuple[ControlStamps, int]] = field(default_factory=list)
    unmatched: int = 0
    incomplete: int = 0
    driver_dropped: int = 0


def measure_daemon(
    serial_port: str, seconds: float, *, min_rows: int = 0, max_seconds: float = 0.0
) -> DaemonRun:
    """The real daemon on the emulator's pty for ``seconds`` (longer, up to
    ``max_seconds``, until ``min_rows`` controls are mapped); see :class:`DaemonRun`."""
    from runtime.bus import BusSubscriber
    from runtime.daemon import Daemon
    from runtime.messages import DriverStatus, RawChunk

    out = DaemonRun()
    newest: OrderedDict[tuple[str, int], int] = OrderedDict()
    log = StampLog()
    dropped_seen = 0
    with Daemon(cyton_daemon_config(serial_port)) as daemon:
        subscriber = BusSubscriber(
            daemon.subscribe_endpoint, ("control", "features", "raw.eeg", "status.driver")
        )
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= max(seconds, max_seconds) or (
                elapsed >= seconds and len(out.rows) >= min_rows
            ):
                break
            message = subscriber.recv(timeout_s=0.5)
            if message is None:
                continue
            received = time.time()
            data = message.data
            if isinstance(data, RawChunk) and message.array is not None:
                key = (message.publisher, message.seq)
                newest[key] = data.first_index + int(message.array.shape[1]) - 1
                dropped_seen += data.dropped
                while len(newest) > 1024:
                    newest.popitem(last=False)
                continue
            if isinstance(data, DriverStatus):
                out.driver_dropped = max(out.driver_dropped, sum(data.dropped.values()))
                continue
            row = log.observe(message, received)
            if row is None:
                continue
            trace = message.data.trace  # a feature-triggered Control's, as StampLog read it
            index = newest.get((trace.raw_publisher, trace.raw_seq))
            if index is None:
                out.unmatched += 1
            else:
                out.rows.append((row, index))
        subscriber.close()
    out.driver_dropped = max(out.driver_dropped, dropped_seen)
    out.incomplete = log.incomplete
    return out


def measure_plain_read(serial_port: str, seconds: float) -> list[tuple[int, float]]:
    """The peer: start the stream with ``b`` and read the pty for ``seconds`` with one
    blocking ``os.read`` per wake-up (raw mode, VMIN 0 / VTIME 0.1 s: it returns as soon as
    a byte is there); each whole packet's (index in the stream, wall clock of the read that
    completed it)."""
    fd = os.open(serial_port, os.O_RDWR | os.O_NOCTTY)
    reads: list[tuple[int, float]] = []
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 0, 1
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        os.write(fd, b"b")
        pending = bytearray()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            data = os.read(fd, 4096)
            now = time.time()
            pending += data
            whole = len(pending) // PACKET_SIZE
            reads.extend((len(reads) + i, now) for i in range(whole))
            del pending[: whole * PACKET_SIZE]
        os.write(fd, b"s")
    finally:
        os.close(fd)
    return reads


def summarise_device(run: DaemonRun, writes: WriteTimes) -> dict[str, Any]:
    """The ``device_*`` keys of one daemon run against the emulator's write log."""
    losses = writes.stats.get("write_overflows", 0) + writes.stats.get("packets_corrupted", 0)
    # One start command (no driver restart), nothing lost on the wire or seen missing.
    mapping_ok = writes.streams == 1 and losses == 0 and run.driver_dropped == 0
    whole, board_part, board_to_control, errors = [], [], [], []
    parts: dict[str, list[float]] = {name: [] for name, *_ in BOARD_STAGES}
    unmapped = 0
    for stamps, index in run.rows if mapping_ok else []:
        started = writes.started(index)
        if started is None:
            unmapped += 1
            continue
        row_parts = {"device_to_board": (stamps.board - started) * 1e3, **stage_parts_ms(stamps)}
        total = (stamps.client_receive - started) * 1e3
        whole.append(total)
        board_part.append(row_parts["device_to_board"])
        board_to_control.append(whole_ms(stamps))
        for name in parts:
            parts[name].append(row_parts[name])
        errors.append(abs(sum(row_parts.values()) - total))
    out: dict[str, Any] = {
        **summarise_ms(whole, "device_to_control"),
        **summarise_ms(board_part, "device_stage_device_to_board"),
    }
    for name, values in parts.items():
        out.update(summarise_ms(values, f"device_stage_{name}"))
    out.update(summarise_ms(board_to_control, "device_board_to_control"))
    out.update({
        "device_stage_sum_max_error_ms": max(errors) if errors else float("nan"),
        # Bytes cannot be parsed before their write began: a negative part means a bad map.
        "device_negative_device_to_board_n": int(np.sum(np.asarray(board_part) < 0)),
        "device_mapping_ok": mapping_ok,
        "device_unmapped_n": unmapped + run.unmatched,
        "device_incomplete_n": run.incomplete,
        "device_driver_dropped": run.driver_dropped,
        "device_write_losses": losses,
    })
    return out


def summarise_plain_read(reads: list[tuple[int, float]], writes: WriteTimes) -> dict[str, Any]:
    """``device_peer_plain_read_*``: bytes written → read by the plain reader, ms."""
    ms = [(t - s) * 1e3 for i, t in reads if (s := writes.started(i)) is not None]
    return summarise_ms(ms, "device_peer_plain_read")


def run(quick: bool = False, load: bool = True, smoke: bool = False) -> dict[str, Any]:
    """Measure (``load``: the training job on both cores, as bench_e2e ``--load``);
    ``smoke``: tiny budgets for tests (the daemon until 3 controls are mapped, at most
    30 s; 0.5 s of peer; no load)."""
    daemon_s, peer_s = (0.0, 0.5) if smoke else (20.0, 5.0) if quick else (60.0, 20.0)
    min_rows, max_s = (3, 30.0) if smoke else (0, 0.0)
    load = load and not smoke
    cores = float("nan")
    with TrainingLoad() if load else contextlib.nullcontext() as training:
        # One emulator: the daemon's stream first (BrainFlow sends "s" when it releases the
        # board), then the plain reader's ("b" starts a new stream at index 0).
        with EmulatorProcess(max(daemon_s, max_s) + peer_s) as emulator:
            daemon_run = measure_daemon(
                emulator.serial_port, daemon_s, min_rows=min_rows, max_seconds=max_s
            )
            writes = emulator.write_times()
            reads = measure_plain_read(emulator.serial_port, peer_s)
            peer_writes = emulator.stop()
        if training is not None:
            cores = training.cores_used()
    return {
        **summarise_device(daemon_run, writes),
        **summarise_plain_read(reads, peer_writes),
        "load": load,
        "load_cores_used": cores,
    }


def print_table(result: dict[str, Any]) -> None:
    """The figures, the breakdown and the peer ratio, as a plain-text table."""
    r = result
    print(
        "device latency, Cyton emulator's pty write → control at a client, through "
        f"BrainFlow's Cyton driver ({'with' if r['load'] else 'without'} a training job "
        "loading both cores)"
    )
    print(f"{'':<48}{'p50 ms':>10}{'p99 ms':>10}{'n':>8}")

    def row(label: str, prefix: str, n: Any = "") -> None:
        print(f"{label:<48}{r[prefix + '_p50_ms']:>10.2f}{r[prefix + '_p99_ms']:>10.2f}{n:>8}")

    row("device write → client (ours)", "device_to_control", r["device_to_control_n"])
    row("  device write → BrainFlow timestamp", "device_stage_device_to_board")
    for name, label, _, _ in BOARD_STAGES:
        row(f"  {label}", f"device_stage_{name}")
    row("  (BrainFlow timestamp → client)", "device_board_to_control")
    row("device write → plain os.read (peer)", "device_peer_plain_read",
        r["device_peer_plain_read_n"])
    for q in ("p50", "p99"):
        ratio = r[f"device_stage_device_to_board_{q}_ms"] / r[f"device_peer_plain_read_{q}_ms"]
        print(f"ratio ours/peer ({q}): BrainFlow's read / plain os.read {ratio:.2f}×")
    print(
        f"parts sum to the whole within {r['device_stage_sum_max_error_ms']:.1e} ms; "
        f"index map {'held' if r['device_mapping_ok'] else 'did NOT hold (keys are NaN)'} "
        f"(write losses {r['device_write_losses']}, driver drops {r['device_driver_dropped']}, "
        f"unmapped {r['device_unmapped_n']}, negative {r['device_negative_device_to_board_n']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="20 s of daemon, 5 s of peer (full: 60 s, 20 s)"
    )
    parser.add_argument("--no-load", action="store_true", help="no training job on the cores")
    parser.add_argument("--smoke", action="store_true", help="tiny budgets (tests)")
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args = parser.parse_args()
    result = run(quick=args.quick, load=not args.no_load, smoke=args.smoke)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(json_ready(result), indent=2))


if __name__ == "__main__":
    main()
