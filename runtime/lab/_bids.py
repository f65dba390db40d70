"""Export a session as a BIDS-EEG dataset (mne-bids), markers as events, participant as subject.

``export_bids`` writes one recording into a BIDS root: ``sub-<participant>[/ses-<session>]/
eeg/sub-…_task-<task>[_run-<run>]_eeg.vhdr`` with its sidecars (``_eeg.json``,
``_channels.tsv``, ``_events.tsv``), plus ``participants.tsv`` (the pseudonymous id only),
``dataset_description.json`` and a README at the root, all through ``mne_bids.write_raw_bids``.
Several sessions of one participant go into one root under different session or run
entities; a recording whose files exist already is refused unless ``overwrite``.

The data are BrainVision (pybv): 32-bit floats in µV, so each sample is kept to float32's
relative precision (2⁻²⁴ ≈ 6e-8 of its value) whatever the channel's range. BIDS's other
EEG formats lose more: EDF holds 16-bit integers scaled to a range, and mne-bids scales
each channel *type* to one range, so a quiet channel beside a loud one keeps few steps.

The signals are those of :func:`runtime.lab.session_signals`: the default preset's EEG
channels, the channels the config wires to ECG (BIDS type ECG) and the PPG rows (BIDS type
PPG, no unit). Events are the board's marker row at their exact samples, ``trial_type`` the
label recorded in ``markers.jsonl``. mne-python has no PPG channel type, so
``mne_bids.read_raw_bids`` reads PPG channels back as ``misc`` (and warns that it does).
A session several people streamed into is refused, naming them (one subject per export).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError
from runtime.lab._signals import MULTI_PERSON_HINT, ExportedSignals, mne_raw, session_signals
from runtime.recorder import (
    SessionError,
    SessionManifest,
    load_session,
    only_board,
    read_manifest,
    read_metadata,
)

logger = logging.getLogger("runtime.lab")

#: The BIDS data format written (see the module docstring for why).
BIDS_DATA_FORMAT = "BrainVision"
DEFAULT_TASK = "biofeedback"
#: A BIDS label (the value of sub-, ses-, task-): letters and digits only.
_LABEL = re.compile(r"[A-Za-z0-9]+")
#: Who made each board and its model name, for the sidecar's Manufacturer fields.
_MAKERS = {
    "synthetic": ("BrainFlow", "synthetic board (simulated signals)"),
    "cyton": ("OpenBCI", "Cyton"),
    "cyton-daisy": ("OpenBCI", "Cyton + Daisy"),
    "ganglion": ("OpenBCI", "Ganglion"),
    "galea": ("OpenBCI", "Galea"),
}
#: The EEG reference a board has unless the lab wires it otherwise (``--eeg-reference``).
_DEFAULT_REFERENCE = {
    "synthetic": "n/a (simulated signals)",
    "cyton": "SRB2 (OpenBCI default channel settings)",
    "cyton-daisy": "SRB2 (OpenBCI default channel settings)",
}
#: participants.tsv columns mne-bids adds from ``info['subject_info']``; kintsugi sets none,
#: so they hold only n/a and are dropped (the file keeps the pseudonymous id alone).
_SUBJECT_INFO_COLUMNS = ("age", "sex", "hand", "weight", "height")


@dataclass(frozen=True)
class BidsOptions:
    """BIDS entities of one exported recording, and the reference it was recorded against.

    ``participant`` is the subject label; None takes the session's own (``participant`` in
    session.json, else ``config.session.participant``). ``session`` and ``run`` are the BIDS
    ``ses-`` and ``run-`` entities (None: left out); ``eeg_reference`` is the sidecar's
    EEGReference (None: the board's default, e.g. SRB2 on a Cyton, else ``n/a``).
    """

    participant: str | None = None
    task: str = DEFAULT_TASK
    session: str | None = None
    run: int | None = None
    eeg_reference: str | None = None


@dataclass(frozen=True)
class BidsExport:
    """What was written: the signals, the BIDS root, the data file and its subject label."""

    signals: ExportedSignals
    root: Path
    data_path: Path
    subject: str


def session_participant(manifest: SessionManifest) -> str | None:
    """The session's pseudonymous participant id: the manifest's ``participant``, else its
    config's ``[session] participant``; None when neither is set."""
    participant = manifest.participant
    if participant is None:
        participant = (manifest.config.get("session") or {}).get("participant")
    return None if participant in (None, "") else str(participant)


def check_bids_label(value: str, flag: str) -> str:
    """``value`` if it is a BIDS label (letters and digits only), else ConfigError naming
    ``flag``."""
    if not _LABEL.fullmatch(value):
        raise ConfigError(
            f"{flag} {value!r} is not a BIDS label: BIDS allows letters and digits only "
            "(no spaces, '-' or '_'), e.g. P01"
        )
    return value


def resolve_subject(manifest: SessionManifest, participant: str | None) -> str:
    """The BIDS subject label of a session: its recorded participant id, or ``participant``
    (``--participant``) when it has none; the two must agree when both are there."""
    recorded = session_participant(manifest)
    if recorded is None and participant is None:
        raise ConfigError(
            f"{manifest.directory} records no participant id (no [session] participant in its "
            "config): pass --participant P01 (a pseudonymous id, never a name)"
        )
    if recorded is not None and participant is not None and participant != recorded:
        raise ConfigError(
            f"--participant {participant!r} differs from the participant this session was "
            f"recorded for ({recorded!r}): leave --participant out"
        )
    if recorded is not None:
        return check_bids_label(recorded, "the session's participant id")
    return check_bids_label(str(participant), "--participant")


def export_bids(
    directory: Path | str, root: Path | str, options: BidsOptions | None = None,
    *, overwrite: bool = False,
) -> BidsExport:
    """Write a session into the BIDS root ``root`` (created if its parent exists)."""
    options = options or BidsOptions()
    root = Path(root)
    task = check_bids_label(options.task, "--task")
    bids_session = (None if options.session is None
                    else check_bids_label(options.session, "--bids-session"))
    if options.run is not None and options.run < 0:
        raise ConfigError(f"--run must be a whole number ≥ 0 (a BIDS index); {options.run} is not")
    if root.exists() and not root.is_dir():
        raise ConfigError(f"OUT {str(root)!r} is a file: a BIDS root is a directory")
    if not root.parent.is_dir():
        raise ConfigError(f"OUT {str(root)!r}: the directory {str(root.parent)!r} does not exist")
    manifest = read_manifest(directory)
    # Several people's boards are refused before the subject is asked for.
    only_board(read_metadata(directory), directory, "BIDS export", MULTI_PERSON_HINT)
    subject = resolve_subject(manifest, options.participant)
    signals = session_signals(load_session(directory))
    if signals.data.shape[1] == 0:
        raise SessionError(f"{directory}: the raw file holds no samples")

    mne_bids = _import_mne_bids()
    bids_path = mne_bids.BIDSPath(
        subject=subject, session=bids_session, task=task, run=options.run,
        datatype="eeg", suffix="eeg", extension=".vhdr", root=root,
    )
    existing = _recording_files(bids_path)
    if existing and not overwrite:
        raise ConfigError(
            f"{existing[0]} exists: this participant already has a recording with these "
            "entities; choose another --bids-session or --run (or --overwrite)"
        )
    if signals.nonfinite:
        logger.warning("export: %d non-finite samples written as 0", signals.nonfinite)
    features = manifest.config.get("features") or {}
    line_freq_hz = float(features.get("eeg", {}).get("line_freq_hz", 50))
    raw = mne_raw(signals, line_freq_hz=line_freq_hz)
    _add_subject_info_columns(root)
    with warnings.catch_warnings():
        # pybv warns that BrainVision specifies µV only: PPG has no unit (it is written as is)
        warnings.filterwarnings("ignore", "Encountered unsupported non-voltage units",
                                UserWarning)
        mne_bids.write_raw_bids(
            raw, bids_path, allow_preload=True, format=BIDS_DATA_FORMAT,
            overwrite=overwrite, verbose="error",
        )
    misc_count = _mark_ppg_channels(bids_path, signals)
    _describe_recording(bids_path, manifest, options, misc_count)
    _keep_participant_ids_only(root)
    _describe_dataset(root)
    logger.info("export: %s → %s (BIDS, sub-%s)", directory, bids_path.fpath, subject)
    return BidsExport(signals, root, Path(bids_path.fpath), subject)


def _import_mne_bids() -> Any:
    """mne_bids, checked with pybv (its BrainVision writer) before anything is written."""
    try:
        import mne_bids
        import pybv  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"--format bids needs mne-bids and pybv; {exc.name} is not installed: "
            "pip install 'mne-bids>=0.20' 'pybv>=0.7.5'"
        ) from exc
    return mne_bids


def _recording_files(bids_path: Any) -> list[Path]:
    """Files of the recording ``bids_path`` names (data and sidecars) that exist already."""
    folder = Path(bids_path.directory)
    if not folder.is_dir():
        return []
    prefix = bids_path.copy().update(suffix=None, extension=None).basename + "_"
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix))


def _describe_recording(
    bids_path: Any, manifest: SessionManifest, options: BidsOptions, misc_count: int
) -> None:
    """The _eeg.json fields mne-bids cannot know: who made the board, its reference; and the
    MISC channel count once PPG channels are typed PPG."""
    import mne_bids

    board = manifest.master_board  # a playback's data are the master board's
    maker, model = _MAKERS.get(board, ("n/a", board))
    reference = options.eeg_reference or _DEFAULT_REFERENCE.get(board)
    if reference is None:
        logger.warning("export: EEGReference of a %s recording is n/a: pass --eeg-reference",
                       board)
        reference = "n/a"
    versions = manifest.versions
    sidecar = bids_path.copy().update(suffix="eeg", extension=".json")
    mne_bids.update_sidecar_json(
        sidecar,
        {
            "Manufacturer": maker,
            "ManufacturersModelName": model,
            "EEGReference": reference,
            "SoftwareFilters": "n/a",  # the board's raw samples: nothing filtered them
            "SoftwareVersions": f"kintsugi {versions.get('kintsugi-biofeedback', 'n/a')}, "
                                f"BrainFlow {versions.get('brainflow', 'n/a')}",
            # mne-bids writes the older spelling; BIDS 1.9's schema names MISCChannelCount
            "MiscChannelCount": misc_count,
            "MISCChannelCount": misc_count,
        },
        verbose="error",
    )


def _mark_ppg_channels(bids_path: Any, signals: ExportedSignals) -> int:
    """Give PPG rows the BIDS channel type PPG (mne-bids writes MISC: MNE has no PPG type);
    the number of MISC channels left."""
    ppg = {name for name, kind in zip(signals.names, signals.kinds, strict=True)
           if kind == "misc" and name.startswith("PPG")}
    path = Path(bids_path.copy().update(suffix="channels", extension=".tsv").fpath)
    header, rows = _read_tsv(path)
    for row in rows:
        if row["name"] in ppg:
            row["type"], row["units"], row["description"] = "PPG", "n/a", "Photoplethysmogram"
    if ppg:
        _write_tsv(path, header, rows)
    return sum(row["type"] == "MISC" for row in rows)


def _add_subject_info_columns(root: Path) -> None:
    """Put back the n/a columns :func:`_keep_participant_ids_only` dropped: mne-bids refuses
    to add a row to a participants.tsv whose rows lack them ("already exists")."""
    path = root / "participants.tsv"
    if not path.is_file():
        return
    header, rows = _read_tsv(path)
    missing = [c for c in _SUBJECT_INFO_COLUMNS if c not in header]
    if missing:
        for row in rows:
            row.update(dict.fromkeys(missing, "n/a"))
        _write_tsv(path, header + missing, rows)


def _keep_participant_ids_only(root: Path) -> None:
    """Drop participants.tsv columns that hold only n/a (mne-bids' age, sex, hand, …)."""
    path = root / "participants.tsv"
    header, rows = _read_tsv(path)
    empty = [c for c in header
             if c in _SUBJECT_INFO_COLUMNS and all(row[c] == "n/a" for row in rows)]
    if not empty:
        return
    _write_tsv(path, [c for c in header if c not in empty], rows)
    sidecar = root / "participants.json"
    if sidecar.is_file():
        described = json.loads(sidecar.read_text(encoding="utf-8"))
        for column in empty:
            described.pop(column, None)
        sidecar.write_text(json.dumps(described, indent=4) + "\n", encoding="utf-8")


def _describe_dataset(root: Path) -> None:
    """Name a dataset mne-bids left unnamed, drop its placeholder authors, add kintsugi to
    GeneratedBy; a lab's own dataset_description.json keeps its own fields."""
    path = root / "dataset_description.json"
    description = json.loads(path.read_text(encoding="utf-8"))
    if description.get("Name") in (None, "", "[Unspecified]"):
        description["Name"] = "kintsugi biofeedback sessions"
    authors = description.get("Authors")
    if isinstance(authors, list) and all(str(a).startswith("[Unspecified") for a in authors):
        del description["Authors"]
    generated = description.setdefault("GeneratedBy", [])
    if not any(entry.get("Name") == "kintsugi" for entry in generated):
        generated.insert(0, {"Name": "kintsugi", "Description": "kintsugi export --format bids"})
    path.write_text(json.dumps(description, indent=4) + "\n", encoding="utf-8")


def _read_tsv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        return list(reader.fieldnames or []), list(reader)


def _write_tsv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header, delimiter="\t", lineterminator="\n",
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
