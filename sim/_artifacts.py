"""Artifacts added to rendered signals on their own schedules, with ground-truth spans.

Each kind touches only the samples of its span (and only its channels), so a recording
rendered with and without artifacts from the same seed differs exactly where the spans say:

* ``blink``: raised-cosine bumps (0.4 s, ``amplitude_uv`` peak) on frontal channels, one every
  ``interval_s`` (±30 % jitter); one span per blink.
* ``emg``: band-limited noise 20–100 Hz (capped at 0.45·fs), ``amplitude_uv`` RMS, with
  50 ms cosine ramps.
* ``pop``: electrode pop, a step of ``amplitude_uv`` decaying exponentially (τ = duration/5).
* ``railed``: the channel sits at the amplifier's full scale (sign drawn at random).
* ``flat``: the channel holds its value at the span start (std 0).
* ``nan_gap``: NaN on the ``target`` signal's channels.
* ``ppg_motion``: 0.2–4 Hz motion plus spikes on every PPG row, ``amplitude`` × pulse amplitude.
* ``line_noise``: a ``freq_hz`` sine of ``amplitude_uv`` on EEG channels.
* ``dropped_packets``: samples removed from every preset (applied by the renderer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

from sim._errors import ScenarioError
from sim._scenario import ArtifactSpec

_BLINK_S = 0.4
_RAMP_S = 0.05


@dataclass(frozen=True)
class ArtifactSpan:
    """Where an artifact is: ``[start_s, end_s)`` on ``signal`` rows ``channels``.

    ``signal`` is "eeg", "ecg", "ppg" or "all"; ``channels`` index that signal's rows in the
    layout (eeg_rows, ecg_rows, ppg_rows; for PPG, main-preset rows first, then aux rows).
    ``spec_index`` is the artifact's position in the scenario's list.
    """

    kind: str
    start_s: float
    end_s: float
    signal: str
    channels: tuple[int, ...]
    spec_index: int


@dataclass
class SignalBlock:
    """One signal type's channels at one rate: ``data`` is ``(n_channels, n)``, edited in place."""

    data: np.ndarray
    fs: float
    #: Index of this block's first channel within its signal (main-preset PPG rows come first).
    first_channel: int = 0


def _resolve_channels(
    spec: ArtifactSpec, i: int, n_total: int, frontal: tuple[int, ...]
) -> tuple[int, ...]:
    if spec.channels == "all":
        return tuple(range(n_total))
    if spec.channels == "frontal":
        return frontal
    bad = [c for c in spec.channels if c >= n_total]
    if bad:
        raise ScenarioError(
            f"scenario key 'artifacts[{i}].channels': channel {bad[0]} does not exist; this "
            f"layout has {n_total} {spec.target if spec.kind == 'nan_gap' else 'eeg'} "
            f"channels (0..{n_total - 1})."
        )
    return tuple(spec.channels)


def _span_slice(start_s: float, end_s: float, fs: float, n: int) -> slice:
    return slice(min(int(np.ceil(start_s * fs - 1e-9)), n), min(int(np.ceil(end_s * fs - 1e-9)), n))


def _taper(m: int, fs: float) -> np.ndarray:
    ramp = min(int(_RAMP_S * fs), m // 2)
    w = np.ones(m)
    if ramp > 0:
        edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
        w[:ramp] = edge
        w[m - ramp:] = edge[::-1]
    return w


def _bandpass_noise(rng, m: int, fs: float, lo: float, hi: float, k: int) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    noise = rng.standard_normal((k, m + int(fs)))  # pad: filter edge effects fall outside
    sos = butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
    out = sosfiltfilt(sos, noise, axis=-1)[:, int(fs) // 2: int(fs) // 2 + m]
    return out / out.std(axis=-1, keepdims=True)


def apply_artifact(
    spec: ArtifactSpec,
    index: int,
    blocks: dict[str, list[SignalBlock]],
    rng: np.random.Generator,
    *,
    frontal: tuple[int, ...],
    full_scale_uv: float,
    ppg_amplitude: float,
) -> list[ArtifactSpan]:
    """Add one artifact to ``blocks`` ("eeg", "ecg", "ppg" → blocks) in place; return spans."""
    if spec.kind == "dropped_packets":
        return [ArtifactSpan(spec.kind, spec.start_s, spec.end_s, "all", (), index)]
    if spec.kind == "ppg_motion":
        return _ppg_motion(spec, index, blocks.get("ppg", []), rng, ppg_amplitude)
    if spec.kind == "nan_gap":
        return _nan_gap(spec, index, blocks, frontal)
    eeg = blocks.get("eeg", [])
    n_eeg = sum(b.data.shape[0] for b in eeg)
    if n_eeg == 0:
        raise ScenarioError(
            f"scenario key 'artifacts[{index}].kind': {spec.kind!r} needs EEG channels, and "
            "this layout has none; remove the artifact or use a board with EEG."
        )
    channels = _resolve_channels(spec, index, n_eeg, frontal)
    block = eeg[0]  # EEG lives on one preset
    fs, n = block.fs, block.data.shape[1]
    sl = _span_slice(spec.start_s, spec.end_s, fs, n)
    m = sl.stop - sl.start
    rows = np.array(channels)
    span = [ArtifactSpan(spec.kind, spec.start_s, spec.end_s, "eeg", channels, index)]
    if m <= 0:
        return span
    x = block.data
    if spec.kind == "blink":
        return _blinks(spec, index, block, rows, rng)
    if spec.kind == "emg":
        burst = _bandpass_noise(rng, m, fs, 20.0, 100.0, rows.size)
        x[rows, sl] += spec.amplitude * burst * _taper(m, fs)
    elif spec.kind == "pop":
        tau_s = spec.duration_s / 5
        decay = np.exp(-(np.arange(m) / fs) / tau_s)
        signs = rng.choice([-1.0, 1.0], rows.size)
        x[rows, sl] += spec.amplitude * signs[:, None] * decay
    elif spec.kind == "railed":
        signs = rng.choice([-1.0, 1.0], rows.size)
        x[rows, sl] = full_scale_uv * signs[:, None]
    elif spec.kind == "flat":
        x[rows, sl] = x[rows, sl.start][:, None]
    elif spec.kind == "line_noise":
        if spec.freq_hz >= fs / 2:
            raise ScenarioError(
                f"scenario key 'artifacts[{index}].freq_hz': {spec.freq_hz:g} Hz is at or above "
                f"the Nyquist frequency {fs / 2:g} Hz of this board; use 50 or 60 Hz on a board "
                "sampling at >= 125 Hz."
            )
        t = np.arange(sl.start, sl.stop) / fs
        phase = rng.uniform(0, 2 * np.pi)
        x[rows, sl] += spec.amplitude * np.sin(2 * np.pi * spec.freq_hz * t + phase) * _taper(m, fs)
    else:  # pragma: no cover - kinds are validated when the scenario is parsed
        raise ScenarioError(f"unknown artifact kind {spec.kind!r}")
    return span


def _blinks(spec, index, block: SignalBlock, rows, rng) -> list[ArtifactSpan]:
    fs, n = block.fs, block.data.shape[1]
    spans: list[ArtifactSpan] = []
    t = spec.start_s + rng.uniform(0.0, min(spec.interval_s, spec.duration_s) * 0.5)
    width = int(round(_BLINK_S * fs))
    shape = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(width) / max(width - 1, 1))
    while t + _BLINK_S <= spec.end_s:
        i0 = int(np.ceil(t * fs - 1e-9))
        i1 = min(i0 + width, n)
        gains = rng.uniform(0.8, 1.0, rows.size)
        block.data[rows, i0:i1] += spec.amplitude * gains[:, None] * shape[: i1 - i0]
        spans.append(ArtifactSpan("blink", i0 / fs, (i0 + width) / fs, "eeg",
                                  tuple(int(r) for r in rows), index))
        t += spec.interval_s * rng.uniform(0.7, 1.3)
    return spans


def _nan_gap(spec, index, blocks, frontal) -> list[ArtifactSpan]:
    targets = ("eeg", "ecg", "ppg") if spec.target == "all" else (spec.target,)
    spans = []
    for name in targets:
        group = blocks.get(name, [])
        n_total = sum(b.data.shape[0] for b in group)
        if n_total == 0:
            if spec.target == "all":
                continue
            raise ScenarioError(
                f"scenario key 'artifacts[{index}].target': this layout has no {name} rows; "
                f"choose one of the signals it has (eeg, ecg, ppg) or 'all'."
            )
        channels = _resolve_channels(spec, index, n_total, frontal)
        for b in group:
            local = [c - b.first_channel for c in channels
                     if b.first_channel <= c < b.first_channel + b.data.shape[0]]
            b.data[np.array(local, dtype=int), _span_slice(spec.start_s, spec.end_s, b.fs,
                                                           b.data.shape[1])] = np.nan
        spans.append(ArtifactSpan("nan_gap", spec.start_s, spec.end_s, name, channels, index))
    return spans


def _ppg_motion(spec, index, group, rng, ppg_amplitude) -> list[ArtifactSpan]:
    n_total = sum(b.data.shape[0] for b in group)
    if n_total == 0:
        raise ScenarioError(
            f"scenario key 'artifacts[{index}].kind': 'ppg_motion' needs PPG rows and this "
            "layout has none; remove it or use a board with PPG (synthetic, galea)."
        )
    for b in group:
        sl = _span_slice(spec.start_s, spec.end_s, b.fs, b.data.shape[1])
        m = sl.stop - sl.start
        if m <= 0:
            continue
        k = b.data.shape[0]
        motion = _bandpass_noise(rng, m, b.fs, 0.2, 4.0, 1)  # one movement, seen by every row
        spikes = np.zeros(m)
        hits = rng.integers(0, m, max(1, int(spec.duration_s / 3)))
        spikes[hits] = rng.choice([-1.0, 1.0], hits.size) * 3.0
        gain = rng.uniform(0.8, 1.2, k)[:, None]
        b.data[:, sl] += spec.amplitude * ppg_amplitude * gain * (motion + spikes) * _taper(m, b.fs)
    return [ArtifactSpan("ppg_motion", spec.start_s, spec.end_s, "ppg",
                         tuple(range(n_total)), index)]
