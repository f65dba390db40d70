"""``kintsugi export DIR``: a session's raw data as EDF+, BDF+ or FIF, markers as annotations."""

from __future__ import annotations

import argparse

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a recorded session to EDF+, BDF+ or FIF",
        description=(
            "Write the default preset's EEG (µV), ECG-wired channels and PPG rows of a session "
            "directory to EDF+ or BDF+ (pyedflib) or FIF (MNE), with every marker as an "
            "annotation at its sample. EDF keeps 16 bits per sample (scaled to each "
            "channel's range), BDF 24 bits, FIF float32."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="a session directory")
    parser.add_argument("--format", required=True, choices=("edf", "bdf", "fif"),
                        help="file format")
    parser.add_argument("-o", "--output", required=True, metavar="PATH", help="file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace PATH if it exists")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from runtime.lab import export_session

    signals = export_session(args.directory, args.format, args.output, overwrite=args.overwrite)
    n = signals.data.shape[1]
    print(
        f"kintsugi export: {len(signals.names)} channels × {n} samples "
        f"({n / signals.fs:.1f} s at {signals.fs:g} Hz), {len(signals.annotations)} markers "
        f"→ {args.output}"
    )
    return _exit.OK
