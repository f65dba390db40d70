"""Feature cost per window, ours beside BrainFlow, MNE, NeuroKit2 and HeartPy on the same windows.

Run: ``python -m bench.bench_features [--quick]``. Every peer gets the same windows; a row
gives the median ms per window and the ratio peer / ours (> 1: ours is faster), and how far
its answer is from ours, so the comparison is between like results.

* **EEG band powers**, 8 channels × 4 s at 250 Hz from a sim/ session (attention moving):
  ours ``runtime.features.compute_band_powers`` (Welch, 2 s Hann segments, 50 % overlap);
  BrainFlow ``DataFilter.get_avg_band_powers`` (no extra filter); MNE ``psd_array_welch``
  with the same segments plus band sums; NeuroKit2 ``eeg_power``. Also the whole attention
  estimate per window (mains notch, channel quality, bands, engagement, baseline), which
  none of the peers does. Agreement: median |relative difference| of the engagement index
  β/(α+θ) of the channel-mean band powers (ratios are comparable across libraries,
  absolute powers are not: SIGNALS.md).
* **PPG → HR, RMSSD**, 60 s windows of a real recording shipped in HeartPy
  (``heartpy/data/data3.csv``, ≈100 Hz, 11 min): ours ``compute_window_hrv`` (Elgendi
  beats, RR cleaning, HRV); NeuroKit2 ``ppg_clean`` + ``ppg_peaks`` + ``hrv_time``; HeartPy
  ``process``. BrainFlow has no HRV.
* **ECG → HR, RMSSD**, 60 s windows at 250 Hz from sim/ with the true RR intervals: ours
  vs NeuroKit2 ``ecg_peaks`` + ``hrv_time``, both against the truth.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bench._common import module_main, print_table

logger = logging.getLogger("bench")

EEG_BANDS = [(1.0, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 45.0)]


def _time_ms(function: Callable[[Any], Any], windows: list[Any]) -> tuple[float, list[Any]]:
    """Median ms per window, after one warm-up call; returns the outputs too."""
    function(windows[0])
    times, outputs = [], []
    for window in windows:
        start = time.perf_counter()
        outputs.append(function(window))
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), outputs


def _engagement(powers: np.ndarray) -> float:
    """β/(α+θ) of band powers in δ θ α β γ order (channel means first if 2-D)."""
    p = np.asarray(powers, dtype=float)
    if p.ndim == 2:
        p = p.mean(axis=0)
    return float(p[3] / (p[1] + p[2]))


def _rel_diff(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.median(np.abs(x[ok] - y[ok]) / np.abs(y[ok]))) if ok.any() else float("nan")


def _abs_diff(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.median(np.abs(x[ok] - y[ok]))) if ok.any() else float("nan")


# ---------------------------------------------------------------------------------- EEG
def eeg_windows(n_windows: int, fs: float = 250.0, channels: int = 8) -> list[np.ndarray]:
    """4 s windows, hop 1 s, of a sim/ session's EEG (µV), after its 2 min calibration."""
    import sim

    layout = sim.generic_layout(channels, fs, with_ppg=False, with_ecg=False)
    start_s = 120.0
    recording = sim.render_session(
        sim.load_scenario("focus_then_stress"),
        layout,
        speed=0.0,
        duration_s=start_s + n_windows + 4.0,
    )
    eeg = recording.data[list(layout.eeg_rows)]
    window_n, hop_n = int(4 * fs), int(fs)
    first = int(start_s * fs)
    return [eeg[:, first + k * hop_n : first + k * hop_n + window_n] for k in range(n_windows)]


def bench_eeg(n_windows: int) -> dict[str, Any]:
    import mne
    import neurokit2 as nk
    from brainflow.data_filter import DataFilter
    from mne.time_frequency import psd_array_welch

    from runtime.features import AttentionEstimator, EegFeatureSettings, compute_band_powers

    fs = 250.0
    windows = eeg_windows(n_windows, fs)
    n_ch = windows[0].shape[0]
    mne.set_log_level("ERROR")

    def ours(w: np.ndarray) -> float:
        return _engagement(compute_band_powers(w, fs))

    def brainflow(w: np.ndarray) -> float:
        avg, _ = DataFilter.get_avg_band_powers(
            np.ascontiguousarray(w), list(range(n_ch)), int(fs), False
        )
        return _engagement(np.asarray(avg))

    def mne_welch(w: np.ndarray) -> float:
        psd, freqs = psd_array_welch(
            w,
            fs,
            fmin=1.0,
            fmax=45.0,
            n_fft=500,
            n_overlap=250,
            n_per_seg=500,
            window="hann",
            verbose=False,
        )
        df = freqs[1] - freqs[0]
        powers = [psd[:, (freqs >= lo) & (freqs < hi)].sum(axis=-1) * df for lo, hi in EEG_BANDS]
        return _engagement(np.stack(powers, axis=-1))

    def neurokit(w: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = nk.eeg_power(w, sampling_rate=int(fs), frequency_band=EEG_BANDS)
        return _engagement(table.iloc[:, 1:].to_numpy(dtype=float))

    results: dict[str, Any] = {"windows": n_windows, "channels": n_ch, "window_s": 4.0}
    ours_ms, ours_e = _time_ms(ours, windows)
    results["eeg_ours_ms"] = ours_ms
    for name, function in (("brainflow", brainflow), ("mne", mne_welch), ("neurokit2", neurokit)):
        ms, values = _time_ms(function, windows)
        results[f"eeg_{name}_ms"] = ms
        results[f"eeg_{name}_ratio"] = ms / ours_ms
        results[f"eeg_{name}_engagement_rel_diff"] = _rel_diff(values, ours_e)
    # The whole attention estimate per window: one per hop, pushed hop by hop.
    settings = EegFeatureSettings(hop_s=1.0, baseline_s=float(n_windows) / 2 + 4.0)
    names = ["Fp1", "Fp2"] + [f"EEG{i + 1}" for i in range(2, n_ch)]
    estimator = AttentionEstimator(fs, names, settings)
    estimator.push(windows[0][:, :-250])
    hops = [windows[0][:, -250:]] + [w[:, -250:] for w in windows[1:]]
    times = []
    for hop in hops:
        start = time.perf_counter()
        estimator.push(hop)
        times.append((time.perf_counter() - start) * 1e3)
    results["eeg_ours_attention_estimate_ms"] = float(np.median(times[1:]))
    return results


# -------------------------------------------------------------------------------- heart
def ppg_windows(n_windows: int) -> tuple[list[np.ndarray], float]:
    """60 s windows, hop 30 s, of HeartPy's data3.csv (a real PPG recording, ≈100 Hz)."""
    import heartpy

    path = os.path.join(os.path.dirname(heartpy.__file__), "data", "data3.csv")
    signal = heartpy.get_data(path, column_name="hr").astype(float)
    stamps = heartpy.get_data(path, column_name="datetime")
    fs = float(heartpy.get_samplerate_datetime(stamps, timeformat="%Y-%m-%d %H:%M:%S.%f"))
    window_n, hop_n = int(60 * fs), int(30 * fs)
    count = min(n_windows, (signal.size - window_n) // hop_n + 1)
    return [signal[k * hop_n : k * hop_n + window_n] for k in range(count)], fs


def _nk_hrv(peaks: np.ndarray, fs: float) -> tuple[float, float]:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = nk.hrv_time(peaks, sampling_rate=fs)
    return 60000.0 / float(table["HRV_MeanNN"].iloc[0]), float(table["HRV_RMSSD"].iloc[0])


def bench_ppg(n_windows: int) -> dict[str, Any]:
    import heartpy
    import neurokit2 as nk

    from runtime.features import HeartFeatureSettings, compute_window_hrv

    windows, fs = ppg_windows(n_windows)
    settings = HeartFeatureSettings()

    def ours(x: np.ndarray) -> tuple[float, float]:
        metrics, _, _ = compute_window_hrv(x, fs, "ppg", settings)
        return (metrics.hr_bpm, metrics.rmssd_ms) if metrics else (np.nan, np.nan)

    def neurokit(x: np.ndarray) -> tuple[float, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clean = nk.ppg_clean(x, sampling_rate=fs)
            peaks = nk.ppg_peaks(clean, sampling_rate=fs)[1]["PPG_Peaks"]
        return _nk_hrv(peaks, fs)

    def heartpy_process(x: np.ndarray) -> tuple[float, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, measures = heartpy.process(x, fs)
        return float(measures["bpm"]), float(measures["rmssd"])

    results: dict[str, Any] = {"ppg_windows": len(windows), "ppg_fs": fs}
    ours_ms, ours_out = _time_ms(ours, windows)
    results["ppg_ours_ms"] = ours_ms
    for name, function in (("neurokit2", neurokit), ("heartpy", heartpy_process)):
        ms, out = _time_ms(function, windows)
        results[f"ppg_{name}_ms"] = ms
        results[f"ppg_{name}_ratio"] = ms / ours_ms
        results[f"ppg_{name}_hr_abs_diff_bpm"] = _abs_diff(
            [o[0] for o in out], [o[0] for o in ours_out]
        )
        results[f"ppg_{name}_rmssd_abs_diff_ms"] = _abs_diff(
            [o[1] for o in out], [o[1] for o in ours_out]
        )
    return results


def bench_ecg(n_windows: int) -> dict[str, Any]:
    import neurokit2 as nk

    import sim
    from runtime.features import HeartFeatureSettings, compute_window_hrv

    fs = 250.0
    layout = sim.generic_layout(1, fs, with_ppg=False, with_ecg=True)
    hop_s, window_s = 30.0, 60.0
    recording = sim.render_session(
        sim.load_scenario("focus_then_stress"),
        layout,
        speed=0.0,
        duration_s=window_s + hop_s * (n_windows - 1),
    )
    ecg = recording.data[layout.ecg_rows[0]]
    truth = recording.truth.hrv
    windows, true_hr, true_rmssd = [], [], []
    for k in range(n_windows):
        start = k * hop_s
        windows.append(ecg[int(start * fs) : int((start + window_s) * fs)])
        i = int(np.argmin(np.abs(truth.start_s - start)))
        true_hr.append(float(truth.hr_bpm[i]))
        true_rmssd.append(float(truth.rmssd_ms[i]))
    settings = HeartFeatureSettings()

    def ours(x: np.ndarray) -> tuple[float, float]:
        metrics, _, _ = compute_window_hrv(x, fs, "ecg", settings)
        return (metrics.hr_bpm, metrics.rmssd_ms) if metrics else (np.nan, np.nan)

    def neurokit(x: np.ndarray) -> tuple[float, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peaks = nk.ecg_peaks(x, sampling_rate=int(fs))[1]["ECG_R_Peaks"]
        return _nk_hrv(peaks, fs)

    results: dict[str, Any] = {"ecg_windows": n_windows}
    for name, function in (("ours", ours), ("neurokit2", neurokit)):
        ms, out = _time_ms(function, windows)
        results[f"ecg_{name}_ms"] = ms
        results[f"ecg_{name}_rmssd_error_ms"] = _abs_diff([o[1] for o in out], true_rmssd)
        results[f"ecg_{name}_hr_error_bpm"] = _abs_diff([o[0] for o in out], true_hr)
    results["ecg_neurokit2_ratio"] = results["ecg_neurokit2_ms"] / results["ecg_ours_ms"]
    return results


def run(quick: bool, smoke: bool = False) -> dict[str, Any]:
    """Measure and print (keys ``eeg_*``, ``ppg_*``, ``ecg_*``; see the module docstring)."""
    n_eeg, n_heart = (8, 3) if smoke else ((60, 10) if quick else (240, 21))
    results = {**bench_eeg(n_eeg), **bench_ppg(n_heart), **bench_ecg(n_heart)}
    r = results
    eeg_rows: list[list[object]] = [["ours: compute_band_powers", r["eeg_ours_ms"], 1.0, 0.0]]
    labels = {
        "brainflow": "BrainFlow get_avg_band_powers",
        "mne": "MNE psd_array_welch + band sums",
        "neurokit2": "NeuroKit2 eeg_power",
    }
    for name, label in labels.items():
        eeg_rows.append(
            [
                label,
                r[f"eeg_{name}_ms"],
                r[f"eeg_{name}_ratio"],
                r[f"eeg_{name}_engagement_rel_diff"] * 100,
            ]
        )
    eeg_rows.append(
        ["ours: whole attention estimate", r["eeg_ours_attention_estimate_ms"], None, None]
    )
    print_table(
        f"EEG band powers, {r['channels']} ch × 4 s at 250 Hz, {r['windows']} windows "
        "(median ms per window; ratio = peer / ours)",
        ["method", "ms", "ratio", "β/(α+θ) vs ours %"],
        eeg_rows,
    )
    print_table(
        f"PPG → HR, RMSSD: 60 s windows of a real recording (HeartPy data3.csv, "
        f"{r['ppg_fs']:.1f} Hz), {r['ppg_windows']} windows",
        ["method", "ms", "ratio", "|ΔHR| bpm vs ours", "|ΔRMSSD| ms vs ours"],
        [
            ["ours: compute_window_hrv", r["ppg_ours_ms"], 1.0, 0.0, 0.0],
            *(
                [
                    label,
                    r[f"ppg_{n}_ms"],
                    r[f"ppg_{n}_ratio"],
                    r[f"ppg_{n}_hr_abs_diff_bpm"],
                    r[f"ppg_{n}_rmssd_abs_diff_ms"],
                ]
                for n, label in (
                    ("neurokit2", "NeuroKit2 clean+peaks+hrv_time"),
                    ("heartpy", "HeartPy process"),
                )
            ),
        ],
    )
    print_table(
        f"ECG → HR, RMSSD: 60 s sim/ windows at 250 Hz with true RR, {r['ecg_windows']} windows",
        ["method", "ms", "ratio", "|HR − true| bpm", "|RMSSD − true| ms"],
        [
            [
                "ours: compute_window_hrv",
                r["ecg_ours_ms"],
                1.0,
                r["ecg_ours_hr_error_bpm"],
                r["ecg_ours_rmssd_error_ms"],
            ],
            [
                "NeuroKit2 ecg_peaks+hrv_time",
                r["ecg_neurokit2_ms"],
                r["ecg_neurokit2_ratio"],
                r["ecg_neurokit2_hr_error_bpm"],
                r["ecg_neurokit2_rmssd_error_ms"],
            ],
        ],
    )
    return results


def main(argv: list[str] | None = None) -> int:
    return module_main(
        run, __doc__, argv, quick_help="fewer windows", smoke_help="a few windows (tests)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
