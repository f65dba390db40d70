"""``kintsugi emulate``: a Cyton (pty) or Galea (UDP) emulator fed by a sim/ scenario.

The first line printed says where to connect (with ``--json``: an object with
``serial_port`` or ``ip_address``); the emulator then serves until Ctrl-C / SIGTERM or
``--duration``. ``kintsugi run -c configs/cyton.toml --serial-port PORT`` (or
``configs/galea.toml --ip-address ADDR``) then uses it like the real headset.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from runtime.cli import _exit

#: Boards with an emulator, and the config file that connects the daemon to each.
EMULATED_BOARDS: dict[str, str] = {
    "cyton": "configs/cyton.toml",
    "cyton-daisy": "configs/cyton.toml",
    "galea": "configs/galea.toml",
}
_FAULT_KINDS_HELP = (
    "unplug (close the port; +D: plug back in after D s), freeze (stop sending, port open), "
    "garbage (:bytes/s), corrupt (bad start/end bytes; :fraction), drop (lost packets; "
    ":fraction), rate (clock at :factor x nominal)"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emulate",
        help="emulate a Cyton (serial pty) or Galea (UDP) that streams a sim scenario",
        description=(
            "Emulate BOARD so that BrainFlow's real driver talks to it: a Cyton on a "
            "pseudo-terminal, a Galea on UDP port 2390 of --ip-address. It streams SCENARIO's "
            "physiology (EEG following the attention timeline; ECG on the Cyton's 8th channel "
            "or PPG on Galea's auxiliary preset, following the stress timeline), looping at "
            "the end. The first line printed says where to connect; then it serves until "
            "stopped. Faults are timed from when the driver starts streaming."
        ),
        epilog="example: kintsugi emulate cyton --fault freeze@30+5 (see docs/emulators.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("board", choices=tuple(EMULATED_BOARDS), help="board to emulate")
    parser.add_argument(
        "--scenario", default="ci_short", metavar="FILE",
        help="scenario file, or a name in configs/scenarios/",
    )
    parser.add_argument(
        "--fault", action="append", default=[], metavar="KIND@SECONDS",
        help="inject a fault, KIND@SECONDS[+DURATION][:VALUE] (repeatable); kinds: "
        + _FAULT_KINDS_HELP,
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument(
        "--speed", type=float, default=1.0, metavar="K",
        help="run the board's clock K times faster than real time",
    )
    parser.add_argument(
        "--ip-address", default="127.0.0.1", metavar="ADDR",
        help="galea: local address to listen on (any 127.x.y.z on Linux)",
    )
    parser.add_argument(
        "--link", default=None, metavar="PATH",
        help="cyton: keep PATH as a symlink to the current pty (stable across unplug+replug)",
    )
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds; unset: serve until stopped")
    parser.add_argument("--seed", type=int, default=0, help="seed of the injected faults")
    parser.set_defaults(handler=_handle)


def _config_hint(board: str) -> str:
    """The board's config path, relative to the working directory when it is inside it."""
    path = Path(__file__).resolve().parents[2] / EMULATED_BOARDS[board]
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _build(args: argparse.Namespace) -> tuple[Any, Any, list[Any]]:
    """The emulator (not started), its scenario and faults; ConfigError on bad arguments."""
    from runtime.errors import ConfigError
    from sim import SimError, load_scenario
    from sim.emulators import CytonEmulator, GaleaEmulator, parse_fault, scenario_feed

    try:
        faults = [parse_fault(text) for text in args.fault]
    except SimError as exc:
        raise ConfigError(f"--fault: {exc}") from exc
    if not (args.speed > 0 and args.speed < float("inf")):
        raise ConfigError(f"--speed must be a number > 0; {args.speed!r} is invalid (e.g. 4).")
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration must be > 0 seconds; {args.duration!r} is invalid.")
    try:
        scenario = load_scenario(args.scenario)
        feed, _truth = scenario_feed(scenario, args.board)
    except SimError as exc:
        raise ConfigError(f"--scenario {args.scenario!r}: {exc}") from exc
    common = {"speed": args.speed, "faults": faults, "seed": args.seed}
    if args.board == "galea":
        emulator = GaleaEmulator(feed, ip_address=args.ip_address, **common)
    else:
        emulator = CytonEmulator(feed, daisy=args.board == "cyton-daisy", link=args.link, **common)
    return emulator, scenario, faults


def _first_line(args: argparse.Namespace, emulator: Any, scenario: Any, faults: list[Any]) -> str:
    info = emulator.connect_info()
    flag = "--ip-address" if "ip_address" in info else "--serial-port"
    where = info.get("ip_address") or info.get("serial_port")
    board_flag = " --board cyton-daisy" if args.board == "cyton-daisy" else ""
    connect = f"kintsugi run -c {_config_hint(args.board)}{board_flag} {flag} {where}"
    if args.json:
        out = {"board": args.board, **info, "scenario": scenario.name, "speed": args.speed,
               "faults": [f.describe() for f in faults], "connect": connect}
        return json.dumps(out)
    key = "ip_address" if "ip_address" in info else "serial_port"
    described = ", ".join(f.describe() for f in faults) or "none"
    return (f"kintsugi emulate: {args.board} on {key}={where} (scenario {scenario.name}, "
            f"speed {args.speed:g}x, faults: {described}); connect with: {connect}")


def _handle(args: argparse.Namespace) -> int:
    from runtime._signals import StopSignals
    from sim.emulators import EmulatorError

    emulator, scenario, faults = _build(args)
    try:
        emulator.start()
    except EmulatorError as exc:
        print(f"kintsugi emulate: error: {exc}", file=sys.stderr)
        return _exit.STARTUP_FAILURE
    print(_first_line(args, emulator, scenario, faults), flush=True)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    shown = 0
    # The daemon's signal handling (runtime._signals): Ctrl-C / SIGTERM stop cleanly, a
    # second Ctrl-C while stopping forces the exit.
    with StopSignals("emulate") as signals:
        try:
            while not signals.stop.is_set() and emulator.running:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                signals.stop.wait(0.2)
                shown = _show_events(args, emulator, shown)
        finally:
            failure = None
            try:
                emulator.stop()
            except EmulatorError as exc:
                failure = exc
            _show_events(args, emulator, shown)
    stats = emulator.stats.to_dict()
    if args.json:
        print(json.dumps({"event": "stopped", "stats": stats}), flush=True)
    else:
        print(f"kintsugi emulate: stopped after {stats['packets_sent']} packets", flush=True)
    if failure is not None:
        print(f"kintsugi emulate: error: {failure}", file=sys.stderr)
        return _exit.STARTUP_FAILURE
    return _exit.OK


def _show_events(args: argparse.Namespace, emulator: Any, shown: int) -> int:
    """Print fault events logged since the last call; returns how many are shown."""
    log = emulator.stats.fault_log
    for t_s, what in log[shown:]:
        if args.json:
            print(json.dumps({"event": "fault", "t_s": round(t_s, 3), "what": what}), flush=True)
        else:
            print(f"kintsugi emulate: {t_s:8.3f} s: {what}", flush=True)
    return len(log)

