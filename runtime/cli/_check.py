"""``kintsugi check``: per-channel signal check before a session, as a pass/fail table."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check every channel's signal before a session (railed, flat, line noise, "
        "impedance)",
        description=(
            "Open the configured board (not through a daemon: stop `kintsugi run` first), read "
            "S seconds and judge each channel: railed % of the ADS1299 full scale, flat, mains "
            "hum at the [features.eeg] line_freq_hz, and electrode impedance on boards with a "
            "lead-off test (Cyton, Cyton+Daisy, Galea). Prints a table and what to fix. Exit "
            "status: 0 all pass, 1 a channel fails, 2 bad arguments, 3 the board cannot be "
            "opened. Works on the synthetic board and on sim scenarios ([source] scenario)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-c", "--config", required=True, help="TOML config (see configs/)")
    parser.add_argument("--seconds", type=float, default=4.0, metavar="S",
                        help="seconds of signal to judge")
    parser.add_argument("--board", default=None, help="override [source] board")
    parser.add_argument("--serial-port", default=None, help="override [source] serial_port")
    parser.add_argument("--ip-address", default=None, help="override [source] ip_address")
    parser.add_argument("--file", default=None, help="override [source] file (playback)")
    parser.add_argument("--no-impedance", action="store_true",
                        help="skip the lead-off impedance test")
    parser.add_argument("--max-impedance-kohm", type=float, default=50.0, metavar="K",
                        help="fail channels whose impedance is above K kΩ")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_handle)


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def print_table(result: Any) -> None:
    """The check as a table (rich: colours on a terminal, plain text in a pipe)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    style = {"pass": "green", "warn": "yellow", "fail": "bold red"}
    table = Table(
        title=f"Signal check: {result.board}, {result.seconds:g} s at {result.fs:g} Hz",
        title_justify="left",
    )
    for header, justify in (("channel", "left"), ("RMS µV", "right"), ("railed %", "right"),
                            (f"{result.line_freq_hz:g} Hz µV", "right"), ("imp. kΩ", "right"),
                            ("verdict", "left")):
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("problems")
    for c in result.channels:
        line = _fmt(c.line_uv, ".1f")
        table.add_row(
            c.name if c.kind == "eeg" else f"{c.name} ({c.kind})", _fmt(c.rms_uv, ".1f"),
            _fmt(c.railed_percent, ".1f"), line,
            _fmt(c.impedance_kohm, ".1f"), f"[{style[c.verdict]}]{c.verdict.upper()}[/]",
            ", ".join(c.problems),
        )
    console.print(table)
    console.print(f"impedance: {result.impedance_note}")
    fixes: dict[str, list[str]] = {}
    for c in result.channels:
        for problem, fix in zip(c.problems, c.fixes, strict=True):
            fixes.setdefault(f"{problem}: {fix}", []).append(c.name)
    if fixes:
        console.print("\nWhat to fix:")
        for text, names in fixes.items():
            console.print(f"  - {', '.join(names)} — {text}")
    failed = [c.name for c in result.channels if c.verdict == "fail"]
    if failed:
        console.print(f"\n[bold red]FAIL[/]: {len(failed)} of {len(result.channels)} channels "
                      f"({', '.join(failed)})")
    else:
        console.print(f"\n[green]PASS[/]: all {len(result.channels)} channels")


def _handle(args: argparse.Namespace) -> int:
    from drivers import DeviceError, set_brainflow_logging
    from runtime.config import load_config, with_overrides
    from runtime.lab import CheckSettings, check_signal

    settings = CheckSettings(
        seconds=args.seconds,
        impedance=not args.no_impedance,
        max_impedance_kohm=args.max_impedance_kohm,
    )
    config = load_config(args.config)
    config = with_overrides(
        config, "source", board=args.board, serial_port=args.serial_port,
        ip_address=args.ip_address, file=args.file,
    )
    set_brainflow_logging(args.verbose >= 2)
    try:
        result = check_signal(config, settings)
    except DeviceError as exc:
        print(f"kintsugi check: error: {exc}", file=sys.stderr)
        return _exit.STARTUP_FAILURE
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print_table(result)
    return _exit.OK if result.passed else _exit.FOUND
