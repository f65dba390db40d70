"""Electrode impedance from the ADS1299's lead-off test current (OpenBCI Cyton, Daisy, Galea).

The board drives 6 nA at 31.25 Hz into one input of a channel (``z CH P N Z``: the OpenBCI
SDK's lead-off command); the channel then reads a 31.25 Hz sine whose peak is
6 nA × (electrode impedance + the board's 2.2 kΩ series resistor). As the OpenBCI GUI:
impedance = √2 · RMS(µV) · 1e-6 / 6 nA − 2200 Ω. The 31.25 Hz amplitude is taken by a least
squares fit of a sine and cosine at exactly that frequency (plus offset and slope), which
rejects EEG and mains hum at other frequencies; 31.25 Hz is fs/8 at 250 Hz, so windows of a
multiple of 8 samples hold whole cycles.

Channels are measured one at a time (the test current of one channel must not show on
another through the reference), on the N input: electrodes sit on the N pins when SRB2 is
the reference, the OpenBCI default.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

logger = logging.getLogger("runtime.lab")

LEAD_OFF_CURRENT_A = 6e-9
LEAD_OFF_HZ = 31.25
SERIES_RESISTOR_OHM = 2200.0
#: Channel letters of the OpenBCI SDK's x/z commands, by channel number - 1: Cyton 1–8,
#: Daisy Q–I (9–16), Galea A–L (17–24).
CHANNEL_LETTERS = "12345678QWERTYUIASDGHJKL"
#: Boards with a lead-off test, and how many ExG channels their commands address.
IMPEDANCE_BOARDS = {"cyton": 8, "cyton-daisy": 16, "galea": 24}


def supports_impedance(board: str) -> bool:
    """Whether ``board`` has a lead-off test the check can drive."""
    return board in IMPEDANCE_BOARDS


def lead_off_amplitude_uv(x: np.ndarray, fs: float, freq_hz: float = LEAD_OFF_HZ) -> float:
    """Peak amplitude (µV) of the ``freq_hz`` component of ``x``, by least squares."""
    x = np.asarray(x, dtype=np.float64)
    t = np.arange(x.size) / fs
    w = 2.0 * math.pi * freq_hz * t
    design = np.column_stack((np.sin(w), np.cos(w), np.ones_like(t), t - t.mean()))
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    return float(math.hypot(coef[0], coef[1]))


def impedance_from_amplitude_ohm(peak_uv: float) -> float:
    """Electrode impedance (Ω) from the lead-off sine's peak (µV): V/I minus the series resistor."""
    return peak_uv * 1e-6 / LEAD_OFF_CURRENT_A - SERIES_RESISTOR_OHM


def measure_impedance(
    send_command: Callable[[str], Any],
    read_samples: Callable[[int], np.ndarray],
    rows: Sequence[int],
    fs: float,
    *,
    measure_s: float = 1.0,
    settle_s: float = 0.5,
) -> dict[int, float]:
    """Impedance in kΩ of the channels in ``rows`` (ExG channel number = row, as on OpenBCI).

    ``send_command(text)`` sends a config command to the streaming board;
    ``read_samples(n)`` returns the next ``n`` samples of the default preset, all rows.
    The lead-off current is switched off again after each channel, also on errors.
    """
    n_measure = max(8, int(round(measure_s * fs / 8)) * 8)
    n_settle = int(round(settle_s * fs))
    out: dict[int, float] = {}
    for row in rows:
        if not 1 <= row <= len(CHANNEL_LETTERS):
            raise ValueError(f"row {row} has no lead-off command (channels 1–24 only)")
        letter = CHANNEL_LETTERS[row - 1]
        send_command(f"z{letter}01Z")
        try:
            if n_settle:
                read_samples(n_settle)
            block = read_samples(n_measure)[row]
        finally:
            send_command(f"z{letter}00Z")
        ohm = impedance_from_amplitude_ohm(lead_off_amplitude_uv(block, fs))
        out[row] = max(0.0, ohm) / 1000.0
        logger.info("impedance: channel %d: %.1f kΩ", row, out[row])
    if rows and n_settle:
        read_samples(n_settle)  # let the last channel settle before anyone reads on
    return out


class SampleReader:
    """Reads exactly ``n`` new samples of one preset from a streaming BrainFlowSource."""

    def __init__(self, source: Any, preset: str, timeout_s: float) -> None:
        self.source = source
        self.preset = preset
        self.timeout_s = timeout_s
        self._pending: dict[str, list[np.ndarray]] = {}
        self.fs = float(source.layouts[preset].sampling_rate)
        self._spare = np.zeros((source.layouts[preset].num_rows, 0))

    def __call__(self, n: int) -> np.ndarray:
        from drivers import DeviceError

        blocks, have = [self._spare], self._spare.shape[1]
        wait_s = self.timeout_s + n / self.fs
        deadline = time.monotonic() + wait_s
        while have < n:
            if time.monotonic() > deadline:
                raise DeviceError(
                    f"the {self.source.spec.name} board sent {have} of {n} samples in "
                    f"{wait_s:.1f} s: is it streaming?"
                )
            for chunk in self.source.read():
                if chunk.preset == self.preset:
                    blocks.append(chunk.data)
                    have += chunk.n_samples
                else:
                    self._pending.setdefault(chunk.preset, []).append(chunk.data)
            if have < n:
                time.sleep(0.01)
        data = np.hstack(blocks)
        self._spare = data[:, n:]
        return data[:, :n]

    def other(self, preset: str) -> np.ndarray | None:
        """Samples of another preset read meanwhile (e.g. Galea's PPG on the auxiliary one)."""
        blocks = self._pending.pop(preset, [])
        return np.hstack(blocks) if blocks else None
