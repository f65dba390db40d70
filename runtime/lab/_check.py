"""The signal check before a session: per channel railed %, flat, line noise, impedance.

``assess_channels`` judges a block of samples (pure numpy/scipy); ``check_signal`` reads the
configured board directly (not through the daemon) for a few seconds, measures impedance
where the board has a lead-off test, and returns a :class:`SignalCheck`: one row per channel
with pass / warn / fail and what to fix. Thresholds follow SIGNALS.md and the OpenBCI GUI
(railed at ≥ 90 % of the ADS1299's full scale, near-railed at ≥ 75 %); mains hum fails a
channel when its power (line frequency ± 1 Hz) exceeds the EEG's own (1–45 Hz).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.signal import welch

from runtime.config import Config, SourceConfig
from runtime.errors import ConfigError
from runtime.features import EegFeatureSettings, check_channel_quality

logger = logging.getLogger("runtime.lab")

#: ADS1299 (OpenBCI) full scale at gain 24, µV: what "railed %" is a percentage of.
FULL_SCALE_UV = 4.5e6 / 24
Verdict = Literal["pass", "warn", "fail"]
ChannelKind = Literal["eeg", "ecg", "ppg"]

#: What to do about each problem, in the words a lab assistant needs.
FIXES: dict[str, str] = {
    "non-finite": "the board sent invalid (NaN) samples: reconnect the board, check again",
    "flat": "no signal: plug the electrode lead in and check the channel is switched on "
    "(not powered down or shorted)",
    "railed": "amplifier saturated: re-seat the electrode (gel, skin contact) and check the "
    "reference (SRB2) and bias (BIAS) electrodes",
    "near-railed": "drifting towards saturation: check this electrode's contact and the "
    "reference and bias electrodes",
    "line-noise": "mains hum: improve the reference and bias contact, keep cables away from "
    "power leads and chargers, run the laptop on battery",
    "some-line-noise": "some mains hum: check the reference and bias contact",
    "impedance": "high impedance: add gel or abrade the skin under the electrode, press it "
    "on, then check again",
    "emg": "muscle noise: ask the participant to relax jaw, face and neck",
    "blink": "blinks on a frontal channel: normal, but ask for still eyes during the baseline",
}
_FAILING = {"non-finite", "flat", "railed", "line-noise", "impedance"}


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds and durations of the signal check."""

    seconds: float = 4.0
    railed_fail_percent: float = 90.0
    railed_warn_percent: float = 75.0
    max_impedance_kohm: float = 50.0
    #: Mains power (line ± 1 Hz) over EEG power (1–45 Hz): fail above, warn above the second.
    line_ratio_fail: float = 1.0
    line_ratio_warn: float = 0.25
    impedance: bool = True
    impedance_measure_s: float = 1.0
    impedance_settle_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("seconds", "max_impedance_kohm", "impedance_measure_s", "line_ratio_fail",
                     "line_ratio_warn"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a number > 0; {value!r} is invalid")
        if not 0 < self.railed_warn_percent <= self.railed_fail_percent:
            raise ConfigError(
                f"railed_warn_percent ({self.railed_warn_percent}) must be > 0 and at most "
                f"railed_fail_percent ({self.railed_fail_percent})"
            )


@dataclass(frozen=True)
class ChannelCheck:
    """One channel's measurements and verdict. Values are None where they do not apply."""

    name: str
    kind: ChannelKind
    verdict: Verdict
    problems: tuple[str, ...] = ()
    rms_uv: float | None = None
    railed_percent: float | None = None
    line_uv: float | None = None
    line_ratio: float | None = None
    impedance_kohm: float | None = None

    @property
    def fixes(self) -> tuple[str, ...]:
        """What to do, one sentence per problem."""
        return tuple(FIXES[p] for p in self.problems if p in FIXES)


@dataclass
class SignalCheck:
    """The result of a signal check: one :class:`ChannelCheck` per channel."""

    board: str
    fs: float
    seconds: float
    line_freq_hz: float
    channels: list[ChannelCheck] = field(default_factory=list)
    impedance_note: str = ""

    @property
    def passed(self) -> bool:
        """True when no channel failed (warnings pass)."""
        return all(c.verdict != "fail" for c in self.channels)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        for channel, check in zip(out["channels"], self.channels, strict=True):
            channel["fixes"] = list(check.fixes)
        return out


def _band_power(freqs: np.ndarray, psd: np.ndarray, low: float, high: float) -> float:
    mask = (freqs >= low) & (freqs < high)
    return float(psd[mask].sum() * (freqs[1] - freqs[0])) if mask.any() else 0.0


def assess_channels(
    data: np.ndarray,
    names: Sequence[str],
    kinds: Sequence[ChannelKind],
    fs: float,
    eeg: EegFeatureSettings,
    settings: CheckSettings | None = None,
    impedance_kohm: dict[str, float] | None = None,
) -> list[ChannelCheck]:
    """Judge each channel of a (n_channels, n_samples) block (µV for EEG and ECG)."""
    settings = settings or CheckSettings()
    impedance_kohm = impedance_kohm or {}
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != len(names) or len(names) != len(kinds):
        raise ValueError(
            f"data of shape {data.shape} does not match {len(names)} names / {len(kinds)} kinds"
        )
    out: list[ChannelCheck] = []
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        x = data[i]
        if kind == "ppg":
            out.append(_assess_ppg(name, x))
        else:
            out.append(
                _assess_exg(name, kind, x, fs, eeg, settings, impedance_kohm.get(name))
            )
    return out


def _assess_ppg(name: str, x: np.ndarray) -> ChannelCheck:
    if not np.all(np.isfinite(x)):
        return ChannelCheck(name, "ppg", "fail", ("non-finite",))
    if x.size == 0 or float(np.std(x)) <= 1e-9 * max(1.0, float(np.max(np.abs(x)))):
        return ChannelCheck(name, "ppg", "fail", ("flat",))
    return ChannelCheck(name, "ppg", "pass")


def _assess_exg(
    name: str,
    kind: ChannelKind,
    x: np.ndarray,
    fs: float,
    eeg: EegFeatureSettings,
    settings: CheckSettings,
    impedance: float | None,
) -> ChannelCheck:
    if not np.all(np.isfinite(x)):
        return ChannelCheck(name, kind, "fail", ("non-finite",), impedance_kohm=impedance)
    railed = 100.0 * float(np.max(np.abs(x))) / FULL_SCALE_UV if x.size else 0.0
    nperseg = max(8, min(int(round(2.0 * fs)), x.size))
    freqs, psd = welch(x, fs=fs, window="hann", nperseg=nperseg, detrend="constant")
    total = _band_power(freqs, psd, 1.0, 45.0)
    line_freq = float(eeg.line_freq_hz)
    line = _band_power(freqs, psd, line_freq - 1.0, line_freq + 1.0) if fs > 2 * (
        line_freq + 1.0
    ) else None
    quality = check_channel_quality(
        x[np.newaxis], freqs, psd[np.newaxis], [name], eeg.model_copy(update={"railed_uv": None})
    )[0]
    problems: list[str] = []
    if quality.reason == "flat" and railed < settings.railed_fail_percent:
        problems.append("flat")  # a channel stuck at the rail is flat too: "railed" says why
    if railed >= settings.railed_fail_percent:
        problems.append("railed")
    elif railed >= settings.railed_warn_percent:
        problems.append("near-railed")
    ratio = None if line is None else (line / total if total > 0 else math.inf)
    if ratio is not None and quality.reason != "flat":
        if ratio > settings.line_ratio_fail:
            problems.append("line-noise")
        elif ratio > settings.line_ratio_warn:
            problems.append("some-line-noise")
    if impedance is not None and impedance > settings.max_impedance_kohm:
        problems.append("impedance")
    if kind == "eeg" and quality.reason in ("emg", "blink") and "railed" not in problems:
        problems.append(quality.reason)
    verdict: Verdict = "pass"
    if any(p in _FAILING for p in problems):
        verdict = "fail"
    elif problems:
        verdict = "warn"
    return ChannelCheck(
        name,
        kind,
        verdict,
        tuple(problems),
        rms_uv=math.sqrt(total),
        railed_percent=railed,
        line_uv=None if line is None else math.sqrt(line),
        line_ratio=ratio,
        impedance_kohm=impedance,
    )


@contextmanager
def _replayable_source(config: Config) -> Iterator[SourceConfig]:
    """The ``[source]`` to open: a scenario is rendered (at full speed) into a temp dir."""
    source = config.source
    if not source.scenario:
        yield source
        return
    from runtime.config import with_overrides
    from runtime.scenario import render_scenario_files

    directory = Path(tempfile.mkdtemp(prefix="kintsugi-check-"))
    try:
        try:
            keys = render_scenario_files(source.scenario, source.master_board, directory, 0.0)
        except ValueError as exc:  # sim's ScenarioError / SimError
            raise ConfigError(f"[source] scenario = {source.scenario!r}: {exc}") from exc
        yield with_overrides(config, "source", **keys).source
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def check_signal(config: Config, settings: CheckSettings | None = None) -> SignalCheck:
    """Read the configured board for ``settings.seconds`` and judge every channel.

    Opens the board itself (no daemon may hold it meanwhile). Raises ``drivers.DeviceError``
    when the board cannot be opened or sends too few samples.
    """
    from drivers import BrainFlowSource, plan_raw_streams
    from runtime.lab._impedance import SampleReader, measure_impedance, supports_impedance
    from runtime.stages import source_settings

    settings = settings or CheckSettings()
    eeg = config.features.eeg
    with _replayable_source(config) as source_config:
        source = BrainFlowSource(source_settings(source_config))
        try:
            streams = plan_raw_streams(source.layouts, source_config.ecg_channels)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        exg = [s for s in streams if s.topic in ("raw.eeg", "raw.ecg")]
        if not exg:
            raise ConfigError(f"the {source_config.board} board has no EEG channels to check")
        preset = exg[0].preset
        layout = source.layouts[preset]
        fs = layout.sampling_rate
        board = source_config.board
        if board == "playback":
            what = Path(source_config.scenario or source_config.file).stem
            board = f"playback of {what} (as {source_config.master_board})"
        source.start()
        try:
            reader = SampleReader(source, preset, timeout_s=source_config.timeout_s + 5.0)
            block = reader(max(8, int(round(settings.seconds * fs))))
            impedance: dict[str, float] = {}
            note = f"n/a: the {source_config.board} board has no lead-off test"
            if settings.impedance and supports_impedance(source_config.board):
                rows = [r for s in exg for r in s.rows]
                by_row = measure_impedance(
                    source.config_board,
                    reader,
                    rows,
                    fs,
                    measure_s=settings.impedance_measure_s,
                    settle_s=settings.impedance_settle_s,
                )
                names_by_row = {r: n for s in exg for r, n in zip(s.rows, s.names, strict=True)}
                impedance = {names_by_row[r]: v for r, v in by_row.items()}
                note = "lead-off test: 6 nA at 31.25 Hz, one channel at a time"
            elif not settings.impedance:
                note = "not measured (--no-impedance)"
        finally:
            source.close()
    names, kinds, rows_data = [], [], []
    for stream in exg:
        for row, name in zip(stream.rows, stream.names, strict=True):
            names.append(name)
            kinds.append("ecg" if stream.topic == "raw.ecg" else "eeg")
            rows_data.append(block[row])
    channels = assess_channels(
        np.array(rows_data), names, kinds, fs, eeg, settings, impedance
    )
    for stream in streams:
        if stream.topic != "raw.ppg":
            continue
        ppg = block if stream.preset == preset else reader.other(stream.preset)
        if ppg is None:
            continue
        channels += assess_channels(
            ppg[list(stream.rows)], list(stream.names), ["ppg"] * len(stream.rows),
            stream.fs, eeg, settings,
        )
    return SignalCheck(board, fs, settings.seconds, float(eeg.line_freq_hz), channels, note)
