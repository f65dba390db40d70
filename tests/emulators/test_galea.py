"""BrainFlow 5.23's real Galea driver against the UDP emulator: both presets, gains, commands.

Oracle for amplitudes: a 50 µV, 10 Hz sine sampled at 250 Hz has a peak-to-peak of
100·max_n sin(2πn/25) = 99.80 µV.
"""

from __future__ import annotations

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BrainFlowInputParams

from drivers import BrainFlowSource, SourceSettings
from sim.emulators import GaleaEmulator
from tests.emulators._helpers import (
    SAMPLED_PTP_UV,
    configure_and_stream,
    rate_hz,
    record,
    samples,
)

EXG_ROWS = list(range(1, 25))
# BrainFlow's auxiliary preset rows for Galea (BoardShim.get_board_descr(GALEA, 1)).
AUX_EDA, AUX_PPG_RED, AUX_PPG_IR, AUX_TEMP, AUX_BATTERY = 1, 3, 4, 5, 6


def test_driver_streams_exg_on_default_and_ppg_eda_on_auxiliary_preset(galea_ip: str) -> None:
    """Every ExG channel decodes the tone at its true amplitude (so the emulator's default
    gains are the ones BrainFlow divides by); PPG, EDA, temperature and battery arrive on
    the auxiliary preset, from every packet whose counter is a multiple of 5 (~50 Hz).
    Those aux counters step by 5 (255 → 0 by 1), which the driver layer knows
    (drivers.COUNTER_STEPS): no drop is reported for them."""
    with GaleaEmulator(ip_address=galea_ip) as emulator:
        source = BrainFlowSource(SourceSettings(board="galea", ip_address=galea_ip))
        try:
            source.start()
            reads = record(source, emulator, 1.2)
        finally:
            source.close()
    exg, aux = samples(reads), samples(reads, "auxiliary")
    assert exg.shape[0] == 29 and aux.shape[0] == 20
    assert np.ptp(exg[EXG_ROWS], axis=1) == pytest.approx(np.full(24, SAMPLED_PTP_UV), abs=0.2)
    assert np.all(np.diff(exg[0].astype(int)) % 256 == 1)
    assert sum(r.dropped.get("default", 0) for r in reads) == 0
    assert rate_hz(reads, start_s=0.3) == pytest.approx(250, rel=0.1)
    # Auxiliary preset: decimated by counter, so 52 of every 256 packets (~50.8 Hz).
    assert np.all(aux[0].astype(int) % 5 == 0)
    assert aux.shape[1] / exg.shape[1] == pytest.approx(52 / 256, abs=0.02)
    assert aux[AUX_PPG_RED].min() >= 49000 and aux[AUX_PPG_RED].max() <= 51000
    assert np.ptp(aux[AUX_PPG_RED]) > 1500 and np.ptp(aux[AUX_PPG_IR]) > 1000
    assert aux[AUX_PPG_IR].mean() == pytest.approx(40000, abs=300)
    assert np.all(aux[AUX_EDA] == pytest.approx(5.0))
    assert np.all(aux[AUX_TEMP] == pytest.approx(34.0)) and np.all(aux[AUX_BATTERY] == 95)
    # Every step is 5, except 255 -> 0 (both multiples of 5): no packet was really lost.
    steps = np.diff(aux[0].astype(int)) % 256
    assert set(steps.tolist()) <= {1, 5}
    assert sum(r.dropped.get("auxiliary", 0) for r in reads) == 0


def test_channel_commands_change_gain_on_board_and_in_brainflow(galea_ip: str) -> None:
    """'xA040000X' sets channel 17 (letter A) to gain 8: the board's counts change and
    BrainFlow's gain tracker divides by 8, so the µV stay true."""
    with GaleaEmulator(ip_address=galea_ip) as emulator:
        params = BrainFlowInputParams()
        params.ip_address = galea_ip
        reply, data = configure_and_stream(BoardIds.GALEA_BOARD, params, "xA040000X", 1.0)
        assert reply == "A"
        assert emulator.board.channels[16].gain == 8
        assert [c.decode() for c in emulator.board.commands[:2]] == ["d", "~6"]
    assert np.ptp(data[17, -200:]) == pytest.approx(SAMPLED_PTP_UV, abs=0.2)
