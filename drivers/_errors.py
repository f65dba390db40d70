"""Device errors, and the one place BrainFlow exit codes become them."""

from __future__ import annotations


class DeviceError(Exception):
    """A board could not be opened, configured or read. Keeps BrainFlow's exit code."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class DeviceNotFoundError(DeviceError):
    """The board is absent at the given port/address, or the address is missing."""


class DeviceLostError(DeviceError):
    """A board that was streaming stopped answering."""


# BrainFlow exit codes (brainflow.exit_codes.BrainFlowExitCodes), by value, so this module
# does not depend on the enum's spelling across versions.
_NOT_FOUND_CODES = {2: "UNABLE_TO_OPEN_PORT", 3: "SER_PORT", 7: "BOARD_NOT_READY", 6: "INITIAL_MSG"}
_INVALID_ARGUMENTS = 13


def _where(board: str, serial_port: str, ip_address: str, mac_address: str) -> str:
    if serial_port:
        return f"serial port {serial_port!r}"
    if ip_address:
        return f"IP address {ip_address!r}"
    if mac_address:
        return f"MAC address {mac_address!r}"
    return f"board {board!r}"


def find_hint(board: str) -> str:
    """How to find the right port or address for ``board``."""
    if board in ("cyton", "cyton-daisy", "ganglion"):
        return (
            "Plug in the dongle and list serial ports (Linux: `ls /dev/ttyUSB* /dev/ttyACM*`; "
            "macOS: `ls /dev/cu.usbserial-*`; Windows: Device Manager → Ports), then pass it "
            "with --serial-port PORT or `serial_port` in the [source] table."
        )
    if board == "galea":
        return (
            "Check the headset is on the same network and pass its address with "
            "--ip-address ADDR or `ip_address` in the [source] table."
        )
    if board == "playback":
        return "Check the recording's path (`file` in the [source] table) and that it exists."
    return "Check the [source] table of the config."


def translate_brainflow_error(
    exc: Exception,
    *,
    action: str,
    board: str,
    serial_port: str = "",
    ip_address: str = "",
    mac_address: str = "",
) -> DeviceError:
    """Turn a BrainFlowError raised while doing ``action`` into a DeviceError with a fix."""
    code = getattr(exc, "exit_code", None)
    where = _where(board, serial_port, ip_address, mac_address)
    if action == "open" and code in _NOT_FOUND_CODES:
        return DeviceNotFoundError(
            f"no {board} board answered at {where} "
            f"(BrainFlow {_NOT_FOUND_CODES[code]}, code {code}). {find_hint(board)}",
            exit_code=code,
        )
    if action == "open" and code == _INVALID_ARGUMENTS:
        return DeviceNotFoundError(
            f"BrainFlow rejected the parameters for the {board} board at {where} "
            f"(INVALID_ARGUMENTS, code {code}). {find_hint(board)}",
            exit_code=code,
        )
    return DeviceError(f"{action} failed for the {board} board at {where}: {exc}", exit_code=code)
