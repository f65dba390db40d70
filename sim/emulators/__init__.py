"""Device emulators: BrainFlow's real Cyton (serial) and Galea (UDP) drivers, under test.

:class:`CytonEmulator` answers on a pseudo-terminal as an OpenBCI Cyton (or Cyton+Daisy)
does; :class:`GaleaEmulator` answers on loopback UDP as a Galea does. Each streams a
:class:`DeviceFeed` (a sim/ scenario via :func:`scenario_feed`, so the driver path carries
signals with known ground truth, or a test tone via :func:`sine_feed`) at the board's
rate, and injects :class:`Fault` s (unplug, freeze, garbage, corrupt, drop, rate; see
:func:`parse_fault`). ``CytonEmulator(write_log=N)`` keeps when each packet's bytes were
written (:class:`PacketWriteLog`), for latency timed from the device. Imports only numpy,
scipy and the standard library.
"""

from sim.emulators._ads1299 import GAIN_BY_CODE, uv_per_count, uv_to_counts
from sim.emulators._cyton import CytonEmulator
from sim.emulators._device import EmulatorStats, StreamingDevice
from sim.emulators._errors import EmulatorError, FaultSpecError
from sim.emulators._faults import FAULT_HELP, FAULT_KINDS, Fault, parse_fault
from sim.emulators._feed import DEVICES, DeviceFeed, DeviceSpec, scenario_feed, sine_feed
from sim.emulators._galea import GaleaEmulator
from sim.emulators._galea_protocol import GALEA_PORT
from sim.emulators._write_log import PacketWrite, PacketWriteLog

__all__ = [
    "DEVICES",
    "FAULT_HELP",
    "FAULT_KINDS",
    "GAIN_BY_CODE",
    "GALEA_PORT",
    "CytonEmulator",
    "DeviceFeed",
    "DeviceSpec",
    "EmulatorError",
    "EmulatorStats",
    "Fault",
    "FaultSpecError",
    "GaleaEmulator",
    "PacketWrite",
    "PacketWriteLog",
    "StreamingDevice",
    "parse_fault",
    "scenario_feed",
    "sine_feed",
    "uv_per_count",
    "uv_to_counts",
]
