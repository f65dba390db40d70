"""The Cyton's serial protocol: the commands its firmware answers, and its 33-byte packets.

Packet: ``0xA0``, sample counter (0–255), 8 channels × 24-bit big-endian signed counts,
6 aux bytes (three big-endian int16 accelerometer axes, sent at 25 Hz, zero in between, in
the default board mode), end byte ``0xC0`` (``0xC1`` in analog mode). With a Daisy
attached, packets alternate at 250 Hz: even counters carry channels 9–16, odd counters 1–8,
and each pair is one 125 Hz sample.

Text replies end in ``$$$``, which is how BrainFlow knows the board finished talking. The
board stays quiet while streaming, so replies never break the packet stream.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim.emulators._ads1299 import pack_int24_be, uv_to_counts
from sim.emulators._channels import (
    CYTON_LETTERS,
    ChannelCommandError,
    ChannelSetting,
    parse_channel_command,
    parse_lead_off_command,
)

START_BYTE = 0xA0
END_BYTE_STANDARD = 0xC0
END_BYTE_ANALOG = 0xC1
PACKET_SIZE = 33
#: Accelerometer: 0.002 g / 16 per count (LIS3DH as OpenBCI configures it), sent every 10th
#: sample (25 Hz). The emulated board is tilted a little, as on a head: x must not be 0,
#: because BrainFlow takes a packet's accelerometer values only when x is non-zero.
ACCEL_G_PER_COUNT = 0.002 / 16
ACCEL_EVERY = 10
GRAVITY_G = (0.05, -0.03, 0.998)
_GRAVITY = np.rint(np.array(GRAVITY_G) / ACCEL_G_PER_COUNT).astype(np.int64)

_BANNER = (
    "OpenBCI V3 8-16 channel\n"
    "On Board ADS1299 Device ID: 0x3E\n"
    "{daisy}"
    "LIS3DH Device ID: 0x33\n"
    "Firmware: v3.1.2 (kintsugi emulator)\n"
    "$$$"
)
_MODES = {"0": ("default", END_BYTE_STANDARD), "2": ("analog", END_BYTE_ANALOG)}
_POWER_OFF = "12345678qwertyui"
_POWER_ON = "!@#$%^&*QWERTYUI"
#: Commands that start a multi-character command, and its total length.
_MULTI = {"x": 9, "z": 5, "~": 2, "/": 2}


class CytonBoardState:
    """The firmware's state: channel settings, board mode, Daisy, and whether it streams.

    ``receive(data)`` takes bytes from the host and returns the bytes the board answers.
    """

    def __init__(self, daisy: bool = False) -> None:
        self.daisy_attached = daisy
        self.commands: list[str] = []
        self._pending = ""
        self.reset()

    def reset(self) -> None:
        """Power-on state: defaults on every channel, not streaming, default board mode."""
        self.streaming = False
        self.daisy_enabled = self.daisy_attached
        self.mode = "0"
        self.channels = [ChannelSetting() for _ in range(16 if self.daisy_attached else 8)]
        self._pending = ""

    @property
    def end_byte(self) -> int:
        """The end byte of packets in the current board mode."""
        return _MODES[self.mode][1]

    def receive(self, data: bytes) -> bytes:
        """Handle bytes from the host; returns the reply (empty while streaming)."""
        replies: list[str] = []
        for char in data.decode("latin-1"):
            if self._pending:
                self._pending += char
                if len(self._pending) == _MULTI[self._pending[0]] or (
                    self._pending[0] == "x" and char == "X"
                ):
                    command, self._pending = self._pending, ""
                    replies.append(self._multi(command))
            elif char in _MULTI:
                self._pending = char
            else:
                replies.append(self._single(char))
        reply = "".join(r for r in replies if r)
        return b"" if self.streaming or not reply else reply.encode("latin-1")

    def _log(self, command: str) -> None:
        self.commands.append(command)

    def _single(self, char: str) -> str:
        self._log(char)
        n = len(self.channels)
        if char == "v":
            self.reset()
            daisy = "On Daisy ADS1299 Device ID: 0x3E\n" if self.daisy_attached else ""
            return _BANNER.format(daisy=daisy)
        if char == "b":
            self.streaming = True
            return ""
        if char == "s":
            self.streaming = False
            return ""
        if char == "d":
            self.channels = [ChannelSetting() for _ in range(n)]
            return "updating channel settings to default$$$"
        if char == "D":
            return "060110$$$"
        if char == "c":
            self.daisy_enabled = False
            return "daisy removed$$$"
        if char == "C":
            if not self.daisy_attached:
                return "no daisy to attach!8$$$"
            self.daisy_enabled = True
            return "16$$$"
        if char == "?":
            return "Board ADS Registers\nADS_ID, 00, 3E\n$$$"
        for table, power in ((_POWER_OFF, False), (_POWER_ON, True)):
            index = table.find(char)
            if 0 <= index < n:
                self.channels[index] = replace(self.channels[index], power_on=power)
                return ""
        return ""  # the firmware ignores bytes it does not know

    def _multi(self, command: str) -> str:
        self._log(command)
        head = command[0]
        try:
            if head == "x":
                index, setting = parse_channel_command(command, CYTON_LETTERS, self.channels)
                self.channels[index] = setting
                return f"Success: Channel set for {index + 1}$$$"
            if head == "z":
                index, setting = parse_lead_off_command(command, CYTON_LETTERS, self.channels)
                self.channels[index] = setting
                return f"Success: Lead off set for {index + 1}$$$"
        except ChannelCommandError as exc:
            return f"{exc}$$$"
        arg = command[1]
        if head == "~":
            if arg == "~":
                return "Sample rate is 250Hz$$$"
            if arg == "6":
                return "Success: Sample rate is 250Hz$$$"
            return "Failure: the emulated dongle link runs at 250Hz only$$$"
        if arg == "/":
            return f"Board mode is {_MODES[self.mode][0]}$$$"
        if arg in _MODES:
            self.mode = arg
            return f"Success: {_MODES[arg][0]}$$$"
        return "Failure: board mode not emulated$$$"


def encode_cyton_packets(
    counters: np.ndarray,
    uv: np.ndarray,
    gains: np.ndarray,
    accel_counts: np.ndarray,
    end_byte: int,
) -> np.ndarray:
    """Packets as uint8 (n, 33): ``counters`` (n,), ``uv`` (8, n) µV, ``gains`` PGA gains
    broadcastable to (8, n), ``accel_counts`` (n, 3) int16 values (zero rows send nothing
    new)."""
    n = counters.shape[0]
    out = np.zeros((n, PACKET_SIZE), dtype=np.uint8)
    out[:, 0] = START_BYTE
    out[:, 1] = np.asarray(counters, dtype=np.int64) % 256
    counts = uv_to_counts(uv, np.asarray(gains, dtype=float)).T  # (n, 8)
    out[:, 2:26] = pack_int24_be(counts)
    accel = np.asarray(accel_counts, dtype=np.int64) & 0xFFFF
    out[:, 26:32] = np.stack([(accel >> 8) & 0xFF, accel & 0xFF], axis=-1).reshape(n, 6)
    out[:, 32] = end_byte
    return out


def accel_for(sample_numbers: np.ndarray, mode: str) -> np.ndarray:
    """Accelerometer counts per sample: gravity every 10th sample in the default mode."""
    n = sample_numbers.shape[0]
    accel = np.zeros((n, 3), dtype=np.int64)
    if mode == "0":
        accel[np.asarray(sample_numbers) % ACCEL_EVERY == 0] = _GRAVITY
    return accel
