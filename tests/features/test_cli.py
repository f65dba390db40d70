"""``kintsugi hrv`` and ``kintsugi bands`` on real recordings and analytic files.

(The command-table tests, shared with the other commands, live in tests/cli.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from runtime.cli import main
from tests.features.conftest import package_file


def test_hrv_refuses_a_csv_with_a_third_of_its_rr_rejected_by_the_live_rule(
    capsys, heartpy_ppg_dropouts
):
    from runtime.features import HeartFeatureSettings, compute_window_hrv

    ppg, fs = heartpy_ppg_dropouts
    path = package_file("heartpy", "data", "data2.csv")  # motion artifacts, a dropout to 0
    code = main(["hrv", str(path), "--fs", f"{fs:.6f}", "--kind", "ppg", "--column", "1"])
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    settings = HeartFeatureSettings()
    _, quality, _ = compute_window_hrv(ppg, fs, "ppg", settings)
    assert quality < settings.min_kept_fraction  # the live estimator refuses it too
    assert f"({quality:.0%}; " in err and f"below the {settings.min_kept_fraction:.0%}" in err


def test_hrv_reads_a_csv_column_with_a_header_and_matches_heartpy(capsys, heartpy_ppg_dropouts):
    hp = pytest.importorskip("heartpy")
    ppg, fs = heartpy_ppg_dropouts
    path = package_file("heartpy", "data", "data2.csv")  # "timer,hr" header, PPG in column 1
    # Accepted knowingly: the cleaner keeps about two thirds of its RR intervals.
    code = main(["hrv", str(path), "--fs", f"{fs:.6f}", "--kind", "ppg", "--column", "1",
                 "--min-kept-fraction", "0.6", "--json"])
    assert code == 0
    out, err = capsys.readouterr()
    assert "the live estimator would refuse it" in err
    result = json.loads(out)
    _, measures = hp.process(ppg, fs)
    assert result["hr_bpm"] == pytest.approx(measures["bpm"], abs=1.0)
    assert result["rmssd_ms"] == pytest.approx(measures["rmssd"], rel=0.10)
    assert result["baevsky_si"] is not None  # 128 s: long enough for the 120 s metrics


def test_hrv_on_an_ecg_npy_with_a_gap_matches_neurokit2_on_the_clean_part(
    tmp_path, capsys, pyhrv_ecg
):
    nk = pytest.importorskip("neurokit2")
    ecg, fs = pyhrv_ecg
    gapped = ecg.copy()
    gapped[10000:11500] = np.nan  # 1.5 s of lost samples
    path = tmp_path / "ecg.npy"
    np.save(path, gapped)
    assert main(["hrv", str(path), "--fs", "1000", "--kind", "ecg", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    _, info = nk.ecg_peaks(nk.ecg_clean(ecg, sampling_rate=1000), sampling_rate=1000)
    peaks = np.asarray(info["ECG_R_Peaks"])
    rr = np.diff(peaks).astype(float)
    # The reference drops the intervals that span the gap, as it must.
    spans = (peaks[1:] >= 10000) & (peaks[:-1] < 11500)
    diffs = np.diff(rr)[~(spans[1:] | spans[:-1])]
    assert result["hr_bpm"] == pytest.approx(60000.0 / rr[~spans].mean(), abs=1.0)
    assert result["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(diffs**2)), rel=0.10)


def test_bands_prints_every_band_as_text(tmp_path, capsys):
    fs = 250.0
    t = np.arange(int(10 * fs)) / fs
    path = tmp_path / "alpha.csv"
    np.savetxt(path, 10.0 * np.sin(2 * np.pi * 10.0 * t), header="eeg_uv", comments="")
    assert main(["bands", str(path), "--fs", "250"]) == 0
    lines = dict(line.split() for line in capsys.readouterr().out.splitlines())
    assert list(lines) == ["delta", "theta", "alpha", "beta", "gamma", "engagement_index"]
    assert float(lines["alpha"]) == pytest.approx(50.0, rel=0.02)  # A²/2


def test_bands_refuses_a_signal_with_gaps(tmp_path, capsys):
    path = tmp_path / "gappy.npy"
    x = np.random.default_rng(0).normal(size=2000)
    x[100] = np.nan
    np.save(path, x)
    assert main(["bands", str(path), "--fs", "250"]) == 2
    assert "non-finite" in capsys.readouterr().err


def test_hrv_on_a_flat_signal_without_beats_says_so(tmp_path, capsys):
    path = tmp_path / "zeros.npy"
    np.save(path, np.zeros(3000))
    assert main(["hrv", str(path), "--fs", "100", "--kind", "ppg"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "the signal is flat (every sample is 0)" in err
