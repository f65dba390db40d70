"""``kintsugi report DIR -o report.html``: a self-contained HTML page about a session."""

from __future__ import annotations

import argparse

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report of a recorded session",
        description=(
            "One self-contained HTML file (plots embedded) with attention, stress, control "
            "intensity and gentle mode, markers, decisions, channel quality and device state "
            "over time, and tables of markers, decisions, events and the configuration."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="a session directory")
    parser.add_argument("-o", "--output", default="report.html", metavar="PATH",
                        help="HTML file to write")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from runtime.lab import write_report

    path = write_report(args.directory, args.output)
    print(f"kintsugi report: {path}")
    return _exit.OK
