"""``kintsugi export DIR``: a session's raw data as EDF+, BDF+ or FIF, markers as annotations,
or into a BIDS-EEG dataset, markers as events."""

from __future__ import annotations

import argparse

from runtime.cli import _exit
from runtime.errors import ConfigError

#: Options that name BIDS entities or metadata, and their defaults: with another --format,
#: one set to anything else is refused.
_BIDS_DEFAULTS = {
    "participant": None, "task": "biofeedback", "bids_session": None, "run": None,
    "eeg_reference": None,
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a recorded session to EDF+, BDF+, FIF or a BIDS-EEG dataset",
        description=(
            "Write the default preset's EEG (µV), ECG-wired channels and PPG rows of a\n"
            "session directory to EDF+ or BDF+ (pyedflib) or FIF (MNE), with every marker\n"
            "as an annotation at its sample. EDF keeps 16 bits per sample (scaled to each\n"
            "channel's range), BDF 24 bits, FIF float32.\n\n"
            "With --format bids, OUT is a BIDS root: the session is written into it with\n"
            "mne-bids as BrainVision (float32 µV), markers as events, the participant id\n"
            "as the subject. Other sessions, of this or other participants, can share the\n"
            "root under another --bids-session or --run."
        ),
        epilog=(
            "examples:\n"
            "  kintsugi export sessions/p01 --format edf -o p01.edf\n"
            "  kintsugi export sessions/p01 --format bids bids/ --bids-session 01\n"
            "  kintsugi export sessions/p01b --format bids -o bids/ --bids-session 02"
        ),
        formatter_class=_HelpFormatter,
    )
    parser.__class__ = _IntermixedArgumentParser  # DIR --format bids OUT: see the class
    parser.add_argument("directory", metavar="DIR", help="a session directory")
    parser.add_argument("out", metavar="OUT", nargs="?", default=None,
                        help="file to write (edf, bdf, fif) or BIDS root (bids); or -o OUT")
    parser.add_argument("--format", required=True, choices=("edf", "bdf", "fif", "bids"),
                        help="file format")
    parser.add_argument("-o", "--output", metavar="OUT", default=None,
                        help="the same as OUT")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUT (bids: this recording's files) if it exists")
    bids = parser.add_argument_group("BIDS (--format bids)")
    bids.add_argument("--participant", metavar="ID", default=None,
                      help="subject label when the session records none (default: the "
                           "session's [session] participant)")
    bids.add_argument("--task", default=_BIDS_DEFAULTS["task"], help="task- entity")
    bids.add_argument("--bids-session", metavar="LABEL", default=None,
                      help="ses- entity, e.g. 01 (default: none)")
    bids.add_argument("--run", type=int, default=None, help="run- entity (default: none)")
    bids.add_argument("--eeg-reference", metavar="TEXT", default=None,
                      help="EEGReference of the sidecar, e.g. 'linked ears' (default: the "
                           "board's, SRB2 on a Cyton)")
    parser.set_defaults(handler=_handle)


class _IntermixedArgumentParser(argparse.ArgumentParser):
    """Positionals between options: ``DIR --format bids OUT``.

    Plain argparse (Python 3.11) hands out every positional at the first run of positional
    words, so OUT after ``--format bids`` would be left unrecognised; this parser reads the
    options first and then the positionals (``parse_known_intermixed_args``).
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        if self._intermixing:  # parse_known_intermixed_args calls back into this
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown (unless None: the help says what happens then), line breaks kept."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def _output(args: argparse.Namespace) -> str:
    """OUT, given once: positionally or with -o."""
    if args.out is None and args.output is None:
        raise ConfigError("say where to write: OUT (or -o OUT)")
    if args.out is not None and args.output is not None and args.out != args.output:
        raise ConfigError(f"OUT {args.out!r} and -o {args.output!r} differ: give one")
    return str(args.out if args.out is not None else args.output)


def _handle(args: argparse.Namespace) -> int:
    from runtime.lab import BidsOptions, export_bids, export_session

    output = _output(args)
    if args.format != "bids":
        given = [name for name, default in _BIDS_DEFAULTS.items()
                 if getattr(args, name) != default]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise ConfigError(f"{flag} applies to --format bids only, not --format {args.format}")
        signals = export_session(args.directory, args.format, output, overwrite=args.overwrite)
        written = output
    else:
        options = BidsOptions(
            participant=args.participant, task=args.task, session=args.bids_session,
            run=args.run, eeg_reference=args.eeg_reference,
        )
        export = export_bids(args.directory, output, options, overwrite=args.overwrite)
        signals, written = export.signals, str(export.data_path)
    n = signals.data.shape[1]
    print(
        f"kintsugi export: {len(signals.names)} channels × {n} samples "
        f"({n / signals.fs:.1f} s at {signals.fs:g} Hz), {len(signals.annotations)} markers "
        f"→ {written}"
    )
    return _exit.OK
