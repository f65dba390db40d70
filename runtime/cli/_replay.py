"""``kintsugi replay DIR``: run the whole pipeline on a recorded session (playback board)."""

from __future__ import annotations

import argparse

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a recorded session through the whole pipeline",
        description=(
            "Replay the raw data of a session directory (from `kintsugi run --record DIR`) "
            "through BrainFlow's playback board, with the features, controller and bus of a "
            "live session, and a progress bar. --speed K plays K× faster than real time "
            "(0: as fast as possible); the features are the same at any speed. Other tools "
            "(kintsugi monitor, watch, a training job) can attach to the replay's bus."
        ),
        epilog=(
            "Exit status: 0 the whole file played, 1 the replay ended before the file's end, "
            "2 bad arguments or session, 130 stopped by Ctrl-C / SIGTERM (a second Ctrl-C "
            "forces the exit at once)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="a session directory")
    parser.add_argument("--speed", type=float, default=1.0, metavar="K",
                        help="×real time; 0 = as fast as possible")
    parser.add_argument("-c", "--config", default=None,
                        help="replay with this config instead of the recorded one "
                        "([source] is replaced by the playback board)")
    parser.add_argument("--record", default=None, metavar="OUT",
                        help="record the replay as a new session directory")
    parser.add_argument("--publish-endpoint", default=None, help="override [bus] endpoint")
    parser.add_argument("--subscribe-endpoint", default=None, help="override [bus] endpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from drivers import set_brainflow_logging
    from runtime.config import load_config
    from runtime.lab import check_speed, replay_session

    speed = check_speed(args.speed)
    config = load_config(args.config) if args.config else None
    set_brainflow_logging(args.verbose >= 2)
    progress = Progress(
        TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TextColumn("samples"),
        TimeElapsedColumn(), TimeRemainingColumn(), disable=args.no_progress,
    )
    # replay_session runs the daemon's one run loop (Daemon.run_until_stopped): Ctrl-C stops
    # the replay cleanly, a second Ctrl-C forces the exit.
    with progress:
        task = progress.add_task("replay", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = replay_session(
            args.directory,
            speed=speed,
            config=config,
            record=args.record,
            bus_overrides={
                "publish_endpoint": args.publish_endpoint,
                "subscribe_endpoint": args.subscribe_endpoint,
            },
            on_progress=on_progress,
        )
    modes = ", ".join(f"{m}: {n}" for m, n in sorted(result.modes.items())) or "none"
    print(
        f"kintsugi replay: {result.samples} of {result.total} samples in {result.wall_s:.1f} s; "
        f"{result.features} feature estimates, {result.controls} control messages "
        f"({modes}), {result.decisions} decisions"
        + (f"; recorded to {args.record}" if args.record else "")
    )
    if result.signal:
        return _exit.INTERRUPTED
    return _exit.OK if result.complete else _exit.FOUND
