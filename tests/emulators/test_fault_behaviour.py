"""What BrainFlow 5.23's Cyton and Galea drivers do under each fault, through BrainFlowSource.

One session per board runs every fault in turn (stream seconds; 0.5 s of clean stream
between faults), and each test reads its own window. Summary (docs/emulators.md has more):

=========  ===========================================  ===========================================
fault      Cyton driver (serial)                        Galea driver (UDP)
=========  ===========================================  ===========================================
drop       fewer samples; counter jumps = packets lost  same
garbage    packets around it lost (counter jumps);      a 114-byte garbage datagram is decoded as a
           a stray 0xA0 rarely yields a bogus sample    sample: random µV, random counter
rate       samples at the new rate, no error            same
corrupt    silence: every bad packet is discarded;      silence: short datagrams are discarded;
           the counter then jumps by their number       the counter then jumps by their number
freeze     silence, no error; counter jumps on resume   same
unplug     silence, no error (read thread busy-spins);  silence, no error; stop_stream then takes
           stop_stream fails (logged by the source)     ~5 s of socket timeouts
=========  ===========================================  ===========================================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from drivers import BrainFlowSource, SourceSettings, set_brainflow_logging
from sim.emulators import CytonEmulator, GaleaEmulator, StreamingDevice, parse_fault
from tests.emulators._helpers import Read, dropped, free_galea_address, record, samples

FAULTS = [
    "drop@1+1:0.5",
    "garbage@2.5+1:2000",
    "rate@4+1:2",
    "corrupt@5.5+0.6",
    "freeze@6.6+0.8",
    "unplug@8.0",
]
END_S = 9.0
EXG_ROWS = {"cyton": list(range(1, 9)), "galea": list(range(1, 25))}
SINE_PEAK_UV = 50.0


@dataclass
class Session:
    board: str
    reads: list[Read]
    emulator: StreamingDevice
    close_error: Exception | None

    def window(self, start_s: float, end_s: float) -> np.ndarray:
        return samples(self.reads, start_s=start_s, end_s=end_s)

    def eeg(self, start_s: float, end_s: float) -> np.ndarray:
        data = self.window(start_s, end_s)
        return data[EXG_ROWS[self.board]] if data.size else data

    def emulator_delta(self, key: str, start_s: float, end_s: float) -> int:
        before = [r.emulator[key] for r in self.reads if r.t_s < start_s]
        after = [r.emulator[key] for r in self.reads if r.t_s < end_s]
        return after[-1] - (before[-1] if before else 0)


def _run(board: str) -> Session:
    set_brainflow_logging(False)
    faults = [parse_fault(f) for f in FAULTS]
    if board == "cyton":
        emulator: StreamingDevice = CytonEmulator(faults=faults, seed=3)
        settings = SourceSettings(board="cyton", serial_port="")
    else:
        ip = free_galea_address()
        emulator = GaleaEmulator(ip_address=ip, faults=faults, seed=3)
        settings = SourceSettings(board="galea", ip_address=ip)
    with emulator:
        if board == "cyton":
            settings = SourceSettings(board="cyton", serial_port=emulator.serial_port)
        source = BrainFlowSource(settings)
        source.start()
        try:
            reads = record(source, emulator, END_S)
        finally:
            close_error = None
            try:
                source.close()
            except Exception as exc:  # recorded: the unplug test asserts there is none
                close_error = exc
    return Session(board, reads, emulator, close_error)


# Galea (~14 s to start) runs in CI's second step (make test-slow-ci).
@pytest.fixture(scope="module", params=["cyton", pytest.param("galea", marks=pytest.mark.slow)])
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    yield _run(request.param)


def test_clean_stream_before_any_fault(session: Session) -> None:
    eeg = session.eeg(0.3, 0.95)
    assert eeg.shape[1] == pytest.approx(0.65 * 250, rel=0.25)
    assert np.abs(eeg).max() <= SINE_PEAK_UV + 0.1
    assert dropped(session.reads, start_s=0.3, end_s=0.95) == 0


def test_drop_shows_as_counter_jumps_the_driver_counts_exactly(session: Session) -> None:
    got = session.window(1.1, 1.95).shape[1]
    assert got == pytest.approx(0.85 * 250 * 0.5, rel=0.3)
    lost = session.emulator_delta("packets_dropped", 0.5, 2.4)
    assert lost > 50
    # Packets the emulator lost by itself in the same span (skipped after falling > 1 s
    # behind on a loaded machine, or a failed write) are counter jumps too; 0 on a quiet run.
    unplanned = sum(session.emulator_delta(key, 0.5, 2.4)
                    for key in ("packets_skipped_late", "write_overflows"))
    assert lost <= dropped(session.reads, start_s=0.5, end_s=2.4) <= lost + unplanned


def test_garbage(session: Session) -> None:
    """Cyton: the parser resynchronises on 0xA0 and checks the end byte, so garbage mostly
    costs the packets it lands in (counter jumps); a rare misframe passes as one bogus
    sample. Galea: no framing at all, so every 114-byte garbage datagram is decoded as a
    sample with random values and a random counter (a phantom counter jump)."""
    eeg = session.eeg(2.6, 3.45)
    assert eeg.shape[1] > 100  # the stream goes on
    bogus = int(np.sum(np.any(np.abs(eeg) > SINE_PEAK_UV + 0.1, axis=0)))
    lost = dropped(session.reads, start_s=2.6, end_s=3.6)
    if session.board == "cyton":
        assert lost > 0 and bogus <= 3
    else:
        assert bogus >= 5  # corrupted samples reach the application
        assert lost > 10 * bogus  # random counters: the drop count is meaningless


def test_rate_change_passes_silently_at_the_new_rate(session: Session) -> None:
    got = session.window(4.15, 4.95).shape[1]
    assert got == pytest.approx(0.8 * 500, rel=0.15)
    assert dropped(session.reads, start_s=4.1, end_s=5.0) == 0


def test_corrupt_packets_are_discarded_so_the_stream_goes_silent(session: Session) -> None:
    """Cyton: bad start byte (resync) or bad end byte ('Wrong end byte', dropped). Galea:
    datagrams one byte short are discarded whole. Either way nothing arrives, and the
    counter jump afterwards counts the lost packets."""
    assert session.window(5.65, 6.05).shape[1] == 0
    corrupted = session.emulator.stats.packets_corrupted
    assert corrupted == pytest.approx(0.6 * 250, rel=0.1)
    assert dropped(session.reads, start_s=5.6, end_s=6.55) == pytest.approx(corrupted, abs=2)


def test_freeze_is_silence_without_error_and_a_counter_jump_on_resume(session: Session) -> None:
    assert session.window(6.7, 7.35).shape[1] == 0
    frozen = session.emulator.stats.packets_frozen
    assert frozen == pytest.approx(0.8 * 250, rel=0.1)
    assert dropped(session.reads, start_s=6.7, end_s=7.95) == frozen
    assert session.window(7.5, 7.95).shape[1] > 50


def test_unplug_is_silence_without_error_and_close_still_succeeds(session: Session) -> None:
    """Neither driver raises when the port or socket goes away: reads just come back empty,
    and only a stall timeout in the driver layer can notice."""
    assert session.window(8.1, END_S + 1).shape[1] == 0
    assert session.emulator.stats.unplugs == 1
    assert session.reads[-1].t_s >= END_S - 0.1
    assert session.close_error is None
