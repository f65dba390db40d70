"""Per-channel front-end settings of an OpenBCI board and the ``x…X`` command that sets them.

``x CH POWER GAIN INPUT BIAS SRB2 SRB1 X`` (OpenBCI Cyton SDK): CH a channel letter,
POWER '0' on / '1' off, GAIN a digit 0–6 (gains 1, 2, 4, 6, 8, 12, 24), INPUT 0–7 (0 normal,
1 shorted, 5 test signal), BIAS/SRB2/SRB1 '0' or '1'. Lead-off (impedance) is
``z CH P N Z``: P and N '1' inject the 31.2 Hz test current on that input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim.emulators._ads1299 import GAIN_BY_CODE

#: Channel letters of x/z commands: Cyton 1–8, Daisy Q–I; Galea adds A–L for channels 17–24.
CYTON_LETTERS = "12345678QWERTYUI"
GALEA_LETTERS = "12345678QWERTYUIASDGHJKL"

INPUT_NORMAL = 0
INPUT_SHORTED = 1
INPUT_TEST = 5
#: The ADS1299 internal test signal: ±(VREF/2.4 mV) square wave at f_CLK / 2**21 ≈ 0.98 Hz.
TEST_SIGNAL_UV = 4.5e6 / 2400.0
TEST_SIGNAL_HZ = 2.048e6 / 2**21
#: Lead-off test current (6 nA at 31.25 Hz) and the board's series resistor (2.2 kΩ), as the
#: OpenBCI GUI assumes: impedance = √2·std(µV)·1e-6 / 6 nA − 2200 Ω.
LEAD_OFF_CURRENT_A = 6e-9
LEAD_OFF_HZ = 31.25
SERIES_RESISTOR_OHM = 2200.0


@dataclass(frozen=True)
class ChannelSetting:
    """One channel's settings; the defaults are the Cyton's power-on defaults."""

    power_on: bool = True
    gain: int = 24
    input_type: int = INPUT_NORMAL
    bias: bool = True
    srb2: bool = True
    srb1: bool = False
    lead_off_p: bool = False
    lead_off_n: bool = False


class ChannelCommandError(ValueError):
    """An x/z command the board rejects; the message is the board's failure text."""


def parse_channel_command(
    cmd: str, letters: str, current: list[ChannelSetting]
) -> tuple[int, ChannelSetting]:
    """Apply ``xCPGIBSRX`` to ``current``: returns (channel index, new setting)."""
    if len(cmd) != 9 or cmd[0] != "x" or cmd[8] != "X":
        raise ChannelCommandError("Failure: too few chars")
    index = letters.find(cmd[1])
    if index < 0 or index >= len(current):
        raise ChannelCommandError(f"Failure: invalid channel {cmd[1]!r}")
    power, gain, input_type, bias, srb2, srb1 = cmd[2:8]
    if (
        power not in "01"
        or not ("0" <= gain <= "6")
        or not ("0" <= input_type <= "7")
        or any(flag not in "01" for flag in (bias, srb2, srb1))
    ):
        raise ChannelCommandError("Failure: invalid channel settings")
    setting = replace(
        current[index],
        power_on=power == "0",
        gain=GAIN_BY_CODE[int(gain)],
        input_type=int(input_type),
        bias=bias == "1",
        srb2=srb2 == "1",
        srb1=srb1 == "1",
    )
    return index, setting


def parse_lead_off_command(
    cmd: str, letters: str, current: list[ChannelSetting]
) -> tuple[int, ChannelSetting]:
    """Apply ``zCPNZ`` to ``current``: returns (channel index, new setting)."""
    if len(cmd) != 5 or cmd[0] != "z" or cmd[4] != "Z":
        raise ChannelCommandError("Failure: too few chars")
    index = letters.find(cmd[1])
    if index < 0 or index >= len(current) or cmd[2] not in "01" or cmd[3] not in "01":
        raise ChannelCommandError("Failure: invalid lead off settings")
    return index, replace(current[index], lead_off_p=cmd[2] == "1", lead_off_n=cmd[3] == "1")


def front_end_uv(
    uv: np.ndarray,
    settings: list[ChannelSetting] | tuple[ChannelSetting, ...],
    t_s: np.ndarray,
    electrode_impedance_ohm: float,
) -> np.ndarray:
    """What each channel's ADC sees: (n_channels, n) µV after the channel settings.

    Powered-down and shorted inputs read 0 µV; the test-signal input reads the ADS1299 test
    square wave; a channel with lead-off current on reads its electrode's signal plus the
    31.25 Hz sine the current makes across electrode impedance plus series resistor.
    """
    out = np.array(uv, dtype=float, copy=True)
    for ch, s in enumerate(settings):
        if not s.power_on or s.input_type == INPUT_SHORTED:
            out[ch] = 0.0
        elif s.input_type == INPUT_TEST:
            out[ch] = TEST_SIGNAL_UV * np.where(np.sin(2 * np.pi * TEST_SIGNAL_HZ * t_s) >= 0,
                                                1.0, -1.0)
        if s.power_on and (s.lead_off_p or s.lead_off_n):
            peak_uv = LEAD_OFF_CURRENT_A * (electrode_impedance_ohm + SERIES_RESISTOR_OHM) * 1e6
            out[ch] += peak_uv * np.sin(2 * np.pi * LEAD_OFF_HZ * t_s)
    return out
