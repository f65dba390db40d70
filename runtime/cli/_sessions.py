"""``kintsugi sessions``: list the sessions under a root; retention with --older-than."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sessions",
        help="list recorded sessions under a root; remove old ones (--older-than --delete)",
        description=(
            "List the session directories under --root (participant, start, age). "
            "--older-than AGE (30d, 12h, 90m, 2w) keeps only sessions that started longer "
            "ago; with --delete they are removed as `kintsugi forget` removes them "
            "(tombstone first, verified, an audit line in ROOT/audit.jsonl)."
        ),
        epilog="Exit status: 0 done, 1 a session could not be removed, 2 bad arguments.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--root", default=None, metavar="DIR",
                        help="participant store (default $KINTSUGI_HOME or ~/.kintsugi)")
    parser.add_argument("--older-than", default=None, metavar="AGE",
                        help="only sessions older than AGE (a number and s, m, h, d or w)")
    parser.add_argument("--participant", default=None, metavar="ID",
                        help="only this participant's sessions")
    parser.add_argument("--delete", action="store_true",
                        help="remove the sessions listed (needs --older-than)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from runtime.errors import ConfigError
    from runtime.participants import (
        check_participant_id,
        check_root,
        delete_sessions,
        find_sessions,
        parse_age,
        resolve_root,
        session_started_at,
        sessions_older_than,
    )

    root = check_root(resolve_root(args.root))
    if args.participant is not None:
        check_participant_id(args.participant)
    if args.delete and args.older_than is None:
        raise ConfigError("--delete removes the sessions --older-than AGE selects: give it "
                          "(e.g. --older-than 30d)")
    now = time.time()
    if args.older_than is not None:
        entries = sessions_older_than(root, parse_age(args.older_than), now=now,
                                      participant=args.participant)
    else:
        entries = [e for e in find_sessions(root)
                   if args.participant is None or e.participant == args.participant]
    for entry in entries:
        started = session_started_at(entry)
        age_d = (now - started) / 86400.0
        print(f"{entry.participant or '-':<12} "
              f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}  "
              f"{age_d:7.1f} d  {entry.path}")
    if not args.delete:
        print(f"kintsugi sessions: {len(entries)} session(s)"
              + (f" older than {args.older_than}" if args.older_than else ""))
        return _exit.OK
    command = shlex.join(
        ["kintsugi", "sessions", "--root", str(root), "--older-than", args.older_than]
        + (["--participant", args.participant] if args.participant else []) + ["--delete"]
    )
    report = delete_sessions(root, entries, command, args.older_than)
    if not report.complete:
        for path in report.remaining:
            print(f"still there: {path}", file=sys.stderr)
        return _exit.FOUND
    print(f"kintsugi sessions: removed {len(report.removed)} session(s) older than "
          f"{args.older_than}; audit line in {root / 'audit.jsonl'}")
    return _exit.OK
