"""BrainFlow 5.23's real Cyton driver against the pty emulator: handshake, decoding, commands.

Oracle for amplitudes: a 50 µV, 10 Hz sine sampled at 250 Hz has a peak-to-peak of
100·max_n sin(2πn/25) = 99.80 µV (its true peaks fall between samples).
"""

from __future__ import annotations

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BrainFlowInputParams

from drivers import BrainFlowSource, SourceSettings, count_dropped
from sim.emulators import CytonEmulator
from sim.emulators._cyton_protocol import GRAVITY_G
from tests.emulators._helpers import (
    SAMPLED_PTP_UV,
    configure_and_stream,
    rate_hz,
    record,
    samples,
    wait_until,
)

CYTON_EEG_ROWS = list(range(1, 9))


def test_driver_handshakes_streams_and_decodes_a_50uv_sine() -> None:
    with CytonEmulator() as emulator:
        source = BrainFlowSource(SourceSettings(board="cyton", serial_port=emulator.serial_port))
        try:
            source.start()
            reads = record(source, emulator, 1.2)
        finally:
            source.close()
        assert emulator.board.commands[:3] == ["v", "d", "b"]
        assert wait_until(lambda: emulator.board.commands[-1] == "s")
    data = samples(reads)
    assert data.shape[0] == 24
    eeg = data[CYTON_EEG_ROWS]
    assert np.ptp(eeg, axis=1) == pytest.approx(np.full(8, SAMPLED_PTP_UV), abs=0.1)
    assert count_dropped(data[0], None) == 0
    assert sum(sum(r.dropped.values()) for r in reads) == 0
    # Paced at 250 Hz (measured over the stream time after its first 0.3 s).
    assert rate_hz(reads, start_s=0.3) == pytest.approx(250, rel=0.1)
    # Accelerometer rows 9-11 (g), as the emulated board is tilted.
    assert data[9:12, -1] == pytest.approx(GRAVITY_G, abs=1e-3)


def test_channel_and_impedance_commands_reach_the_board_and_brainflow_tracks_gain() -> None:
    with CytonEmulator(electrode_impedance_ohm=10_000.0) as emulator:
        params = BrainFlowInputParams()
        params.serial_port = emulator.serial_port
        # Channel 2 at gain 12, channel 3 powered down, lead-off current on channel 4: one
        # config string (BrainFlow waits ~1 s for the answer to each config_board call).
        reply, data = configure_and_stream(
            BoardIds.CYTON_BOARD, params, "x2050110Xx3160110Xz410Z", 1.5
        )
        assert reply == (
            "Success: Channel set for 2$$$Success: Channel set for 3$$$"
            "Success: Lead off set for 4$$$"
        )
        assert emulator.board.channels[1].gain == 12
    eeg = data[CYTON_EEG_ROWS, -250:]
    # The board halves its counts at gain 12 and BrainFlow divides by 12: µV are unchanged.
    assert np.ptp(eeg[1]) == pytest.approx(SAMPLED_PTP_UV, abs=0.1)
    assert np.all(eeg[2] == 0.0)
    # Lead-off: 6 nA at 31.25 Hz across electrode + 2.2 kΩ; the OpenBCI GUI's formula
    # (impedance = peak / 6 nA − 2200 Ω) recovers the electrode's 10 kΩ.
    window = eeg[3, -200:]  # 200 samples: whole periods of 10 Hz and 31.25 Hz
    t = np.arange(window.size) / 250.0
    peak_uv = 2 * abs(np.mean(window * np.exp(-2j * np.pi * 31.25 * t)))
    assert peak_uv * 1e-6 / 6e-9 - 2200 == pytest.approx(10_000.0, rel=0.02)


def test_daisy_streams_16_channels_at_125_hz() -> None:
    """Cyton+Daisy: packets alternate (even counter = Daisy's channels 9-16), BrainFlow
    merges each pair into one 125 Hz sample whose counter row holds the even counter. The
    counter therefore steps by 2, which the driver layer knows (drivers.COUNTER_STEPS): no
    drop is reported for it."""
    with CytonEmulator(daisy=True) as emulator:
        source = BrainFlowSource(
            SourceSettings(board="cyton-daisy", serial_port=emulator.serial_port)
        )
        try:
            source.start()
            reads = record(source, emulator, 1.2)
        finally:
            source.close()
    data = samples(reads)
    assert data.shape[0] == 32
    assert np.ptp(data[1:17], axis=1) == pytest.approx(
        np.full(16, 100.0 * np.max(np.sin(2 * np.pi * np.arange(125) * 10 / 125))), abs=0.1
    )
    assert rate_hz(reads, start_s=0.3) == pytest.approx(125, rel=0.1)
    counters = data[0].astype(int)
    assert np.all(counters % 2 == 0)
    assert np.all(np.diff(counters) % 256 == 2)
    assert sum(r.dropped.get("default", 0) for r in reads) == 0
