"""``kintsugi hrv`` / ``kintsugi bands`` give a true number or refuse, and say why.

For every rule (hrv: the live stress estimator's missing-sample share, flat signal, fewest
beats, share of RR intervals kept; bands: Nyquist, samples per segment, bin width, flat
signal; files: empty, strings, objects, complex) one test makes it refuse and one shows a
good input accepted, its figure checked against an oracle library (HeartPy, NeuroKit2,
scipy). Thresholds come from the settings the live path uses, never from copied numbers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from runtime.cli import _exit, main
from runtime.features import (
    BANDS,
    EegFeatureSettings,
    HeartFeatureSettings,
    compute_window_hrv,
)
from runtime.features._bands import MIN_SAMPLES
from tests.features.conftest import package_file

HEART = HeartFeatureSettings()


@pytest.fixture(scope="module")
def ppg_100hz() -> np.ndarray:
    """heartpy's data.csv: real PPG, 100 Hz, ~25 s, clean."""
    return np.loadtxt(package_file("heartpy", "data", "data.csv"))


@pytest.fixture(scope="module")
def ecg_1000hz() -> np.ndarray:
    """pyhrv's SampleECG.txt: real ECG, 1000 Hz, ~22 s (last column)."""
    return np.loadtxt(package_file("pyhrv", "files", "SampleECG.txt"))[:, -1]


@pytest.fixture(scope="module")
def white_noise_ppg() -> np.ndarray:
    """5 min of seeded white noise at 100 Hz: no pulse at all."""
    return np.random.default_rng(17).normal(size=300 * 100)


def _save(tmp_path: Path, name: str, x: np.ndarray) -> str:
    path = tmp_path / name
    np.save(path, x)
    return str(path)


def _refusal(capsys) -> str:
    """The single stderr line of a refusal; nothing may reach stdout."""
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _heartpy():
    import warnings

    with warnings.catch_warnings():  # heartpy imports pkg_resources
        warnings.simplefilter("ignore")
        return pytest.importorskip("heartpy")


def _nk_hr_bpm(x: np.ndarray, fs: float, kind: str) -> tuple[float, int]:
    """NeuroKit2's HR (from its mean RR) and beat count."""
    nk = pytest.importorskip("neurokit2")
    if kind == "ppg":
        _, info = nk.ppg_peaks(nk.ppg_clean(x, sampling_rate=fs), sampling_rate=fs)
        peaks = np.asarray(info["PPG_Peaks"])
    else:
        _, info = nk.ecg_peaks(nk.ecg_clean(x, sampling_rate=fs), sampling_rate=fs)
        peaks = np.asarray(info["ECG_R_Peaks"])
    return 60.0 / float(np.mean(np.diff(peaks) / fs)), int(peaks.size)


# --- hrv: share of RR intervals kept ---------------------------------------------------


def test_hrv_refuses_white_noise_ppg_naming_the_kept_share_and_the_threshold(
    tmp_path, capsys, white_noise_ppg
):
    path = _save(tmp_path, "noise.npy", white_noise_ppg)
    assert main(["hrv", path, "--fs", "100", "--kind", "ppg"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    assert line.startswith(f"kintsugi hrv: error: {path}: refused, no HR/HRV given")
    assert "bpm" not in line and "hr_bpm" not in line  # nothing that reads as a figure
    # The measured share is the live estimator's quality for the same samples.
    _, quality, reason = compute_window_hrv(white_noise_ppg, 100.0, "ppg", HEART)
    assert quality < HEART.min_kept_fraction and reason  # the live path refuses it too
    kept = re.search(r"kept only (\d+) of (\d+) intervals \((\d+)%", line)
    assert kept is not None, line
    assert int(kept[1]) / int(kept[2]) == pytest.approx(quality)
    assert int(kept[3]) == round(100 * quality)
    assert f"below the {HEART.min_kept_fraction:.0%}" in line
    assert "features.heart.min_kept_fraction" in line and "--min-kept-fraction" in line


def test_hrv_white_noise_refusal_through_the_console_script(tmp_path, white_noise_ppg):
    path = _save(tmp_path, "noise.npy", white_noise_ppg)
    script = Path(sys.executable).with_name("kintsugi")
    result = subprocess.run(
        [str(script), "hrv", path, "--fs", "100", "--kind", "ppg", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == _exit.USAGE_ERROR
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "refused" in result.stderr and "Traceback" not in result.stderr


def test_hrv_accepts_real_ppg_and_matches_heartpy(capsys, ppg_100hz):
    hp = _heartpy()
    path = package_file("heartpy", "data", "data.csv")
    assert main(["hrv", str(path), "--fs", "100", "--kind", "ppg", "--json"]) == _exit.OK
    out, err = capsys.readouterr()
    assert err == ""
    result = json.loads(out)
    _, measures = hp.process(ppg_100hz, 100.0)
    assert result["hr_bpm"] == pytest.approx(measures["bpm"], abs=1.0)
    assert result["rmssd_ms"] == pytest.approx(measures["rmssd"], rel=0.10)
    assert result["n_rr_kept"] / (result["n_rr_kept"] + result["n_rr_rejected"]) >= (
        HEART.min_kept_fraction
    )


def test_hrv_accepts_an_11_minute_ppg_with_motion_and_matches_heartpy(tmp_path, capsys):
    hp = _heartpy()
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(package_file("heartpy", "data", "data3.csv"))
    stamps = pd.to_datetime(frame["datetime"], format="ISO8601")
    fs = (len(stamps) - 1) / (stamps.iloc[-1] - stamps.iloc[0]).total_seconds()
    x = frame["hr"].to_numpy(dtype=float)
    path = _save(tmp_path, "ppg.npy", x)
    assert main(["hrv", path, "--fs", f"{fs:.6f}", "--kind", "ppg", "--json"]) == _exit.OK
    result = json.loads(capsys.readouterr().out)
    _, measures = hp.process(x, fs)
    assert result["hr_bpm"] == pytest.approx(measures["bpm"], abs=1.0)
    assert result["baevsky_si"] is not None


def test_hrv_lower_min_kept_fraction_accepts_with_a_warning_and_a_bad_value_is_refused(
    tmp_path, capsys, white_noise_ppg
):
    path = _save(tmp_path, "noise.npy", white_noise_ppg)
    assert main(["hrv", path, "--fs", "100", "--kind", "ppg", "--min-kept-fraction", "0.05",
                 "--json"]) == _exit.OK
    out, err = capsys.readouterr()
    assert json.loads(out)["n_beats"] > 0
    assert "warning" in err and "the live estimator would refuse it" in err
    assert main(["hrv", path, "--fs", "100", "--kind", "ppg", "--min-kept-fraction",
                 "1.5"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    assert "--min-kept-fraction must be a share in (0, 1]; 1.5 is invalid" in line


# --- hrv: fewest beats ------------------------------------------------------------------


def test_hrv_refuses_fewer_beats_than_min_beats(tmp_path, capsys, ppg_100hz):
    excerpt = ppg_100hz[:800]  # 8 s of real PPG
    _, nk_beats = _nk_hr_bpm(excerpt, 100.0, "ppg")
    assert nk_beats < HEART.min_beats  # the oracle agrees there are too few
    path = _save(tmp_path, "short.npy", excerpt)
    assert main(["hrv", path, "--fs", "100", "--kind", "ppg"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    found = re.search(r"(\d+) beats found in 8\.0 s, fewer than the (\d+)", line)
    assert found is not None, line
    assert int(found[1]) < HEART.min_beats and abs(int(found[1]) - nk_beats) <= 1
    assert int(found[2]) == HEART.min_beats and "features.heart.min_beats" in line


def test_hrv_accepts_min_beats_and_matches_neurokit2(tmp_path, capsys, ppg_100hz):
    excerpt = ppg_100hz[:1000]  # 10 s
    nk_hr, nk_beats = _nk_hr_bpm(excerpt, 100.0, "ppg")
    assert nk_beats >= HEART.min_beats
    path = _save(tmp_path, "ten.npy", excerpt)
    assert main(["hrv", path, "--fs", "100", "--kind", "ppg", "--json"]) == _exit.OK
    result = json.loads(capsys.readouterr().out)
    assert abs(result["n_beats"] - nk_beats) <= 1  # a beat at an edge may count or not
    assert result["hr_bpm"] == pytest.approx(nk_hr, abs=1.0)


# --- hrv: missing samples ---------------------------------------------------------------


def _gapped(ecg: np.ndarray, share: float) -> tuple[np.ndarray, int]:
    n_gap = int(round(share * ecg.size))
    gapped = ecg.copy()
    gapped[5000 : 5000 + n_gap] = np.nan
    return gapped, n_gap


def test_hrv_refuses_more_missing_samples_than_the_live_rule(tmp_path, capsys, ecg_1000hz):
    gapped, n_gap = _gapped(ecg_1000hz, HEART.max_missing_fraction + 0.02)
    path = _save(tmp_path, "ecg.npy", gapped)
    assert main(["hrv", path, "--fs", "1000", "--kind", "ecg"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    assert f"{n_gap} of {gapped.size} samples ({n_gap / gapped.size:.1%}) are missing" in line
    assert f"more than the {HEART.max_missing_fraction:.0%}" in line
    assert "features.heart.max_missing_fraction" in line


def test_hrv_accepts_fewer_missing_samples_and_matches_neurokit2(tmp_path, capsys, ecg_1000hz):
    gapped, _ = _gapped(ecg_1000hz, HEART.max_missing_fraction - 0.02)
    path = _save(tmp_path, "ecg.npy", gapped)
    assert main(["hrv", path, "--fs", "1000", "--kind", "ecg", "--json"]) == _exit.OK
    result = json.loads(capsys.readouterr().out)
    nk_hr, _ = _nk_hr_bpm(ecg_1000hz, 1000.0, "ecg")  # the whole, ungapped recording
    assert result["hr_bpm"] == pytest.approx(nk_hr, abs=1.0)


def test_hrv_accepts_real_ecg_text_and_matches_neurokit2(capsys, ecg_1000hz):
    path = package_file("pyhrv", "files", "SampleECG.txt")
    assert main(["hrv", str(path), "--fs", "1000", "--kind", "ecg", "--column", "5"]) == 0
    lines = dict(line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines())
    nk_hr, nk_beats = _nk_hr_bpm(ecg_1000hz, 1000.0, "ecg")
    assert float(lines["hr_bpm"]) == pytest.approx(nk_hr, abs=1.0)
    assert abs(int(lines["n_beats"]) - nk_beats) <= 1


# --- hrv: flat signal, and agreement with the live path ---------------------------------


def test_hrv_refuses_a_flat_signal(tmp_path, capsys):
    path = _save(tmp_path, "flat.npy", np.full(6000, 512.0))
    assert main(["hrv", path, "--fs", "100", "--kind", "ppg"]) == _exit.USAGE_ERROR
    assert "the signal is flat (every sample is 512)" in _refusal(capsys)


@pytest.mark.parametrize("case", ["noise", "real_ppg", "short", "real_ecg", "gap_ok", "gap_bad"])
def test_hrv_refuses_exactly_when_the_live_window_rules_do(
    tmp_path, capsys, case, ppg_100hz, ecg_1000hz, white_noise_ppg
):
    x, fs, kind = {
        "noise": (white_noise_ppg, 100.0, "ppg"),
        "real_ppg": (ppg_100hz, 100.0, "ppg"),
        "short": (ppg_100hz[:800], 100.0, "ppg"),
        "real_ecg": (ecg_1000hz, 1000.0, "ecg"),
        "gap_ok": (_gapped(ecg_1000hz, HEART.max_missing_fraction - 0.02)[0], 1000.0, "ecg"),
        "gap_bad": (_gapped(ecg_1000hz, HEART.max_missing_fraction + 0.02)[0], 1000.0, "ecg"),
    }[case]
    metrics, _, _ = compute_window_hrv(x, fs, kind, HEART)
    path = _save(tmp_path, "x.npy", x)
    code = main(["hrv", path, "--fs", f"{fs:g}", "--kind", kind, "--json"])
    out = capsys.readouterr().out
    if metrics is None:
        assert code == _exit.USAGE_ERROR and out == ""
    else:
        assert code == _exit.OK
        assert json.loads(out)["hr_bpm"] == pytest.approx(metrics.hr_bpm, rel=1e-9)


# --- bands: Nyquist, samples per segment, bin width, flat -------------------------------


def _scipy_band_powers(x: np.ndarray, fs: float, segment_s: float) -> dict[str, float]:
    nperseg = int(round(segment_s * fs))
    freqs, psd = welch(x, fs=fs, window="hann", nperseg=nperseg, noverlap=round(nperseg / 2))
    df = freqs[1] - freqs[0]
    return {
        name: float(psd[(freqs >= low) & (freqs < high)].sum() * df)
        for name, (low, high) in BANDS.items()
    }


def _eeg_like(fs: float, seconds: float = 20.0) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    rng = np.random.default_rng(3)
    return 10 * np.sin(2 * np.pi * 10 * t) + 4 * np.sin(2 * np.pi * 20 * t) + rng.normal(
        size=t.size
    )


def test_bands_refuses_an_fs_whose_nyquist_is_below_the_top_band(tmp_path, capsys):
    path = _save(tmp_path, "eeg.npy", _eeg_like(250.0))
    assert main(["bands", path, "--fs", "10"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    top = max(high for _, high in BANDS.values())
    assert line.startswith("kintsugi bands: error: --fs 10: the gamma band reaches")
    assert "fs/2 = 5 Hz" in line and f"--fs ≥ {2 * top:g}" in line


def test_bands_accepts_an_fs_just_above_twice_the_top_band_and_matches_scipy(tmp_path, capsys):
    fs = 2 * max(high for _, high in BANDS.values()) + 10  # 100 Hz
    x = _eeg_like(fs)
    path = _save(tmp_path, "eeg.npy", x)
    assert main(["bands", path, "--fs", f"{fs:g}", "--json"]) == _exit.OK
    result = json.loads(capsys.readouterr().out)
    expected = _scipy_band_powers(x, fs, 2.0)
    for name, power in expected.items():
        assert result[name] == pytest.approx(power, rel=1e-9)
    assert result["alpha"] == pytest.approx(50.0, rel=0.05)  # A²/2 of the 10 Hz sine
    assert result["engagement_index"] == pytest.approx(
        expected["beta"] / (expected["alpha"] + expected["theta"]), rel=1e-9
    )


def test_bands_refuses_a_segment_with_too_few_samples(tmp_path, capsys):
    path = _save(tmp_path, "eeg.npy", _eeg_like(250.0))
    assert main(["bands", path, "--fs", "250", "--segment-s", "0.01"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    assert "--segment-s 0.01: at --fs 250 a segment holds 2 samples" in line
    assert f"at least {MIN_SAMPLES}" in line and "use --segment-s ≥" in line


def test_bands_refuses_bins_wider_than_the_narrowest_band(tmp_path, capsys):
    path = _save(tmp_path, "eeg.npy", _eeg_like(250.0))
    assert main(["bands", path, "--fs", "250", "--segment-s", "0.2"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    name, (low, high) = min(BANDS.items(), key=lambda item: item[1][1] - item[1][0])
    assert "50-sample segments give 5 Hz frequency bins" in line
    assert f"narrowest band ({name} {low:g}–{high:g} Hz, {high - low:g} Hz wide)" in line


def test_bands_accepts_the_segment_its_refusal_suggests_and_matches_scipy(tmp_path, capsys):
    fs = 250.0
    x = _eeg_like(fs)
    path = _save(tmp_path, "eeg.npy", x)
    assert main(["bands", path, "--fs", "250", "--segment-s", "0.2"]) == _exit.USAGE_ERROR
    suggested = re.search(r"use --segment-s ≥ ([0-9.]+)", _refusal(capsys))
    assert suggested is not None
    segment_s = float(suggested[1])
    assert main(["bands", path, "--fs", "250", "--segment-s", f"{segment_s:g}", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for name, power in _scipy_band_powers(x, fs, segment_s).items():
        assert result[name] == pytest.approx(power, rel=1e-9)
        assert result[name] > 0  # every band holds at least one bin


def test_bands_warns_on_a_flat_signal_and_gives_no_engagement_index(tmp_path, capsys):
    path = _save(tmp_path, "flat.npy", np.full(2500, 3.0))
    assert main(["bands", path, "--fs", "250", "--json"]) == _exit.OK
    out, err = capsys.readouterr()
    assert json.loads(out)["engagement_index"] is None
    assert err.startswith(f"kintsugi bands: warning: {path} is flat (std 0")
    assert f"{EegFeatureSettings().flat_uv:g} µV" in err
    assert main(["bands", path, "--fs", "250"]) == _exit.OK
    assert "engagement_index  n/a (flat signal)" in capsys.readouterr().out


def test_bands_gives_no_flat_warning_on_a_signal_above_the_flat_threshold(tmp_path, capsys):
    x = _eeg_like(250.0)
    assert x.std() >= EegFeatureSettings().flat_uv
    path = _save(tmp_path, "eeg.npy", x)
    assert main(["bands", path, "--fs", "250", "--json"]) == _exit.OK
    out, err = capsys.readouterr()
    assert err == ""
    expected = _scipy_band_powers(x, 250.0, 2.0)
    assert json.loads(out)["engagement_index"] == pytest.approx(
        expected["beta"] / (expected["alpha"] + expected["theta"]), rel=1e-9
    )


# --- signal files ------------------------------------------------------------------------


def _write_bad(path: Path, kind: str) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "strings":
        np.save(path, np.array(["1.5", "2.0", "3.0"] * 1000))
    elif kind == "objects":
        np.save(path, np.array([1.0, "a"] * 1000, dtype=object), allow_pickle=True)
    elif kind == "complex":
        np.save(path, np.exp(2j * np.pi * 10 * np.arange(2500) / 250))
    elif kind == "not_npy":
        path.write_text("0.1\n0.2\n")
    elif kind == "truncated":
        np.save(path, np.arange(5000.0))
        path.write_bytes(path.read_bytes()[:1000])
    elif kind == "zero_samples":
        np.save(path, np.array([], dtype=np.float64))


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("empty", "is empty (0 bytes)"),
        ("strings", "holds strings (dtype <U3), not a real-valued signal"),
        ("objects", "holds Python objects (object dtype), not numbers"),
        ("complex", "holds complex numbers (dtype complex128), not a real-valued signal; "
                    "save the real part"),
        ("not_npy", "is not a .npy file"),
        ("truncated", "is not a readable .npy array"),
        ("zero_samples", "holds an empty array (0 samples)"),
    ],
)
@pytest.mark.parametrize("command", ["bands", "hrv"])
def test_an_unusable_npy_is_one_clear_line_naming_the_file(
    tmp_path, capsys, kind, needle, command
):
    path = tmp_path / f"{kind}.npy"
    _write_bad(path, kind)
    args = [command, str(path), "--fs", "250"] + (["--kind", "ppg"] if command == "hrv" else [])
    assert main(args) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    assert line.startswith(f"kintsugi {command}: error: FILE {str(path)!r} {needle}")


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_a_numeric_npy_of_any_real_dtype_is_read_as_float(tmp_path, capsys, dtype):
    x = np.round(_eeg_like(250.0) * 100).astype(dtype)
    path = _save(tmp_path, "eeg.npy", x)
    assert main(["bands", path, "--fs", "250", "--json"]) == _exit.OK
    result = json.loads(capsys.readouterr().out)
    for name, power in _scipy_band_powers(x.astype(np.float64), 250.0, 2.0).items():
        assert result[name] == pytest.approx(power, rel=1e-9)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "is empty (0 bytes)"),
        ("label\nfoo\nbar\n", "has no numbers in column 0"),
        ("1,2\n3\n4,5\n", "is not a table of numbers with the same number of columns"),
    ],
)
def test_an_unusable_csv_is_one_clear_line_naming_the_file(tmp_path, capsys, text, needle):
    path = tmp_path / "x.csv"
    path.write_text(text)
    assert main(["bands", str(path), "--fs", "250"]) == _exit.USAGE_ERROR
    line = _refusal(capsys)
    assert line.startswith(f"kintsugi bands: error: FILE {str(path)!r} {needle}")
