"""bench_device: the Cyton emulator's write log names each sample BrainFlow decodes, the
device latency is that sample's write → its control, and the map is refused when it broke."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from bench import bench_device
from bench._latency import ControlStamps
from drivers import BrainFlowSource, SourceSettings, set_brainflow_logging
from sim.emulators import CytonEmulator, PacketWriteLog

# BrainFlow's Cyton rows: package counter first, its timestamp at 22.
COUNTER_ROW, TIMESTAMP_ROW = 0, 22


def test_write_log_names_each_sample_brainflow_decodes_and_when_its_bytes_were_written():
    set_brainflow_logging(False)
    with CytonEmulator(write_log=1000) as emulator:
        source = BrainFlowSource(SourceSettings(board="cyton", serial_port=emulator.serial_port))
        try:
            source.start()
            blocks = []
            deadline = time.monotonic() + 10.0
            while sum(b.shape[1] for b in blocks) < 300 and time.monotonic() < deadline:
                blocks += [c.data for c in source.read()]
                time.sleep(0.05)
        finally:
            source.close()
        log = emulator.write_log
    assert log is not None and log.streams == 1
    data = np.hstack(blocks)
    assert data.shape[1] >= 300
    entries = [log.lookup(i) for i in range(data.shape[1])]
    assert all(e is not None for e in entries)
    # The driver's sample i is the emulator's packet i: the counter BrainFlow decoded is the
    # one the emulator wrote (sample 257 carries 1: the counter wraps at 256).
    assert [e.counter for e in entries] == [int(c) for c in data[COUNTER_ROW]]
    assert entries[257].counter == 1
    # The bytes were written before BrainFlow stamped the parsed packet (1 µs: its clock's
    # resolution), and the write call that completed them began before it returned.
    started = np.array([e.write_started_at for e in entries])
    written = np.array([e.written_at for e in entries])
    assert np.all(started <= data[TIMESTAMP_ROW] + 1e-6)
    assert np.all(started <= written)
    assert np.all(np.diff(started) >= 0)


def test_no_write_log_unless_asked_and_the_log_keeps_only_its_newest_packets():
    assert CytonEmulator().write_log is None
    log = PacketWriteLog(3)
    log.start_stream()
    log.record([10, 11], 1.0, 1.1)
    log.record([12, 13], 2.0, 2.1)
    assert [(e.index, e.counter) for e in log.entries()] == [(1, 11), (2, 12), (3, 13)]
    assert log.lookup(0) is None and log.lookup(3).write_started_at == 2.0
    log.start_stream()  # a new start command counts from 0 again; the old stream stays
    log.record([0], 3.0, 3.1)
    assert log.lookup(0).counter == 0 and log.lookup(3, stream=0).counter == 13


def _writes(started: list[float], **stats: int) -> bench_device.WriteTimes:
    n = len(started)
    return bench_device.WriteTimes(
        np.array(started), np.array(started) + 1e-5, np.arange(n) % 256, 0, 1,
        {"write_overflows": 0, "packets_corrupted": 0, **stats},
    )


# Sample 2's trip: written at 1000 s, stamped by BrainFlow +0.2 ms, read +2.1, published
# +0.1, estimate +1.7, control +0.7, received +0.4 ms: 5.2 ms from the device.
STAMPS = ControlStamps(1000.0002, 1000.0023, 1000.0024, 1000.0041, 1000.0048, 1000.0052)


def test_device_latency_is_the_sample_write_to_its_control_and_its_parts_sum_to_it():
    run = bench_device.DaemonRun(rows=[(STAMPS, 2)])
    out = bench_device.summarise_device(run, _writes([999.992, 999.996, 1000.0]))
    assert out["device_mapping_ok"] is True
    assert out["device_to_control_p50_ms"] == pytest.approx(5.2, abs=1e-6)
    assert out["device_stage_device_to_board_p50_ms"] == pytest.approx(0.2, abs=1e-6)
    assert out["device_stage_board_buffer_poll_p50_ms"] == pytest.approx(2.1, abs=1e-6)
    assert out["device_board_to_control_p50_ms"] == pytest.approx(5.0, abs=1e-6)
    assert out["device_stage_sum_max_error_ms"] < 1e-6


@pytest.mark.parametrize(
    ("dropped", "stats", "streams"),
    [(1, {}, 1), (0, {"write_overflows": 1}, 1), (0, {}, 2)],
    ids=["driver-saw-a-gap", "a-write-was-lost", "driver-restarted"],
)
def test_a_broken_index_map_gives_no_figure(dropped, stats, streams):
    writes = _writes([999.992, 999.996, 1000.0], **stats)
    writes = bench_device.WriteTimes(**{**writes.__dict__, "streams": streams})
    run = bench_device.DaemonRun(rows=[(STAMPS, 2)], driver_dropped=dropped)
    out = bench_device.summarise_device(run, writes)
    assert out["device_mapping_ok"] is False
    assert out["device_to_control_n"] == 0 and math.isnan(out["device_to_control_p50_ms"])


def test_a_tiny_run_through_brainflows_cyton_driver_gives_finite_device_keys():
    result = bench_device.run(smoke=True)
    assert result["device_mapping_ok"] is True
    assert result["device_to_control_n"] > 0 and result["device_peer_plain_read_n"] > 0
    assert result["device_unmapped_n"] == 0 and result["device_negative_device_to_board_n"] == 0
    for key in ("device_to_control", "device_board_to_control", "device_peer_plain_read"):
        assert math.isfinite(result[f"{key}_p50_ms"]) and math.isfinite(result[f"{key}_p99_ms"])
    # Per sample, device → control is board → control plus the write → BrainFlow part (≥ 0),
    # so every percentile of the whole is at least that of its board-clock part.
    for q in ("p50", "p99"):
        assert result[f"device_to_control_{q}_ms"] >= result[f"device_board_to_control_{q}_ms"]
    assert result["device_stage_sum_max_error_ms"] < 1e-6
