"""``kintsugi boards``: the supported boards, their presets, channels and rates."""

from __future__ import annotations

import argparse
import json
from typing import Any

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "boards",
        help="list supported boards, channels and rates",
        description="List the boards `[source] board` accepts, with each preset's channels.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_handle)


def describe_boards() -> list[dict[str, Any]]:
    """Every supported board with its presets' layouts."""
    from drivers import BOARDS, describe_presets

    out = []
    for spec in BOARDS.values():
        presets = {} if spec.name == "playback" else describe_presets(spec.board_id)
        out.append(
            {
                "name": spec.name,
                "board_id": spec.board_id,
                "connect_with": spec.needs,
                "description": spec.description,
                "presets": {name: layout.to_dict() for name, layout in presets.items()},
            }
        )
    return out


def _handle(args: argparse.Namespace) -> int:
    boards = describe_boards()
    if args.json:
        print(json.dumps(boards, indent=2))
        return _exit.OK
    print(f"{'board':<12} {'id':>3}  {'connect with':<12} presets")
    for board in boards:
        parts = []
        for name, p in board["presets"].items():
            kinds = [
                f"{len(p[k])} {k.removesuffix('_rows').upper()}"
                for k in ("eeg_rows", "ppg_rows", "eda_rows")
                if p[k]
            ]
            parts.append(f"{name} @ {p['sampling_rate']:g} Hz: {', '.join(kinds) or '-'}")
        if board["name"] == "playback":
            parts.append("rows of its master_board, replayed from a file")
        print(
            f"{board['name']:<12} {board['board_id']:>3}  {board['connect_with'] or '-':<12} "
            f"{'; '.join(parts)}"
        )
    return _exit.OK
