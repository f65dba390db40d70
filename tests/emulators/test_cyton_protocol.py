"""The Cyton firmware's answers and packet bytes, decoded here independently of the encoder."""

from __future__ import annotations

import numpy as np
import pytest

from sim.emulators._cyton_protocol import (
    GRAVITY_G,
    PACKET_SIZE,
    CytonBoardState,
    accel_for,
    encode_cyton_packets,
)


def test_reset_query_answers_a_banner_ending_in_three_dollars() -> None:
    board = CytonBoardState()
    reply = board.receive(b"v")
    assert reply.endswith(b"$$$") and b"OpenBCI" in reply and reply.count(b"$") == 3


def test_daisy_banner_mentions_the_daisy() -> None:
    assert b"Daisy" in CytonBoardState(daisy=True).receive(b"v")
    assert b"Daisy" not in CytonBoardState().receive(b"v")


def test_start_and_stop_streaming_and_stay_quiet_while_streaming() -> None:
    board = CytonBoardState()
    assert board.receive(b"b") == b"" and board.streaming
    assert board.receive(b"x1060110X") == b""  # answered on the wire only when not streaming
    assert board.receive(b"s") == b"" and not board.streaming
    assert board.receive(b"d").endswith(b"$$$")


def test_channel_command_sets_gain_power_and_input() -> None:
    board = CytonBoardState()
    assert board.receive(b"x2050110X") == b"Success: Channel set for 2$$$"
    assert board.receive(b"x3101000X") == b"Success: Channel set for 3$$$"
    assert board.channels[1].gain == 12 and board.channels[1].power_on
    assert not board.channels[2].power_on and board.channels[2].input_type == 1
    assert not board.channels[2].bias and not board.channels[2].srb2


@pytest.mark.parametrize("command", [b"x9060110X", b"x1070110X", b"x1060110Y", b"x10X"])
def test_invalid_channel_commands_fail(command: bytes) -> None:
    board = CytonBoardState()
    assert board.receive(command).startswith(b"Failure")
    assert all(c.gain == 24 for c in board.channels)


def test_impedance_and_single_key_commands() -> None:
    board = CytonBoardState(daisy=True)
    assert board.receive(b"z410Z") == b"Success: Lead off set for 4$$$"
    assert board.channels[3].lead_off_p and not board.channels[3].lead_off_n
    board.receive(b"3q")  # power down channel 3 and Daisy channel 9
    assert not board.channels[2].power_on and not board.channels[8].power_on
    board.receive(b"#Q")
    assert board.channels[2].power_on and board.channels[8].power_on
    assert board.receive(b"d") and all(c.gain == 24 and not c.lead_off_p for c in board.channels)


def test_commands_split_across_reads_are_reassembled() -> None:
    board = CytonBoardState()
    assert board.receive(b"x20") == b""
    assert board.receive(b"50110X") == b"Success: Channel set for 2$$$"


def test_packet_bytes_decode_to_the_encoded_microvolts() -> None:
    uv = np.array([[50.0, -50.0], [0.0, 1000.0]] + [[10.0, -10.0]] * 6)
    gains = np.array([24, 12, 24, 24, 24, 24, 24, 24], dtype=float)[:, None]
    packets = encode_cyton_packets(np.array([255, 256]), uv, gains,
                                   accel_for(np.array([10, 11]), "0"), 0xC0)
    assert packets.shape == (2, PACKET_SIZE)
    assert packets[:, 0].tolist() == [0xA0, 0xA0] and packets[:, 32].tolist() == [0xC0, 0xC0]
    assert packets[:, 1].tolist() == [255, 0]
    for i in range(2):
        raw = packets[i].tobytes()
        for ch in range(8):
            counts = int.from_bytes(raw[2 + 3 * ch : 5 + 3 * ch], "big", signed=True)
            decoded = counts * 4.5e6 / gains[ch, 0] / (2**23 - 1)
            assert decoded == pytest.approx(uv[ch, i], abs=0.05)
        accel = [int.from_bytes(raw[26 + 2 * k : 28 + 2 * k], "big", signed=True)
                 for k in range(3)]
        expected = [round(g / (0.002 / 16)) for g in GRAVITY_G] if i == 0 else [0, 0, 0]
        assert accel == expected
