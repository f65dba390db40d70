"""Export: EDF+/BDF+ (pyedflib) and FIF (MNE), read back with MNE, samples and markers compared;
OUT after DIR or as -o, BIDS-only flags refused with other formats."""

from __future__ import annotations

import shutil
import sys

import mne
import numpy as np
import pytest

from runtime.cli import main
from runtime.lab import export_session
from runtime.recorder import load_session
from tests.lab.conftest import MARKERS

READERS = {"edf": mne.io.read_raw_edf, "bdf": mne.io.read_raw_bdf, "fif": mne.io.read_raw_fif}
#: Integer steps of each format (digital max − digital min); FIF stores float32.
STEPS = {"edf": 65535, "bdf": 16777215}


@pytest.mark.parametrize("fmt", ["edf", "bdf", "fif"])
def test_export_reads_back_with_mne(recorded_session, tmp_path, fmt):
    path = tmp_path / ("session_raw.fif" if fmt == "fif" else f"session.{fmt}")
    code = main(["export", str(recorded_session.directory), "--format", fmt, "-o", str(path)])
    assert code == 0
    session = load_session(recorded_session.directory)
    layout = session.layout()
    raw = READERS[fmt](path, preload=True, verbose="error")
    names = list(layout["eeg_names"]) + ["PPG1", "PPG2"]
    assert raw.ch_names == names
    assert raw.info["sfreq"] == layout["sampling_rate"]
    expected = session.raw["default"][list(layout["eeg_rows"]) + list(layout["ppg_rows"])]
    n = expected.shape[1]
    got = raw.get_data()[:, :n]  # EDF pads the last 1 s data record
    eeg = np.arange(len(layout["eeg_rows"]))
    got[eeg] *= 1e6  # MNE gives volts; the session holds µV
    for i in range(len(names)):
        if fmt == "fif":
            tolerance = 1e-6 * max(1.0, float(np.max(np.abs(expected[i]))))  # float32
        else:  # one integer step over the channel's (whole-number padded) range: pyedflib
            # truncates towards the lower integer, so the error reaches a step, not half
            span = np.ceil(expected[i].max()) - np.floor(expected[i].min())
            tolerance = span / STEPS[fmt] * (1 + 1e-6)
        np.testing.assert_allclose(got[i], expected[i], rtol=0, atol=tolerance,
                                   err_msg=f"{fmt} {names[i]}")
    # Markers: one annotation per marker, at the sample of the board's marker row.
    row = session.raw["default"][layout["marker_row"]]
    onsets = np.flatnonzero(row) / layout["sampling_rate"]
    assert list(raw.annotations.description) == list(MARKERS)
    np.testing.assert_allclose(raw.annotations.onset, onsets, atol=1.5 / layout["sampling_rate"])


def test_export_refuses_to_overwrite(recorded_session, tmp_path, capsys):
    path = tmp_path / "x.edf"
    path.write_text("")
    assert main(["export", str(recorded_session.directory), "--format", "edf", "-o",
                 str(path)]) == 2
    assert "exists" in capsys.readouterr().err
    export_session(recorded_session.directory, "edf", path, overwrite=True)
    assert path.stat().st_size > 1000


def test_export_out_forms_and_bids_only_flags(recorded_session, tmp_path, capsys):
    directory = str(recorded_session.directory)
    positional = tmp_path / "positional.edf"
    assert main(["export", directory, "--format", "edf", str(positional)]) == 0
    assert positional.stat().st_size > 1000
    assert main(["export", directory, "--format", "edf"]) == 2
    assert "OUT (or -o OUT)" in capsys.readouterr().err
    assert main(["export", directory, "--format", "edf", "a.edf", "-o", "b.edf"]) == 2
    assert "differ" in capsys.readouterr().err
    assert main(["export", directory, "--format", "edf", str(tmp_path / "x.edf"),
                 "--bids-session", "01"]) == 2
    assert "--bids-session applies to --format bids only" in capsys.readouterr().err
    assert not (tmp_path / "x.edf").exists()


def test_bids_export_without_mne_bids_says_what_to_install(
    recorded_session, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "pybv", None)  # an install without pybv: import fails
    root = tmp_path / "bids"
    assert main(["export", str(recorded_session.directory), "--format", "bids", str(root),
                 "--participant", "P01"]) == 2
    err = capsys.readouterr().err
    assert "--format bids needs mne-bids and pybv; pybv is not installed" in err
    assert "pip install" in err and not root.exists()


def test_export_writes_nonfinite_samples_as_zero_and_counts_them(
    recorded_session, tmp_path, caplog
):
    copy = tmp_path / "session"
    shutil.copytree(recorded_session.directory, copy)
    layout = load_session(copy).layout()
    column = int(layout["eeg_rows"][0])  # raw.csv: one sample per line, one row per column
    lines = (copy / "raw.csv").read_text().splitlines(keepends=True)
    for line_number, bad in ((10, "nan"), (11, "inf"), (12, "-inf")):
        values = lines[line_number].split()
        values[column] = bad
        lines[line_number] = "\t".join(values) + "\n"
    (copy / "raw.csv").write_text("".join(lines))
    path = tmp_path / "x.fif"
    with caplog.at_level("WARNING", logger="runtime.lab"):
        export_session(copy, "fif", path)
    assert "export: 3 non-finite samples written as 0" in caplog.text
    got = mne.io.read_raw_fif(path, preload=True, verbose="error").get_data()[0] * 1e6
    assert got[10:13].tolist() == [0.0, 0.0, 0.0]
    assert np.all(np.isfinite(got)) and np.count_nonzero(got[:30] == 0.0) == 3
