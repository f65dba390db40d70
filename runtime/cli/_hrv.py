"""``kintsugi hrv``: heart rate and HRV of a whole PPG or ECG recording."""

from __future__ import annotations

import argparse
import json

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hrv",
        help="HR and HRV of a PPG/ECG recording",
        description=(
            "Detect beats (PPG: Elgendi; ECG: Pan–Tompkins style), clean the RR intervals "
            "(plausible range, running median, successive change) and print hr_bpm, "
            "rmssd_ms, sdnn_ms, pnn50_pct and n_beats for the whole recording; "
            "baevsky_si and lf_hf when it lasts at least 120 s. NaN samples are gaps."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "file", metavar="FILE", help=".npy (1-D) or .csv (one column, or --column; header ok)"
    )
    parser.add_argument("--fs", type=float, required=True, help="sampling rate, Hz")
    parser.add_argument("--kind", choices=("ppg", "ecg"), required=True, help="signal type")
    parser.add_argument("--column", type=int, default=None, help="CSV column (0-based)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    import numpy as np

    from runtime.cli._signal_file import check_fs, read_signal
    from runtime.errors import ConfigError
    from runtime.features import (
        SignalError,
        clean_rr,
        compute_hrv,
        compute_rr_ms,
        detect_beats_ecg,
        detect_beats_ppg,
    )

    x = read_signal(args.file, args.column)
    fs = check_fs(args.fs)
    detect = detect_beats_ppg if args.kind == "ppg" else detect_beats_ecg
    missing = ~np.isfinite(x)  # gaps (NaN/inf): no interval spans one
    try:
        beats = detect(x, fs)
        rr = compute_rr_ms(beats, fs, missing=missing if missing.any() else None)
        keep = clean_rr(rr)
        metrics = compute_hrv(rr, keep, window_s=x.size / fs)
    except SignalError as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    result = {
        "hr_bpm": metrics.hr_bpm,
        "rmssd_ms": metrics.rmssd_ms,
        "sdnn_ms": metrics.sdnn_ms,
        "pnn50_pct": metrics.pnn50_pct,
        "n_beats": int(beats.size),
        "n_rr_kept": int(keep.sum()),
        "n_rr_rejected": int((~keep).sum()),
        "baevsky_si": metrics.baevsky_si,
        "lf_hf": metrics.lf_hf,
        "duration_s": x.size / fs,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if value is None:
                text = "n/a (needs ≥ 120 s)"
            else:
                text = str(value) if isinstance(value, int) else f"{value:.2f}"
            print(f"{key:<14} {text}")
    return _exit.OK
