"""``kintsugi forget ID``: remove every session, baseline and training log of a participant."""

from __future__ import annotations

import argparse
import shlex
import sys

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forget",
        help="delete every session, baseline and training log of a participant",
        description=(
            "Delete everything of participant ID under --root: each session directory whose "
            "session.json names ID, its saved baselines, and its training logs. Each is "
            "renamed to a tombstone first (atomic), then deleted, so a crash or kill -9 "
            "leaves every session whole or gone; the next run finishes what a killed one "
            "left. Afterwards the root is scanned again; an audit line (what was removed, "
            "when, by which command; no data) is appended to ROOT/audit.jsonl. "
            "--dry-run lists what would be removed."
        ),
        epilog=(
            "Exit status: 0 removed and verified (or nothing found), 1 something of ID is "
            "still there after the deletion (listed), 2 bad arguments or root."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("participant", metavar="ID", help="pseudonymous participant id (P01)")
    parser.add_argument("--root", default=None, metavar="DIR",
                        help="participant store (default $KINTSUGI_HOME or ~/.kintsugi)")
    parser.add_argument("--dry-run", action="store_true", help="list only; delete nothing")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from runtime.participants import (
        check_participant_id,
        check_root,
        find_participant_data,
        forget_participant,
        resolve_root,
    )

    root = check_root(resolve_root(args.root))
    participant = check_participant_id(args.participant)
    if args.dry_run:
        found = find_participant_data(root, participant)
        for path in found.paths:
            print(f"would remove {path}")
        counts = found.counts()
        print(f"kintsugi forget: {participant}: would remove {counts['sessions']} session(s), "
              f"{counts['baselines']} baseline store(s), {counts['training_logs']} training "
              "log(s) (dry run)")
        return _exit.OK
    command = shlex.join(["kintsugi", "forget", participant, "--root", str(root)])
    report = forget_participant(
        root, participant, command, on_removed=lambda p: print(f"removed {p}", flush=True)
    )
    counts = report.removed.counts()
    for path in report.unreadable_sessions:
        print(f"warning: {path}/session.json is unreadable: check by hand whose it is",
              file=sys.stderr)
    if not report.complete:
        for path in (*report.remaining.paths, *report.leftover_tombstones):
            print(f"still there: {path}", file=sys.stderr)
        print(f"kintsugi forget: {participant}: NOT everything was removed (see above)",
              file=sys.stderr)
        return _exit.FOUND
    print(
        f"kintsugi forget: {participant}: removed {counts['sessions']} session(s), "
        f"{counts['baselines']} baseline store(s), {counts['training_logs']} training log(s); "
        f"verified nothing is left; audit line in {root / 'audit.jsonl'}"
    )
    return _exit.OK
