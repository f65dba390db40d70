"""``kintsugi sim``: render a scenario into a BrainFlow-format recording with ground truth.

The recording has the chosen board's row layout, so BrainFlow's playback board replays it
through the real driver code path (``master_board`` = that board, ``file`` = the output,
``file_aux`` = ``PATH.aux`` for boards whose heart signal is on the auxiliary preset).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from runtime.cli import _exit

#: Boards the simulator can lay out (names as in `kintsugi boards`).
SIM_BOARDS: tuple[str, ...] = ("synthetic", "cyton", "galea")


def _speed(text: str) -> float:
    """Parse --speed: a factor > 0, or 0 / "max" for all-zero timestamps."""
    if text.strip().lower() == "max":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--speed must be a number >= 0 or 'max'; {text!r} is not (e.g. --speed 10)."
        ) from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(
            f"--speed must be a finite number >= 0 or 'max'; {text!r} is invalid."
        )
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="write a simulated session (BrainFlow file + ground truth) from a scenario",
        description=(
            "Render SCENARIO (a .toml path, or a name in configs/scenarios/) into a recording "
            "in BOARD's row layout, in BrainFlow's file format, with the ground truth beside "
            "it (PATH.truth.npz, PATH.truth.json; PATH.aux for Galea's auxiliary preset). "
            "Replay it with BrainFlow's playback board (master_board = BOARD)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped name")
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="recording to write (its directory must exist)")
    parser.add_argument("--board", choices=tuple(SIM_BOARDS), default="synthetic",
                        help="board whose row layout and sampling rate to use")
    parser.add_argument(
        "--speed", type=_speed, default=1.0, metavar="K",
        help="timestamps for replay K times faster than real time; 0 or 'max' writes zero "
             "timestamps (replay as fast as possible)",
    )
    parser.add_argument("--seconds", type=float, default=None, metavar="S",
                        help="render only the first S seconds (unset: the whole scenario)")
    parser.set_defaults(handler=_handle)


def board_layout(board: str) -> Any:
    """The :class:`sim.BoardLayout` of a board (see :func:`runtime.scenario.sim_layout_for`)."""
    from runtime.scenario import sim_layout_for

    return sim_layout_for(board)


def _rows(rows: tuple[int, ...]) -> str:
    if not rows:
        return "-"
    if len(rows) > 2 and rows == tuple(range(rows[0], rows[-1] + 1)):
        return f"{rows[0]}-{rows[-1]}"
    return ",".join(map(str, rows))


def _describe(path: Path, data: Any, layout: Any) -> str:
    n = data.shape[1]
    return (
        f"wrote {path}: {data.shape[0]} rows x {n} samples at {layout.sampling_rate:g} Hz "
        f"({layout.name or 'generic'}); EEG rows {_rows(layout.eeg_rows)} (uV), "
        f"ECG rows {_rows(layout.ecg_rows)} (uV), PPG rows {_rows(layout.ppg_rows)}, "
        f"counter row {layout.package_num_row}, timestamp row {layout.timestamp_row}, "
        f"marker row {layout.marker_row if layout.marker_row is not None else '-'}"
    )


def _handle(args: argparse.Namespace) -> int:
    from runtime.errors import ConfigError
    from sim import SimError, load_scenario, render_session

    out = Path(args.output)
    if not out.parent.is_dir():
        raise ConfigError(
            f"-o/--output: directory {str(out.parent)!r} of {str(out)!r} does not exist; "
            "create it first or write somewhere else."
        )
    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        raise ConfigError(f"--seconds must be a number > 0; {args.seconds!r} is invalid.")
    try:
        scenario = load_scenario(args.scenario)
        layout = board_layout(args.board)
        rec = render_session(scenario, layout, speed=args.speed, duration_s=args.seconds)
        written = rec.write(out)
    except SimError as exc:
        raise ConfigError(str(exc)) from exc
    truth = rec.truth
    speed = "max (zero timestamps)" if args.speed == 0 else f"{args.speed:g}x"
    print(f"scenario {scenario.name} ({scenario.source}): {truth.duration_s:g} s, seed "
          f"{scenario.seed}, calibration {truth.calibration_s:g} s, board {args.board}, "
          f"speed {speed}")
    print(_describe(written.data, rec.data, layout))
    if written.aux is not None:
        print(_describe(written.aux, rec.aux_data, layout.aux) + " [auxiliary preset]")
    print(f"wrote {written.truth_npz} and {written.truth_json}: {truth.beat_times_s.size} "
          f"beats, {len(truth.artifacts)} artifact spans")
    if truth.skipped_artifacts:
        print(f"skipped artifacts {list(truth.skipped_artifacts)}: board {args.board} lacks "
              "their signal")
    aux_hint = f', file_aux = "{written.aux}"' if written.aux is not None else ""
    print(f'replay: [source] board = "playback", master_board = "{args.board}", '
          f'file = "{written.data}"{aux_hint}')
    return _exit.OK
