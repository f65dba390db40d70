"""BIDS export (mne-bids): read back with mne_bids.read_raw_bids, samples and events compared.

The recorded session is the lab tests' shared one (synthetic board, two markers through the
bus), copied so that its session.json can name a participant.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

# mne-bids (and pybv, its BrainVision writer) are core dependencies (pyproject.toml): a
# missing one fails here rather than skipping the export's round trip.
import mne_bids
import numpy as np
import pybv  # noqa: F401
import pytest

from runtime.cli import main
from runtime.lab import BidsOptions, export_bids
from runtime.recorder import load_session
from tests.lab.conftest import MARKERS

#: BrainVision as mne-bids writes it: float32 in µV (× 1/resolution), so a sample read back
#: is within float32's rounding of its value, one unit in the last place at most: 2⁻²³ relative.
FLOAT32_RTOL = 2.0**-23
#: mne has no PPG channel type: read_raw_bids says so for each PPG channel, and reads it as misc.
PPG_WARNING = r'No BIDS -> MNE mapping found for channel type "PPG"'


def session_of(
    recorded_session, tmp_path: Path, participant: str, name: str, *, config_only: bool = False
) -> Path:
    """A copy of the shared session recorded for ``participant``: in the manifest's
    ``participant`` and its config's [session], or (``config_only``) in the config alone."""
    directory = tmp_path / name
    shutil.copytree(recorded_session.directory, directory)
    metadata_path = directory / "session.json"
    metadata = json.loads(metadata_path.read_text())
    assert metadata["participant"] is None  # the shared session names none
    metadata["config"]["session"]["participant"] = participant
    if not config_only:
        metadata["participant"] = participant
    metadata_path.write_text(json.dumps(metadata))
    return directory


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def bids_path(root: Path, subject: str, session: str | None = None, run: int | None = None):
    return mne_bids.BIDSPath(subject=subject, session=session, task="biofeedback", run=run,
                             datatype="eeg", suffix="eeg", extension=".vhdr", root=root)


def test_bids_export_reads_back_with_the_same_samples_and_events(recorded_session, tmp_path):
    directory = session_of(recorded_session, tmp_path, "P01", "p01")
    root = tmp_path / "bids"
    code = main(["export", str(directory), "--format", "bids", str(root),
                 "--bids-session", "01", "--run", "1"])
    assert code == 0
    session = load_session(directory)
    layout = session.layout()
    fs = layout["sampling_rate"]
    with pytest.warns(RuntimeWarning, match=PPG_WARNING):
        raw = mne_bids.read_raw_bids(bids_path(root, "P01", "01", 1), verbose="warning")
    names = list(layout["eeg_names"]) + ["PPG1", "PPG2"]
    assert raw.ch_names == names
    assert raw.get_channel_types() == ["eeg"] * len(layout["eeg_names"]) + ["misc", "misc"]
    assert raw.info["sfreq"] == fs
    expected = session.raw["default"][list(layout["eeg_rows"]) + list(layout["ppg_rows"])]
    assert raw.n_times == expected.shape[1]
    got = raw.get_data()
    eeg = np.arange(len(layout["eeg_rows"]))
    got[eeg] *= 1e6  # MNE gives volts; the session holds µV
    np.testing.assert_allclose(got, expected, rtol=FLOAT32_RTOL, atol=0)
    # Events: one per marker, at the marker row's sample, labelled with the marker's label.
    samples = np.flatnonzero(session.raw["default"][layout["marker_row"]])
    assert len(samples) == len(MARKERS)
    assert list(raw.annotations.description) == list(MARKERS)
    np.testing.assert_array_equal(np.round(raw.annotations.onset * fs).astype(int), samples)
    folder = root / "sub-P01" / "ses-01" / "eeg"
    events = read_tsv(folder / "sub-P01_ses-01_task-biofeedback_run-1_events.tsv")
    assert [e["trial_type"] for e in events] == list(MARKERS)
    assert [int(e["sample"]) for e in events] == list(samples)
    # Channels: PPG has its BIDS type; sidecar: line frequency of the config, board, reference.
    channels = {c["name"]: c for c in read_tsv(folder / "sub-P01_ses-01_task-biofeedback_run-1"
                                                         "_channels.tsv")}
    assert [channels[n]["type"] for n in ("PPG1", "PPG2")] == ["PPG", "PPG"]
    assert channels[names[0]]["type"] == "EEG" and channels[names[0]]["units"] == "µV"
    sidecar = json.loads((folder / "sub-P01_ses-01_task-biofeedback_run-1_eeg.json").read_text())
    line_freq = session.metadata["config"]["features"]["eeg"]["line_freq_hz"]
    assert sidecar["PowerLineFrequency"] == line_freq
    assert sidecar["EEGReference"] == "n/a (simulated signals)"
    assert (sidecar["Manufacturer"], sidecar["TaskName"]) == ("BrainFlow", "biofeedback")
    # participants.tsv: the pseudonymous id and nothing else.
    assert (root / "participants.tsv").read_text().splitlines() == ["participant_id", "sub-P01"]
    description = json.loads((root / "dataset_description.json").read_text())
    assert description["DatasetType"] == "raw" and "BIDSVersion" in description


def test_bids_sessions_share_a_root_and_an_existing_recording_is_refused(
    recorded_session, tmp_path, capsys
):
    first = session_of(recorded_session, tmp_path, "P01", "first")
    second = session_of(recorded_session, tmp_path, "P01", "second", config_only=True)
    root = tmp_path / "bids"
    export_bids(first, root, BidsOptions(session="01"))
    data_01 = bids_path(root, "P01", "01").fpath
    before = data_01.with_suffix(".eeg").read_bytes()
    # Another session of the same participant: beside the first, which stays as it was.
    assert main(["export", str(second), "--format", "bids", "-o", str(root),
                 "--bids-session", "02"]) == 0
    assert bids_path(root, "P01", "02").fpath.is_file()
    assert data_01.with_suffix(".eeg").read_bytes() == before
    assert (root / "participants.tsv").read_text().splitlines() == ["participant_id", "sub-P01"]
    # The same entities again: refused, naming the file and the flags; --overwrite replaces.
    capsys.readouterr()
    assert main(["export", str(second), "--format", "bids", str(root),
                 "--bids-session", "01"]) == 2
    err = capsys.readouterr().err
    assert "sub-P01_ses-01_task-biofeedback" in err and "--overwrite" in err
    assert data_01.with_suffix(".eeg").read_bytes() == before
    assert main(["export", str(second), "--format", "bids", str(root),
                 "--bids-session", "01", "--overwrite"]) == 0


def test_bids_export_needs_a_participant_id(recorded_session, tmp_path, capsys):
    root = tmp_path / "bids"
    # The shared session was recorded with no [session] participant.
    assert main(["export", str(recorded_session.directory), "--format", "bids", str(root)]) == 2
    err = capsys.readouterr().err
    assert "--participant P01" in err and "no participant id" in err
    assert not (root / "participants.tsv").exists()
    assert main(["export", str(recorded_session.directory), "--format", "bids", str(root),
                 "--participant", "P02"]) == 0
    assert bids_path(root, "P02").fpath.is_file()
    assert (root / "participants.tsv").read_text().splitlines() == ["participant_id", "sub-P02"]


def test_bids_participant_must_agree_and_be_a_bids_label(recorded_session, tmp_path, capsys):
    directory = session_of(recorded_session, tmp_path, "P01", "p01")
    root = tmp_path / "bids"
    assert main(["export", str(directory), "--format", "bids", str(root),
                 "--participant", "P07"]) == 2
    assert "differs from the participant this session was recorded for ('P01')" in (
        capsys.readouterr().err)
    assert main(["export", str(recorded_session.directory), "--format", "bids", str(root),
                 "--participant", "P_01"]) == 2
    assert "--participant 'P_01' is not a BIDS label" in capsys.readouterr().err
    assert not root.exists()


def _validator() -> str | None:
    """The BIDS validator (the bids-validator-deno wheel's command), if installed."""
    beside_python = Path(sys.executable).parent / "bids-validator-deno"
    return str(beside_python) if beside_python.is_file() else shutil.which("bids-validator-deno")


@pytest.mark.skipif(_validator() is None, reason="bids-validator-deno is not installed")
def test_bids_export_passes_the_bids_validator(recorded_session, tmp_path):
    directory = session_of(recorded_session, tmp_path, "P01", "p01")
    root = tmp_path / "bids"
    export_bids(directory, root, BidsOptions(session="01", run=2))
    result = subprocess.run([_validator(), str(root), "--json"], capture_output=True,
                            text=True, timeout=60)
    report = json.loads(result.stdout)
    issues = report["issues"]["issues"]
    errors = [i for i in issues if i.get("severity") == "error"]
    assert errors == [] and result.returncode == 0, errors or result.stderr
    # Warnings are recommended fields a lab fills in (institution, cap); none says that
    # what we wrote contradicts itself (e.g. MISC_CHANNEL_COUNT_MISMATCH).
    assert [i["code"] for i in issues if "MISMATCH" in i["code"]] == []
