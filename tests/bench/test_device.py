"""The Cyton emulator's write log names each sample BrainFlow decodes (for bench_device)."""

from __future__ import annotations

import time

import numpy as np

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
