"""``kintsugi baseline save|list|show|use``: a participant's saved baselines, versioned."""

from __future__ import annotations

import argparse
import json
import time

from runtime.cli import _exit

_ROOT_HELP = "participant store (default $KINTSUGI_HOME or ~/.kintsugi)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "baseline",
        help="save, list, show and pick a participant's resting baselines",
        description=(
            "A participant's resting baselines (attention and stress calibration), saved "
            "under a pseudonymous id with the settings each was made under, versioned. "
            "`kintsugi run --participant ID --baseline current` starts from the current one "
            "with no calibration wait. See docs/participants.md."
        ),
        epilog="Exit status: 0 done, 2 bad arguments, unknown id or version, bad session.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    save = actions.add_parser(
        "save",
        help="save a new version from a recorded session (or a baseline file)",
        description=(
            "Save a new baseline version for ID: the calibration of a session recorded with "
            "`kintsugi run --record DIR` (recomputed from its raw data with its recorded "
            "settings: the baseline the live features stage froze), or a baseline file. The "
            "new version becomes the current one unless --keep-current."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    save.add_argument("participant", metavar="ID", help="pseudonymous participant id (P01)")
    source = save.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="session", metavar="SESSION_DIR",
                        help="a recorded session directory")
    source.add_argument("--from-file", dest="file", metavar="FILE",
                        help="a baseline JSON file (an estimator's save_baseline, or a saved set)")
    save.add_argument("--keep-current", action="store_true",
                      help="do not make the new version the current one")
    listing = actions.add_parser("list", help="list saved baselines (of one participant)",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    listing.add_argument("participant", metavar="ID", nargs="?", default=None)
    show = actions.add_parser("show", help="show one saved baseline as JSON",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    show.add_argument("participant", metavar="ID")
    show.add_argument("version", metavar="VERSION", nargs="?", default="current",
                      help="a version number (3 or v3) or 'current'")
    use = actions.add_parser("use", help="make a version the current one",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    use.add_argument("participant", metavar="ID")
    use.add_argument("version", metavar="VERSION", help="a version number (3 or v3)")
    for sub in (save, listing, show, use):
        sub.add_argument("--root", default=None, metavar="DIR", help=_ROOT_HELP)
    parser.set_defaults(handler=_handle)


def _when(unix_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(unix_s))


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from runtime.participants import (
        BaselineStore,
        derive_session_baseline,
        read_baseline_sections,
        resolve_root,
        validate_participant,
    )
    from runtime.recorder import read_metadata

    store = BaselineStore(resolve_root(args.root))
    if args.participant is not None:
        validate_participant(args.participant)
    if args.action == "save":
        if args.session:
            from runtime.errors import ConfigError
            from runtime.participants import session_participant

            owner = session_participant(read_metadata(args.session))
            if owner is not None and owner != args.participant:
                raise ConfigError(
                    f"session {args.session!r} is participant {owner!r}'s, not "
                    f"{args.participant!r}'s: save it under {owner}"
                )
            sections = derive_session_baseline(args.session)
            source = {"session": str(Path(args.session).resolve())}
        else:
            sections = read_baseline_sections(Path(args.file))
            source = {"file": str(Path(args.file).resolve())}
        saved = store.save(args.participant, sections, source,
                           make_current=not args.keep_current)
        print(
            f"kintsugi baseline: saved {saved.participant} v{saved.version} "
            f"({', '.join(saved.covers)}) → {saved.path}"
            + ("; it is the current one" if saved.current else "")
        )
        return _exit.OK
    if args.action == "list":
        ids = [args.participant] if args.participant else store.participants()
        rows = [b for pid in ids for b in store.versions(pid)]
        if not rows:
            print(f"kintsugi baseline: no saved baselines under {store.directory}")
            return _exit.OK
        print(f"{'id':<12} {'version':>7}  {'current':<7}  {'created':<16}  {'covers':<17} from")
        for b in rows:
            src = b.source.get("session") or b.source.get("file") or "?"
            print(
                f"{b.participant:<12} {'v' + str(b.version):>7}  {'*' if b.current else '':<7}  "
                f"{_when(b.created_at):<16}  {', '.join(b.covers):<17} {src}"
            )
        return _exit.OK
    if args.action == "show":
        b = store.get(args.participant, args.version)
        print(json.dumps({"path": str(b.path), "current": b.current, **b.content}, indent=2))
        return _exit.OK
    chosen = store.use(args.participant, args.version)
    print(f"kintsugi baseline: {chosen.participant} now starts from v{chosen.version} "
          f"({chosen.path})")
    return _exit.OK
