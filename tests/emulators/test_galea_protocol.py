"""Galea's command answers and 114-byte packets, decoded here with struct (not the encoder)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sim.emulators._galea_protocol import (
    DEFAULT_GAINS,
    PACKET_SIZE,
    TIME_COMMAND,
    GaleaBoardState,
    encode_galea_packets,
)


def test_configuration_is_acknowledged_and_the_clock_answers_in_ms() -> None:
    board = GaleaBoardState()
    assert board.receive(b"d", 0.0) == b"A"
    assert board.receive(b"~6", 0.0) == b"A"
    assert board.receive(b"~5", 0.0) == b"I"  # only 250 Hz is emulated
    assert board.receive(b"nonsense", 0.0) == b"I"
    reply = board.receive(TIME_COMMAND, 1234.5)
    assert struct.unpack("<d", reply) == (1234.5,)
    assert board.receive(b"b", 0.0) is None and board.streaming
    assert board.receive(b"s", 0.0) is None and not board.streaming


def test_channel_letters_reach_all_24_channels() -> None:
    board = GaleaBoardState()
    assert board.receive(b"xA030000XxL060000X", 0.0) == b"A"
    assert board.channels[16].gain == 6 and board.channels[23].gain == 24
    assert board.receive(b"xZ030000X", 0.0) == b"I"
    assert board.channels[16].gain == 6  # a rejected datagram changes nothing
    board.receive(b"o", 0.0)
    assert board.gains.tolist() == list(DEFAULT_GAINS)


def test_packet_fields_sit_where_the_driver_reads_them() -> None:
    n = 3
    uv = np.tile(np.array([[-40.0], [0.0], [25.0]]), (8, n))
    ppg = np.array([[50000.0, 50100.0, 49900.0], [40000.0, 40070.0, 39930.0]])
    eda = np.array([1.5, 2.5, 3.5])
    device_us = np.array([10, 4010, 8010], dtype=np.uint64)
    packets = encode_galea_packets(np.array([254, 255, 256]), uv, np.array(DEFAULT_GAINS),
                                   ppg, eda, device_us)
    assert packets.shape == (n, PACKET_SIZE)
    for i in range(n):
        raw = packets[i].tobytes()
        assert raw[0] == [254, 255, 0][i]
        assert struct.unpack_from("<f", raw, 1)[0] == pytest.approx(eda[i])
        for ch in range(24):
            counts = int.from_bytes(raw[5 + 3 * ch : 8 + 3 * ch], "big", signed=True)
            decoded = counts * 4.5e6 / DEFAULT_GAINS[ch] / (2**23 - 1)
            assert decoded == pytest.approx(uv[ch, i], abs=0.2)
        assert struct.unpack_from("<ii", raw, 80) == (int(ppg[0, i]), int(ppg[1, i]))
        assert struct.unpack_from("<Q", raw, 88)[0] == device_us[i]
        assert struct.unpack_from("<H", raw, 78)[0] / 100 == pytest.approx(34.0)
        assert struct.unpack_from("<3h", raw, 96) == (0, 0, 8192)  # 1 g at 8 g / 65535
