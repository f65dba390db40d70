"""Galea's UDP protocol as BrainFlow 5.23's Galea driver speaks it (port 2390).

Commands are one datagram each. Configuration strings are acknowledged with ``A`` (``I``
for an invalid one); ``F4444444`` asks for the device clock (8 bytes, float64 ms); ``b``
and ``s`` start and stop streaming without an answer.

Data: datagrams of whole 114-byte packets, one packet per 250 Hz sample. There is no start
byte, end byte or checksum: BrainFlow only checks that a datagram's length is a multiple of
114. Packet layout (little-endian unless noted):

====== ======================================================================
bytes  content
====== ======================================================================
0      sample counter (0–255)
1–4    EDA, float32 (µS)
5–76   24 ExG channels, 24-bit big-endian signed counts (ADS1299, 4.5 V ref.)
77     battery, %
78–79  temperature, uint16, °C × 100
80–83  PPG red, int32
84–87  PPG infrared, int32
88–95  device clock, uint64, µs
96–101 accelerometer x, y, z, int16 (8 g / 65535 per count)
102–7  gyroscope x, y, z, int16 (1000 °/s / 65535 per count)
108–13 magnetometer x, y, z, int16
====== ======================================================================

BrainFlow puts ExG on the default preset (rows 1–24) and, from every packet whose counter
is a multiple of 5, PPG/EDA/temperature/battery/IMU on the auxiliary preset (~50 Hz).
"""

from __future__ import annotations

import struct

import numpy as np

from sim.emulators._ads1299 import pack_int24_be, uv_to_counts
from sim.emulators._channels import (
    GALEA_LETTERS,
    ChannelCommandError,
    ChannelSetting,
    parse_channel_command,
    parse_lead_off_command,
)

GALEA_PORT = 2390
PACKET_SIZE = 114
#: BrainFlow reads at most this many packets per datagram.
MAX_PACKETS_PER_DATAGRAM = 25
TIME_COMMAND = b"F4444444"
#: PGA gains after the default-settings command ('d' or 'o'), channel by channel: what
#: BrainFlow 5.23 divides by (measured: a known tone decodes at its true amplitude on every
#: channel only with these; tests/emulators/test_galea.py checks it).
DEFAULT_GAINS: tuple[int, ...] = (4,) * 8 + (12,) * 10 + (4,) * 4 + (12,) * 2
ACCEL_G_PER_COUNT = 8.0 / 65535
_ACK, _INVALID = b"A", b"I"
#: Sampling-rate commands: only 250 Hz is emulated.
_RATE_OK = {"~6"}
_RATE_OTHER = {"~4", "~5"}
_TEST_MODES = {"f", "g"}  # BrainFlow assumes gain 1 on every channel after these
_DEFAULT_MODES = {"d", "o"}


class GaleaBoardState:
    """Galea's state: per-channel settings, whether it streams, and the commands it got.

    ``receive(datagram)`` returns the reply datagram (None when the command has none).
    """

    def __init__(self) -> None:
        self.commands: list[bytes] = []
        self.reset()

    def reset(self) -> None:
        """Power-on state: default gains, not streaming."""
        self.streaming = False
        self.channels = [ChannelSetting(gain=g) for g in DEFAULT_GAINS]

    @property
    def gains(self) -> np.ndarray:
        """The PGA gain of each of the 24 channels."""
        return np.array([c.gain for c in self.channels], dtype=float)

    def receive(self, datagram: bytes, device_ms: float) -> bytes | None:
        """Handle one command datagram; ``device_ms`` is the device clock for ``F4444444``."""
        self.commands.append(datagram)
        if datagram == b"b":
            self.streaming = True
            return None
        if datagram == b"s":
            self.streaming = False
            return None
        if datagram == TIME_COMMAND:
            return struct.pack("<d", device_ms)
        text = datagram.decode("latin-1")
        if text in _DEFAULT_MODES:
            self.channels = [ChannelSetting(gain=g) for g in DEFAULT_GAINS]
            return _ACK
        if text in _TEST_MODES:
            self.channels = [ChannelSetting(gain=1) for _ in DEFAULT_GAINS]
            return _ACK
        if text in _RATE_OK:
            return _ACK
        if text in _RATE_OTHER:
            return _INVALID
        return self._channel_commands(text)

    def _channel_commands(self, text: str) -> bytes:
        """One or more x…X / z…Z commands in one datagram: all valid → 'A', else 'I'."""
        pieces, i = [], 0
        while i < len(text):
            size = {"x": 9, "z": 5}.get(text[i])
            if size is None:
                return _INVALID
            pieces.append(text[i : i + size])
            i += size
        channels = list(self.channels)
        try:
            for piece in pieces:
                parse = parse_channel_command if piece[0] == "x" else parse_lead_off_command
                index, setting = parse(piece, GALEA_LETTERS, channels)
                channels[index] = setting
        except ChannelCommandError:
            return _INVALID
        self.channels = channels
        return _ACK if pieces else _INVALID


def encode_galea_packets(
    counters: np.ndarray,
    uv: np.ndarray,
    gains: np.ndarray,
    ppg: np.ndarray | None,
    eda_us: np.ndarray | None,
    device_us: np.ndarray,
    battery_pct: int = 95,
    temperature_c: float = 34.0,
) -> np.ndarray:
    """Packets as uint8 (n, 114): ``counters`` (n,), ``uv`` (24, n) µV, ``gains`` (24,),
    ``ppg`` (2, n) red/infrared counts, ``eda_us`` (n,), ``device_us`` (n,) device clock."""
    n = counters.shape[0]
    out = np.zeros((n, PACKET_SIZE), dtype=np.uint8)
    out[:, 0] = np.asarray(counters, dtype=np.int64) % 256
    eda = np.zeros(n) if eda_us is None else np.nan_to_num(eda_us, nan=0.0)
    out[:, 1:5] = eda.astype("<f4").view(np.uint8).reshape(n, 4)
    counts = uv_to_counts(uv, np.asarray(gains, dtype=float)[:, None]).T  # (n, 24)
    out[:, 5:77] = pack_int24_be(counts)
    out[:, 77] = battery_pct
    temp = np.full(n, round(temperature_c * 100), dtype="<u2")
    out[:, 78:80] = temp.view(np.uint8).reshape(n, 2)
    if ppg is not None:
        optics = np.clip(np.rint(np.nan_to_num(ppg, nan=0.0)), -(2**31), 2**31 - 1)
        out[:, 80:84] = optics[0].astype("<i4").view(np.uint8).reshape(n, 4)
        out[:, 84:88] = optics[1].astype("<i4").view(np.uint8).reshape(n, 4)
    out[:, 88:96] = np.asarray(device_us, dtype="<u8").view(np.uint8).reshape(n, 8)
    gravity = np.zeros((n, 3), dtype="<i2")
    gravity[:, 2] = round(1.0 / ACCEL_G_PER_COUNT)
    out[:, 96:102] = gravity.view(np.uint8).reshape(n, 6)
    return out
