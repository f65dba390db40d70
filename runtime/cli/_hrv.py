"""``kintsugi hrv``: heart rate and HRV of a whole PPG or ECG recording.

A figure is printed only when the recording passes the quality rules the live stress
estimator applies to each window (:class:`~runtime.features.HeartFeatureSettings`: at most
``max_missing_fraction`` missing samples, not flat, at least ``min_beats`` beats, at least
``min_kept_fraction`` of the RR intervals kept by the cleaner). Otherwise the command says
which rule failed, with the measured value and the threshold, prints nothing on stdout and
exits with :data:`~runtime.cli._exit.USAGE_ERROR`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from runtime.cli import _exit

if TYPE_CHECKING:
    import numpy as np

    from runtime.features import HeartFeatureSettings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hrv",
        help="HR and HRV of a PPG/ECG recording",
        description=(
            "Detect beats (PPG: Elgendi; ECG: Pan–Tompkins style), clean the RR intervals "
            "(plausible range, running median, successive change) and print hr_bpm, "
            "rmssd_ms, sdnn_ms, pnn50_pct and n_beats for the whole recording; "
            "baevsky_si and lf_hf when it lasts at least 120 s. NaN samples are gaps. "
            "The recording must pass the live stress estimator's quality rules "
            "([features.heart]: missing samples, flat signal, fewest beats, share of RR "
            "intervals kept); if it does not, nothing is printed on stdout, the rule, the "
            "measured value and the threshold go to stderr, and the exit code is 2."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "file", metavar="FILE", help=".npy (1-D) or .csv (one column, or --column; header ok)"
    )
    parser.add_argument("--fs", type=float, required=True, help="sampling rate, Hz")
    parser.add_argument("--kind", choices=("ppg", "ecg"), required=True, help="signal type")
    parser.add_argument("--column", type=int, default=None, help="CSV column (0-based)")
    parser.add_argument(
        "--min-kept-fraction",
        type=float,
        default=argparse.SUPPRESS,  # the help says where the default comes from
        metavar="SHARE",
        help="refuse when the RR cleaner keeps a smaller share of the intervals (default: "
        "the live estimator's features.heart.min_kept_fraction); lower it only to accept a "
        "recording with artifacts knowingly",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_handle)


def _settings(args: argparse.Namespace) -> HeartFeatureSettings:
    from pydantic import ValidationError

    from runtime.errors import ConfigError
    from runtime.features import HeartFeatureSettings

    value = getattr(args, "min_kept_fraction", None)
    if value is None:
        return HeartFeatureSettings()
    try:
        return HeartFeatureSettings(min_kept_fraction=value)
    except ValidationError:
        raise ConfigError(
            f"--min-kept-fraction must be a share in (0, 1]; {value} is "
            f"invalid (the live default is {HeartFeatureSettings().min_kept_fraction:g})"
        ) from None


def _refuse(file: str, rule: str, fix: str) -> Exception:
    from runtime.errors import ConfigError

    return ConfigError(f"{file}: refused, no HR/HRV given: {rule}; {fix}")


def _check_missing(file: str, missing: np.ndarray, settings: HeartFeatureSettings) -> None:
    n_missing = int(missing.sum())
    if n_missing > settings.max_missing_fraction * missing.size:
        raise _refuse(
            file,
            f"{n_missing} of {missing.size} samples ({n_missing / missing.size:.1%}) are "
            f"missing (NaN/inf or |x| > {settings.max_abs_value:g}), more than the "
            f"{settings.max_missing_fraction:.0%} the live estimator allows "
            "(features.heart.max_missing_fraction)",
            "cut the recording to a part without long gaps",
        )


def _check_kept(
    file: str,
    keep: np.ndarray,
    usable: int,
    settings: HeartFeatureSettings,
    kind: str,
    fs: float,
) -> float:
    n_kept = int(keep.sum())
    kept_fraction = n_kept / max(1, usable)
    if kept_fraction < settings.min_kept_fraction:
        raise _refuse(
            file,
            f"the RR cleaner kept only {n_kept} of {usable} intervals ({kept_fraction:.0%}; "
            f"the rest lie outside {settings.min_rr_ms:g}–{settings.max_rr_ms:g} ms or off "
            f"the running median), below the {settings.min_kept_fraction:.0%} the live "
            "estimator requires (features.heart.min_kept_fraction, --min-kept-fraction)",
            f"the signal has no clear pulse or heavy artifacts: check --kind {kind}, --fs "
            f"{fs:g} and the sensor's contact, cut the bad part, or lower "
            "--min-kept-fraction to accept it knowingly",
        )
    return kept_fraction


def _handle(args: argparse.Namespace) -> int:
    import numpy as np

    from runtime.cli._signal_file import check_fs, read_signal
    from runtime.errors import ConfigError
    from runtime.features import (
        HeartFeatureSettings,
        SignalError,
        clean_rr_with,
        compute_hrv,
        compute_rr_ms,
        detect_beats_ecg,
        detect_beats_ppg,
    )

    x = read_signal(args.file, args.column)
    fs = check_fs(args.fs)
    settings = _settings(args)
    duration_s = x.size / fs
    # The live path's rules (compute_window_hrv): missing samples, flat, beats, RR kept;
    # the detector first refuses a recording too short or too slowly sampled to search.
    with np.errstate(invalid="ignore"):
        missing = ~np.isfinite(x) | (np.abs(x) > settings.max_abs_value)
    _check_missing(args.file, missing, settings)
    x = np.where(missing, np.nan, x)  # gaps: no interval spans one
    detect = detect_beats_ppg if args.kind == "ppg" else detect_beats_ecg
    try:
        beats = detect(x, fs)
    except SignalError as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    finite = x[~missing]
    if finite.size == 0 or float(np.ptp(finite)) == 0.0:
        raise _refuse(
            args.file,
            "the signal is flat"
            + (f" (every sample is {finite[0]:g})" if finite.size else " (no finite samples)"),
            "there is no pulse in it: check the sensor and --column",
        )
    if beats.size < settings.min_beats:
        raise _refuse(
            args.file,
            f"{beats.size} beats found in {duration_s:.1f} s, fewer than the "
            f"{settings.min_beats} the live estimator needs (features.heart.min_beats)",
            f"give a longer recording, and check --kind {args.kind} and --fs {fs:g}",
        )
    rr = compute_rr_ms(beats, fs, missing=missing if missing.any() else None)
    keep = clean_rr_with(rr, settings)
    usable = int(np.isfinite(rr).sum())  # intervals spanning a gap are not counted
    kept_fraction = _check_kept(args.file, keep, usable, settings, args.kind, fs)
    default_kept = HeartFeatureSettings().min_kept_fraction
    if kept_fraction < default_kept:
        print(
            f"kintsugi hrv: warning: {args.file}: accepted with --min-kept-fraction "
            f"{settings.min_kept_fraction:g}; the live estimator would refuse it (it kept "
            f"{kept_fraction:.0%} of the RR intervals, the live rule needs "
            f"{default_kept:.0%})",
            file=sys.stderr,
        )
    try:
        metrics = compute_hrv(rr, keep, window_s=duration_s)
    except SignalError as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    result: dict[str, Any] = {
        "hr_bpm": metrics.hr_bpm,
        "rmssd_ms": metrics.rmssd_ms,
        "sdnn_ms": metrics.sdnn_ms,
        "pnn50_pct": metrics.pnn50_pct,
        "n_beats": int(beats.size),
        "n_rr_kept": int(keep.sum()),
        "n_rr_rejected": usable - int(keep.sum()),
        "baevsky_si": metrics.baevsky_si,
        "lf_hf": metrics.lf_hf,
        "duration_s": duration_s,
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
