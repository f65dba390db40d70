"""``kintsugi bands``: absolute band powers and the engagement index of a recording.

Options that cannot give the bands are refused before any spectrum is computed: a band
above the Nyquist frequency (``--fs``), a Welch segment with too few samples or frequency
bins wider than the narrowest band (``--segment-s``). A flat signal (the live EEG path's
``flat_uv`` rule) is computed but flagged on stderr, with no engagement index.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bands",
        help="EEG band powers of a recording",
        description=(
            "Welch PSD (Hann, 2 s segments, 50 % overlap) integrated over δ 1–4, θ 4–8, "
            "α 8–13, β 13–30, γ 30–45 Hz (each [low, high); signal units², µV² for µV), "
            "and the engagement index β/(α+θ). Needs --fs ≥ twice the top band edge and "
            "segments whose frequency bins are no wider than the narrowest band."
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


def check_band_resolution(
    fs: float, segment_s: float, bands: dict[str, tuple[float, float]]
) -> None:
    """Refuse ``--fs``/``--segment-s`` that cannot resolve ``bands`` (Hz), naming the fix."""
    from runtime.errors import ConfigError
    from runtime.features import MIN_SAMPLES

    top_name, (_, top_hz) = max(bands.items(), key=lambda item: item[1][1])
    if top_hz > fs / 2:
        raise ConfigError(
            f"--fs {fs:g}: the {top_name} band reaches {top_hz:g} Hz, above the Nyquist "
            f"frequency fs/2 = {fs / 2:g} Hz, so its power cannot be measured; give the "
            f"recording's true sampling rate (these bands need --fs ≥ {2 * top_hz:g})"
        )
    if not segment_s > 0:
        raise ConfigError(f"--segment-s must be > 0 seconds; {segment_s} is invalid")
    narrow_name, (low, high) = min(bands.items(), key=lambda item: item[1][1] - item[1][0])
    width_hz = high - low
    # The shortest segment whose bins are no wider than the narrowest band, rounded up.
    needed_s = math.ceil(1000 * max(math.ceil(fs / width_hz), MIN_SAMPLES) / fs) / 1000
    n_per_segment = int(round(segment_s * fs))  # as compute_psd rounds it
    if n_per_segment < MIN_SAMPLES:
        raise ConfigError(
            f"--segment-s {segment_s:g}: at --fs {fs:g} a segment holds {n_per_segment} "
            f"samples, and a spectrum needs at least {MIN_SAMPLES}; use --segment-s ≥ "
            f"{needed_s:g} (the default 2 s gives 0.5 Hz bins)"
        )
    bin_hz = fs / n_per_segment
    if bin_hz > width_hz:
        raise ConfigError(
            f"--segment-s {segment_s:g}: {n_per_segment}-sample segments give {bin_hz:.3g} Hz "
            f"frequency bins, wider than the narrowest band ({narrow_name} {low:g}–{high:g} "
            f"Hz, {width_hz:g} Hz wide), so its power cannot be resolved; use --segment-s ≥ "
            f"{needed_s:g} (the default 2 s gives 0.5 Hz bins)"
        )


def _handle(args: argparse.Namespace) -> int:
    import numpy as np

    from runtime.cli._signal_file import check_fs, read_signal
    from runtime.errors import ConfigError
    from runtime.features import (
        BAND_NAMES,
        BANDS,
        EegFeatureSettings,
        SignalError,
        compute_band_powers,
        compute_engagement_index,
    )

    x = read_signal(args.file, args.column)
    fs = check_fs(args.fs)
    check_band_resolution(fs, args.segment_s, BANDS)
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise ConfigError(
            f"{args.file} has {bad} non-finite samples (NaN/inf); band powers need a "
            "gap-free signal: cut or interpolate the gaps first"
        )
    if x.size < args.segment_s * fs:
        raise ConfigError(
            f"{args.file} is {x.size / fs:.2f} s long; band powers need at least one "
            f"{args.segment_s} s segment (--segment-s)"
        )
    try:
        powers = compute_band_powers(x, fs, segment_s=args.segment_s)
    except SignalError as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    result: dict[str, Any] = {name: float(p) for name, p in zip(BAND_NAMES, powers, strict=True)}
    flat_uv = EegFeatureSettings().flat_uv
    std = float(x.std())
    if std < flat_uv:
        # The live path drops a channel this flat; its powers are the noise floor.
        unit_note = "" if np.ptp(x) == 0 else " if it is in µV"
        print(
            f"kintsugi bands: warning: {args.file} is flat (std {std:.3g}, below the live "
            f"EEG path's {flat_uv:g} µV flat-channel threshold{unit_note}): its band powers "
            "are not EEG and no engagement index is given; check the electrode contact and "
            "--column",
            file=sys.stderr,
        )
        result["engagement_index"] = None
    else:
        result["engagement_index"] = float(compute_engagement_index(powers))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            text = "n/a (flat signal)" if value is None else f"{value:.6g}"
            print(f"{key:<17} {text}")
    return _exit.OK
