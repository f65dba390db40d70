"""Render a scenario into a board's row layout: a recording BrainFlow's playback board replays.

Rows: package counter = original sample index mod 256 (so dropped packets make it jump);
timestamp = ``start_time + i / fs / speed`` (``speed`` 0 writes all-zero timestamps, which the
playback board plays as fast as it can); EEG and ECG in µV; PPG in arbitrary units; marker
codes from the scenario at their samples; every other row zero.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sim._artifacts import ArtifactSpan, SignalBlock, apply_artifact
from sim._cardiac import HrvWindows, RRSeries, sim_rr_intervals
from sim._check import check_non_negative, check_positive
from sim._eeg import SimEeg, sim_eeg
from sim._errors import SimError
from sim._io import aux_path, truth_paths, write_brainflow_file
from sim._layout import BoardLayout, generic_layout
from sim._scenario import ArtifactSpec, Scenario
from sim._truth import save_truth
from sim._waveforms import render_ecg, render_ppg

_PPG_AMPLITUDES = (1000.0, 700.0)  # IR, red (arbitrary units)
_PPG_OFFSETS = (50000.0, 40000.0)
_log = logging.getLogger("sim")
_SEED_EEG, _SEED_HEART, _SEED_ECG, _SEED_PPG, _SEED_ART = range(5)


@dataclass(frozen=True)
class SimTruth:
    """Ground truth of a rendered recording (times in s, nominal: physiological time).

    Per kept sample of the main preset: ``sample_index`` (original index; gaps are dropped
    packets), ``t_s``, ``attention``, ``stress``; the same index/time for the aux preset.
    Per second (``second_s`` = 0, 1, ...): ``attention_1hz``, ``stress_1hz`` and the model's
    expected ln engagement index (channel mean) ``log_engagement_1hz``. Beats: ``beat_times_s``
    (R peaks; PPG peaks follow by ``pulse_arrival_s``), ``rr_ms``, and ``hrv`` (60 s windows,
    5 s hop). ``artifacts``: every artifact span; ``skipped_artifacts``: scenario artifacts
    whose signal this layout does not have (e.g. PPG motion on a Cyton).
    """

    scenario: str
    seed: int
    duration_s: float
    calibration_s: float
    speed: float
    start_time: float
    fs: float
    sample_index: np.ndarray
    t_s: np.ndarray
    attention: np.ndarray
    stress: np.ndarray
    second_s: np.ndarray
    attention_1hz: np.ndarray
    stress_1hz: np.ndarray
    log_engagement_1hz: np.ndarray
    beat_times_s: np.ndarray
    rr_ms: np.ndarray
    pulse_arrival_s: float
    hrv: HrvWindows
    artifacts: tuple[ArtifactSpan, ...]
    #: Indices of scenario artifacts left out because the layout lacks their signal.
    skipped_artifacts: tuple[int, ...] = ()
    aux_fs: float | None = None
    aux_sample_index: np.ndarray | None = None
    aux_t_s: np.ndarray | None = None


@dataclass(frozen=True)
class WrittenFiles:
    """Paths written by :meth:`SimRecording.write` (``aux`` is None without an aux preset)."""

    data: Path
    truth_npz: Path
    truth_json: Path
    aux: Path | None = None


@dataclass(frozen=True)
class SimRecording:
    """A rendered session: ``data`` (num_rows, n) per preset in the layout's rows, and truth."""

    layout: BoardLayout
    data: np.ndarray
    truth: SimTruth
    aux_data: np.ndarray | None = field(default=None)

    def write(self, path: str | Path) -> WrittenFiles:
        """Write the recording in BrainFlow's file format, plus ground truth beside it.

        Files: ``PATH`` (main preset), ``PATH.aux`` (auxiliary preset, if the layout has one:
        pass it as the playback board's ``file_aux``), ``PATH.truth.npz`` (arrays) and
        ``PATH.truth.json`` (summary: layout, rows, durations, artifact spans).
        """
        path = Path(path)
        write_brainflow_file(self.data, path)
        aux = None
        if self.aux_data is not None:
            aux = write_brainflow_file(self.aux_data, aux_path(path))
        npz, js = truth_paths(path)
        save_truth(self, npz, js, data_path=path, aux=aux)
        return WrittenFiles(path, npz, js, aux)


@dataclass
class _Preset:
    layout: BoardLayout
    n: int
    eeg: np.ndarray
    ecg: np.ndarray
    ppg: np.ndarray
    eeg_model: SimEeg | None


def _seed(scenario: Scenario, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(scenario.seed, spawn_key=key)


def _render_preset(
    scenario: Scenario, layout: BoardLayout, duration_s: float, rr: RRSeries, which: int
) -> _Preset:
    fs = layout.sampling_rate
    n = int(round(duration_s * fs))
    eeg, model = np.zeros((layout.n_eeg, n)), None
    if layout.n_eeg:
        att = scenario.attention.at(np.arange(n) / fs)
        model = sim_eeg(att, fs, layout.n_eeg, _seed(scenario, _SEED_EEG, which),
                        params=scenario.eeg)
        eeg = model.data_uv
    ecg = np.array([
        render_ecg(rr.beat_times_s, fs, n / fs, seed=_seed(scenario, _SEED_ECG, which, k))
        for k in range(len(layout.ecg_rows))
    ]).reshape(len(layout.ecg_rows), n)
    ppg = np.array([
        render_ppg(rr.beat_times_s, fs, n / fs, pulse_arrival_s=scenario.pulse_arrival_s,
                   amplitude=_PPG_AMPLITUDES[k % 2], offset=_PPG_OFFSETS[k % 2],
                   seed=_seed(scenario, _SEED_PPG, which, k))
        for k in range(len(layout.ppg_rows))
    ]).reshape(len(layout.ppg_rows), n)
    return _Preset(layout, n, eeg, ecg, ppg, model)


def _assemble(p: _Preset, scenario: Scenario, speed: float, start_time: float,
              markers: bool) -> np.ndarray:
    lay = p.layout
    data = np.zeros((lay.num_rows, p.n))
    idx = np.arange(p.n)
    data[lay.package_num_row] = idx % 256
    data[lay.timestamp_row] = (start_time + idx / lay.sampling_rate / speed) if speed else 0.0
    for rows, block in ((lay.eeg_rows, p.eeg), (lay.ecg_rows, p.ecg), (lay.ppg_rows, p.ppg)):
        if rows:
            data[list(rows)] = block
    if markers and lay.marker_row is not None:
        for t_s, code in scenario.markers:
            i = int(round(t_s * lay.sampling_rate))
            if i < p.n:
                data[lay.marker_row, i] = code
    return data


def _signal_of(spec: ArtifactSpec) -> str:
    if spec.kind == "dropped_packets":
        return "all"
    if spec.kind == "ppg_motion":
        return "ppg"
    return spec.target if spec.kind == "nan_gap" else "eeg"


def _kept(n: int, fs: float, drops: list[ArtifactSpan]) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    t = np.arange(n) / fs
    for span in drops:
        keep &= ~((t >= span.start_s) & (t < span.end_s))
    return np.flatnonzero(keep)


def render_session(
    scenario: Scenario,
    layout: BoardLayout | None = None,
    speed: float = 1.0,
    start_time: float | None = None,
    *,
    duration_s: float | None = None,
) -> SimRecording:
    """Render ``scenario`` into ``layout``'s rows (default: :func:`generic_layout` from the
    scenario's ``n_eeg_channels`` and ``fs``).

    ``speed`` k > 0 scales timestamps so the playback board replays k× faster than real time;
    0 writes all-zero timestamps (replay as fast as possible). ``start_time`` is the Unix time
    of the first sample (default: now). ``duration_s`` renders only the first seconds of the
    scenario (artifacts past the end are cut off). The same scenario seed gives the same data.
    """
    speed = check_non_negative("speed", speed)
    if start_time is None:
        start_time = time.time()
    start_time = float(start_time)
    if not math.isfinite(start_time):
        raise SimError(f"'start_time' must be a finite Unix time in seconds; got {start_time!r}.")
    if layout is None:
        layout = generic_layout(scenario.n_eeg_channels, scenario.fs)
    total_s = scenario.duration_s
    if duration_s is not None:
        total_s = min(check_positive("duration_s", duration_s), total_s)
    specs = {  # artifacts past the end are cut; each keeps its index (and so its seed)
        i: replace(a, duration_s=min(a.end_s, total_s) - a.start_s)
        for i, a in enumerate(scenario.artifacts) if a.start_s < total_s
    }
    rr = sim_rr_intervals(scenario.stress, total_s, _seed(scenario, _SEED_HEART),
                          params=scenario.heart)
    main = _render_preset(scenario, layout, total_s, rr, 0)
    aux = _render_preset(scenario, layout.aux, total_s, rr, 1) if layout.aux else None

    blocks: dict[str, list[SignalBlock]] = {
        "eeg": [SignalBlock(main.eeg, layout.sampling_rate)],
        "ecg": [SignalBlock(main.ecg, layout.sampling_rate)],
        "ppg": [SignalBlock(main.ppg, layout.sampling_rate)],
    }
    if aux is not None:
        if aux.eeg.size or aux.ecg.size:
            raise SimError(
                f"layout {layout.aux.name!r}: EEG/ECG rows on the auxiliary preset are not "
                "supported; put them on the main preset (aux carries PPG only)."
            )
        blocks["ppg"].append(SignalBlock(aux.ppg, layout.aux.sampling_rate, main.ppg.shape[0]))
    spans: list[ArtifactSpan] = []
    skipped: list[int] = []
    for i, spec in specs.items():
        needs = _signal_of(spec)
        if needs != "all" and not any(b.data.shape[0] for b in blocks[needs]):
            _log.warning("sim: layout %r has no %s rows; skipping artifacts[%d] (%s).",
                         layout.name, needs, i, spec.kind)
            skipped.append(i)
            continue
        spans += apply_artifact(
            spec, i, blocks, np.random.default_rng(_seed(scenario, _SEED_ART, i)),
            frontal=layout.frontal_channels(), full_scale_uv=layout.full_scale_uv,
            ppg_amplitude=_PPG_AMPLITUDES[0],
        )
    drops = [s for s in spans if s.kind == "dropped_packets"]

    data = _assemble(main, scenario, speed, start_time, markers=True)
    keep = _kept(main.n, layout.sampling_rate, drops)
    data = np.ascontiguousarray(data[:, keep])  # BrainFlow's DataFilter wants row-major
    aux_data = aux_keep = None
    if aux is not None:
        aux_data = _assemble(aux, scenario, speed, start_time, markers=False)
        aux_keep = _kept(aux.n, layout.aux.sampling_rate, drops)
        aux_data = np.ascontiguousarray(aux_data[:, aux_keep])

    t_s = keep / layout.sampling_rate
    second_s = np.arange(int(np.floor(total_s)) + 1, dtype=float)
    second_s = second_s[second_s <= total_s]
    log_e = np.full(second_s.size, np.nan)
    if main.eeg_model is not None:
        att_1hz = scenario.attention.at(second_s)
        log_e = main.eeg_model.expected_log_engagement(att_1hz).mean(axis=0)
    truth = SimTruth(
        scenario=scenario.name, seed=scenario.seed, duration_s=total_s,
        calibration_s=min(scenario.calibration_s, total_s), speed=speed, start_time=start_time,
        fs=layout.sampling_rate, sample_index=keep, t_s=t_s,
        attention=scenario.attention.at(t_s), stress=scenario.stress.at(t_s),
        second_s=second_s, attention_1hz=scenario.attention.at(second_s),
        stress_1hz=scenario.stress.at(second_s), log_engagement_1hz=log_e,
        beat_times_s=rr.beat_times_s, rr_ms=rr.rr_ms, pulse_arrival_s=scenario.pulse_arrival_s,
        hrv=rr.windows(60.0, 5.0), artifacts=tuple(spans), skipped_artifacts=tuple(skipped),
        aux_fs=layout.aux.sampling_rate if layout.aux else None,
        aux_sample_index=aux_keep,
        aux_t_s=None if aux_keep is None else aux_keep / layout.aux.sampling_rate,
    )
    return SimRecording(layout, data, truth, aux_data)
