"""``kintsugi fracture-detect``, ``golden-repair`` and ``art-therapy``: checkpoint tools.

Thin wrappers over :mod:`runtime.checkpoint` (see ``docs/checkpoint-tools.md``); torch and
matplotlib are imported inside the handlers so ``kintsugi --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runtime.checkpoint import (
    DEFAULT_MAX_PER_TENSOR,
    DEFAULT_NORM_DECADES,
    DEFAULT_THRESHOLD,
)
from runtime.cli import _exit

#: ``golden-repair --passes`` when not given: a cap, not a count. Repair stops as soon as no
#: repairable fracture is left; 200 passes bring an outlier at any finite float32 value under
#: the default threshold (see ``runtime.checkpoint._repair.DEFAULT_MAX_PASSES``, the same
#: number; kept here so that ``--help`` does not import torch).
DEFAULT_MAX_PASSES = 200

_LOADING = (
    "Checkpoints are read with torch.load(path, map_location='cpu', weights_only=True): a "
    "plain state_dict, or a dict holding one under 'state_dict', 'model_state_dict' or "
    "'model' (other keys, e.g. an optimizer state, are kept but not scanned). A whole "
    "nn.Module saved with torch.save(model) is refused (unpickling it could run code): save "
    "model.state_dict() instead. Non-tensor entries and integer tensors are skipped and "
    "counted."
)
_KINDS = (
    "Fracture kinds: nonfinite (NaN/inf element); outlier (robust z = |w - median| / "
    "max(1.4826 MAD, the model's typical 1.4826 MAD) above --threshold); exploding_norm / "
    "vanishing_norm (a tensor's RMS, outliers set aside, more than --norm-decades decades "
    "above / below the typical RMS of tensors with the same role: weight, bias, "
    "running_var...); dead_unit (a row of a 2+-D weight whose largest magnitude is under "
    "1/1000 of the median row's; an embedding's single all-zero padding row is not one)."
)


def add_parser(subparsers: Any) -> None:
    """Register ``fracture-detect``, ``golden-repair`` and ``art-therapy``."""
    _add_detect(subparsers)
    _add_repair(subparsers)
    _add_art(subparsers)


def _add_detect(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fracture-detect",
        help="scan a PyTorch checkpoint for broken weights (NaN, outliers, wild norms, dead units)",
        description=(
            "Scan a checkpoint or state_dict for fractures and print a table, or with --json "
            "one JSON object: count (all fractures), reported, fractures (a list of {id, "
            "tensor, kind, index, value, score}; non-finite values as the strings 'nan', "
            "'inf', '-inf'), omitted (per tensor and kind, what --max-per-tensor left out), "
            "and a summary of the tensors scanned. "
            f"{_KINDS} {_LOADING} Exit status: 0 clean, 1 fractures found, 2 error."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--input", required=True, metavar="MODEL.pt", help="checkpoint to scan")
    _add_scan_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handle_detect)


def _add_repair(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "golden-repair",
        help="repair a checkpoint's fractures with golden-ratio blends into a new file",
        description=(
            "Repair all fractures (or the one --fracture-id names, as numbered by "
            "fracture-detect with the same settings) and write the result to --output; the "
            "input file is never modified and --output may not be it. A non-finite weight is "
            "replaced by its tensor's robust centre (median); an outlier is blended toward it, "
            "w' = w/phi + centre*(1 - 1/phi), keeping 61.8 % of its distance, so a gross "
            "outlier needs several passes (a weight of 1e6 in a small MLP, about 25). A tensor "
            "with an exploding or vanishing norm is rescaled to keep 61.8 % of its distance, in "
            "decades, from the typical RMS. Passes (scan, blend) repeat until no repairable "
            "fracture is left, up to --passes; the report gives the number of passes used. If "
            "the cap is reached with fractures left, the exit status is 1 and the message says "
            "how many remain and which --passes would finish. Dead units are not "
            "repaired (nothing to blend toward). The written file is re-read with "
            "weights_only=True and compared; with --model-class the repaired state_dict is "
            "loaded with strict=True and, with --input-shape, a forward pass on a seeded "
            "random input must be finite (it is run on the original weights too, for "
            f"comparison). {_LOADING} Exit status: 0 repaired and checks passed, 1 fractures "
            "remain (--passes reached, or dead units) or the forward pass is not finite, 2 "
            "error."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--input", required=True, metavar="MODEL.pt", help="checkpoint to repair")
    parser.add_argument(
        "--output", "-o", required=True, metavar="FIXED.pt", help="where to write the repair"
    )
    parser.add_argument(
        "--fracture-id", type=int, default=None, metavar="N", help="repair only this fracture"
    )
    parser.add_argument(
        "--passes",
        type=int,
        default=DEFAULT_MAX_PASSES,
        metavar="N",
        help="cap on scan-and-blend passes; repair stops as soon as no repairable fracture "
        "is left (a clean checkpoint runs none)",
    )
    _add_scan_options(parser)
    parser.add_argument(
        "--model-class",
        default=None,
        metavar="MODULE:CLASS",
        help="model to check the repair on: package.module:Class (the current directory is "
        "importable) or path/to/file.py:Class",
    )
    parser.add_argument(
        "--model-kwargs", default=None, metavar="JSON", help="constructor arguments, a JSON object"
    )
    parser.add_argument(
        "--input-shape",
        default=None,
        metavar="1,16",
        help="shape of the random input for the forward-pass check (needs --model-class)",
    )
    parser.add_argument(
        "--input-dtype",
        choices=("float32", "float64", "long"),
        default="float32",
        help="dtype of the random input: normal floats, or integers for embedding models",
    )
    parser.add_argument(
        "--input-high",
        type=int,
        default=2,
        metavar="K",
        help="with --input-dtype long, integers are drawn from [0, K)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handle_repair)


def _add_art(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "art-therapy",
        help="draw a checkpoint scan or a repair log as a kintsugi picture (PNG)",
        description=(
            "Draw a checkpoint (scanned as fracture-detect does) or a JSONL repair log as a "
            "kintsugi picture: each tensor (or module) a glazed ceramic tile whose size grows "
            "with the log of its element count, each fracture a golden seam through the spot "
            "where it was (a gold-filled loss for NaN/inf, a seam along the row for a dead "
            "unit, a seam across the tile for a wild norm). A clean model is an unbroken "
            "bowl. Repair logs hold one JSON object per line with a 'tensor' or 'module' name, "
            "a 'kind', a 'count' or an 'index', and a 'step' (the aggregate events of "
            "runtime.training.RepairLog, with 'nonfinite'/'outliers' counts, are read too); "
            "unknown keys and a torn last line are tolerated. The picture is seeded from the "
            "file's bytes: the same file gives the same PNG. Exit status: 0 drawn, 2 error."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--input", required=True, metavar="MODEL.pt|REPAIRS.jsonl", help="what to draw"
    )
    parser.add_argument("--output", "-o", required=True, metavar="ART.png", help="PNG to write")
    _add_scan_options(parser, listing=False)
    parser.set_defaults(handler=_handle_art)


def _add_scan_options(parser: argparse.ArgumentParser, listing: bool = True) -> None:
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        metavar="T",
        help="robust z above which a weight is an outlier",
    )
    parser.add_argument(
        "--norm-decades",
        type=float,
        default=DEFAULT_NORM_DECADES,
        metavar="D",
        help="decades (powers of 10) between a tensor's RMS and its role's typical RMS that "
        "make an exploding or vanishing norm",
    )
    if not listing:
        return
    parser.add_argument(
        "--max-per-tensor",
        type=int,
        default=DEFAULT_MAX_PER_TENSOR,
        metavar="K",
        help="fractures listed per tensor and kind (all are counted and repaired)",
    )


def _scan_config(args: argparse.Namespace) -> Any:
    from runtime.checkpoint import ScanConfig
    from runtime.errors import ConfigError

    try:
        return ScanConfig(
            threshold=args.threshold,
            norm_decades=args.norm_decades,
            max_per_tensor=getattr(args, "max_per_tensor", DEFAULT_MAX_PER_TENSOR),
        )
    except ConfigError as exc:  # name the flag rather than the dataclass field
        message = str(exc)
        for field, flag in (
            ("'threshold'", "--threshold"),
            ("'norm_decades'", "--norm-decades"),
            ("'max_per_tensor'", "--max-per-tensor"),
        ):
            message = message.replace(f"The argument {field}", flag)
        raise ConfigError(message) from exc


def _handle_detect(args: argparse.Namespace) -> int:
    from runtime.checkpoint import format_scan, load_checkpoint, scan_tensors

    config = _scan_config(args)
    checkpoint = load_checkpoint(args.input)
    scan = scan_tensors(checkpoint.tensors, config, checkpoint.skipped)
    if args.json:
        document = {"input": args.input, **scan.to_dict()}
        print(json.dumps(document, indent=2, allow_nan=False))
    else:
        print(format_scan(scan, args.input), end="")
    return _exit.OK if scan.clean else _exit.FOUND


def _handle_repair(args: argparse.Namespace) -> int:
    from runtime.checkpoint import (
        ModelCheck,
        format_repair,
        golden_repair,
        parse_input_shape,
        parse_model_kwargs,
    )
    from runtime.errors import ConfigError

    config = _scan_config(args)
    if args.input_high < 1:
        raise ConfigError(f"--input-high must be at least 1; {args.input_high} is invalid.")
    if args.model_kwargs is not None and args.model_class is None:
        raise ConfigError("--model-kwargs needs --model-class (the class they are passed to).")
    check = ModelCheck(
        model_class=args.model_class,
        model_kwargs=parse_model_kwargs(args.model_kwargs),
        input_shape=None if args.input_shape is None else parse_input_shape(args.input_shape),
        input_dtype=args.input_dtype,
        input_high=args.input_high,
    )
    report = golden_repair(
        args.input,
        args.output,
        config,
        fracture_id=args.fracture_id,
        passes=args.passes,
        check=check,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        if report.repair.limit_reached:  # the table's last note says it; JSON readers get this
            print(f"kintsugi golden-repair: {report.repair.hints[0]}", file=sys.stderr)
    else:
        print(format_repair(report), end="")
    return _exit.OK if report.ok else _exit.FOUND


def _handle_art(args: argparse.Namespace) -> int:
    from runtime.checkpoint import render_art

    result = render_art(args.input, args.output, _scan_config(args))
    what = "fractures" if result.source_kind == "checkpoint" else "repaired elements"
    print(
        f"wrote {result.path} ({result.width_px}x{result.height_px} px): {result.tiles} tiles, "
        f"{result.fractures:,} {what}"
    )
    return _exit.OK
