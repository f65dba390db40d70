"""``kintsugi bands``: absolute band powers and the engagement index of a recording."""

from __future__ import annotations

import argparse
import json

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bands",
        help="EEG band powers of a recording",
        description=(
            "Welch PSD (Hann, 2 s segments, 50 % overlap) integrated over δ 1–4, θ 4–8, "
            "α 8–13, β 13–30, γ 30–45 Hz (each [low, high); signal units², µV² for µV), "
            "and the engagement index β/(α+θ)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "file", metavar="FILE", help=".npy (1-D) or .csv (one column, or --column; header ok)"
    )
    parser.add_argument("--fs", type=float, required=True, help="sampling rate, Hz")
    parser.add_argument("--column", type=int, default=None, help="CSV column (0-based)")
    parser.add_argument("--segment-s", type=float, default=2.0, help="Welch segment length")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    import numpy as np

    from runtime.cli._signal_file import check_fs, read_signal
    from runtime.errors import ConfigError
    from runtime.features import BAND_NAMES, compute_band_powers, compute_engagement_index

    x = read_signal(args.file, args.column)
    fs = check_fs(args.fs)
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise ConfigError(
            f"{args.file} has {bad} non-finite samples (NaN/inf); band powers need a "
            "gap-free signal: cut or interpolate the gaps first"
        )
    if not args.segment_s > 0:
        raise ConfigError(f"--segment-s must be > 0 seconds; {args.segment_s} is invalid")
    if x.size < args.segment_s * fs:
        raise ConfigError(
            f"{args.file} is {x.size / fs:.2f} s long; band powers need at least one "
            f"{args.segment_s} s segment (--segment-s)"
        )
    powers = compute_band_powers(x, fs, segment_s=args.segment_s)
    result = {name: float(p) for name, p in zip(BAND_NAMES, powers, strict=True)}
    result["engagement_index"] = float(compute_engagement_index(powers))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<17} {value:.6g}")
    return _exit.OK
