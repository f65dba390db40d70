"""What an emulated board measures: electrode voltages (and optics) sample by sample.

A :class:`DeviceFeed` is device-independent data at the board's sample rate; the emulators
turn it into counts and packets. :func:`scenario_feed` renders a sim/ scenario (EEG whose
band powers follow attention, ECG or PPG whose HRV follows stress) onto a board's channels,
with the ground truth; :func:`sine_feed` is a known test tone for protocol checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim._check import check_int, check_positive
from sim._errors import SimError
from sim._layout import ADS1299_FULL_SCALE_UV, BoardLayout
from sim._render import SimTruth, render_session
from sim._scenario import Scenario


@dataclass(frozen=True)
class DeviceSpec:
    """An emulated board's channels: ``n_exg`` biopotential channels sampled at ``fs`` Hz.

    ``eeg_channels`` (indices into the ExG channels) carry simulated EEG; ``ecg_channel``, if
    set, carries an ECG lead (a Cyton has no optical sensor, so its heart data is ECG on one
    channel); ``has_ppg`` boards also carry two PPG rows (red, infrared) and EDA.
    """

    name: str
    fs: float
    n_exg: int
    eeg_channels: tuple[int, ...]
    eeg_names: tuple[str, ...]
    ecg_channel: int | None = None
    has_ppg: bool = False


_CYTON_NAMES = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
_DAISY_NAMES = ("F7", "F8", "F3", "F4", "T7", "T8", "P3", "P4")
_GALEA_EEG_NAMES = ("F1", "F2", "C3", "C4", "P3", "P4", "O1", "O2", "Cz", "Pz",
                    "X1", "X2", "X3", "X4", "X5", "X6")

#: The boards an emulator exists for. On the Cyton the last channel (O2's input, N8P) is
#: wired to ECG electrodes; configs/cyton.toml says so with ``ecg_channels = [7]``.
DEVICES: dict[str, DeviceSpec] = {
    "cyton": DeviceSpec("cyton", 250.0, 8, tuple(range(7)), _CYTON_NAMES[:7], ecg_channel=7),
    # With a Daisy the ECG lead stays on the Cyton's own 8th input, so one config fits both.
    "cyton-daisy": DeviceSpec(
        "cyton-daisy", 125.0, 16, (*range(7), *range(8, 16)), _CYTON_NAMES[:7] + _DAISY_NAMES,
        ecg_channel=7,
    ),
    # Galea: ExG channels 0-7 are EMG/EOG, 8-23 EEG; PPG and EDA travel in the same packets.
    "galea": DeviceSpec("galea", 250.0, 24, tuple(range(8, 24)), _GALEA_EEG_NAMES, has_ppg=True),
}


def lookup_device(name: str) -> DeviceSpec:
    """The :class:`DeviceSpec` of an emulated board by name."""
    try:
        return DEVICES[name]
    except KeyError:
        raise SimError(
            f"device {name!r} has no emulator; use one of {', '.join(DEVICES)}."
        ) from None


@dataclass(frozen=True)
class DeviceFeed:
    """Samples an emulator sends, looping at the end.

    ``exg_uv``: (n_exg, n) µV at the electrodes. ``sample_index``: (n,) increasing sample
    numbers; a gap is packets the board never sent (the wire counter jumps over them), and
    the feed loops after ``sample_index[-1] + 1`` samples. ``ppg``: (2, n) optical counts
    (red, infrared) or None; ``eda_us``: (n,) skin conductance in µS or None.
    """

    fs: float
    exg_uv: np.ndarray
    sample_index: np.ndarray = field(default=None)  # type: ignore[assignment]
    ppg: np.ndarray | None = None
    eda_us: np.ndarray | None = None
    description: str = ""

    def __post_init__(self) -> None:
        check_positive("fs", self.fs)
        exg = np.asarray(self.exg_uv, dtype=float)
        if exg.ndim != 2 or exg.shape[1] == 0:
            raise SimError(
                f"'exg_uv' must be (n_channels, n_samples) with n_samples > 0; got shape "
                f"{exg.shape}."
            )
        object.__setattr__(self, "exg_uv", exg)
        n = exg.shape[1]
        index = np.arange(n) if self.sample_index is None else np.asarray(self.sample_index)
        if index.shape != (n,) or (n > 1 and np.any(np.diff(index) <= 0)) or index[0] < 0:
            raise SimError(
                f"'sample_index' must be {n} increasing sample numbers >= 0 (one per sample); "
                f"got shape {index.shape}."
            )
        object.__setattr__(self, "sample_index", index.astype(np.int64))
        if self.ppg is not None:
            ppg = np.asarray(self.ppg, dtype=float)
            if ppg.shape != (2, n):
                raise SimError(f"'ppg' must have shape (2, {n}) (red, infrared); got {ppg.shape}.")
            object.__setattr__(self, "ppg", ppg)
        if self.eda_us is not None:
            eda = np.asarray(self.eda_us, dtype=float)
            if eda.shape != (n,):
                raise SimError(f"'eda_us' must have shape ({n},); got {eda.shape}.")
            object.__setattr__(self, "eda_us", eda)

    @property
    def n_samples(self) -> int:
        """Samples the feed holds (before it loops)."""
        return int(self.exg_uv.shape[1])

    @property
    def period_samples(self) -> int:
        """Sample numbers one loop covers, gaps included."""
        return int(self.sample_index[-1]) + 1

    @property
    def n_channels(self) -> int:
        """ExG channels."""
        return int(self.exg_uv.shape[0])


def sine_feed(
    device: str | DeviceSpec,
    amplitude_uv: float = 50.0,
    freq_hz: float = 10.0,
    duration_s: float = 10.0,
) -> DeviceFeed:
    """The same sine (peak ``amplitude_uv``) on every ExG channel: a protocol test tone.

    Boards with optics also get a 1.2 Hz PPG wave (red 50000 ± 1000 counts, infrared
    40000 ± 700) and a constant 5 µS EDA.
    """
    spec = lookup_device(device) if isinstance(device, str) else device
    check_positive("amplitude_uv", amplitude_uv)
    check_positive("freq_hz", freq_hz)
    n = int(round(check_positive("duration_s", duration_s) * spec.fs))
    t = np.arange(n) / spec.fs
    exg = np.tile(amplitude_uv * np.sin(2 * np.pi * freq_hz * t), (spec.n_exg, 1))
    ppg = eda = None
    if spec.has_ppg:
        pulse = np.sin(2 * np.pi * 1.2 * t)
        ppg = np.vstack([50000 + 1000 * pulse, 40000 + 700 * pulse])
        eda = np.full(n, 5.0)
    return DeviceFeed(spec.fs, exg, None, ppg, eda, f"{amplitude_uv:g} uV sine at {freq_hz:g} Hz")


def _layout(spec: DeviceSpec) -> BoardLayout:
    """A sim layout with one row per ExG channel (row = channel + 1), PPG rows after them."""
    eeg_rows = tuple(c + 1 for c in spec.eeg_channels)
    ecg_rows = () if spec.ecg_channel is None else (spec.ecg_channel + 1,)
    ppg_rows = (spec.n_exg + 1, spec.n_exg + 2) if spec.has_ppg else ()
    top = spec.n_exg + 1 + len(ppg_rows)
    return BoardLayout(
        num_rows=top + 1, sampling_rate=spec.fs, eeg_rows=eeg_rows, ecg_rows=ecg_rows,
        ppg_rows=ppg_rows, package_num_row=0, timestamp_row=top, eeg_names=spec.eeg_names,
        full_scale_uv=ADS1299_FULL_SCALE_UV, name=f"{spec.name}-emulator",
    )


def scenario_feed(
    scenario: Scenario,
    device: str | DeviceSpec,
    *,
    duration_s: float | None = None,
    exg_noise_uv: float = 3.0,
) -> tuple[DeviceFeed, SimTruth]:
    """Render ``scenario`` onto the board's channels; returns the feed and its ground truth.

    EEG channels get sim EEG, the ECG channel (Cyton) an ECG lead, the PPG rows (Galea)
    pulse waves, all from one beat series whose HRV follows the stress timeline. ExG
    channels that carry neither (Galea's EMG/EOG) get white noise of ``exg_noise_uv`` RMS.
    EDA (Galea) is a tonic level, 2 + 4·stress µS: it follows the stress timeline in
    direction only and is not a validated electrodermal model. Dropped-packet artifacts
    become counter jumps. ``duration_s`` renders only the first seconds of the scenario.
    """
    spec = lookup_device(device) if isinstance(device, str) else device
    check_int("n_exg", spec.n_exg, minimum=1)
    layout = _layout(spec)
    rec = render_session(scenario, layout, speed=1.0, start_time=0.0, duration_s=duration_s)
    n = rec.data.shape[1]
    exg = np.zeros((spec.n_exg, n))
    carried = set(spec.eeg_channels) | (
        set() if spec.ecg_channel is None else {spec.ecg_channel}
    )
    rng = np.random.default_rng(np.random.SeedSequence(scenario.seed, spawn_key=(97,)))
    for ch in range(spec.n_exg):
        if ch in carried:
            exg[ch] = rec.data[ch + 1]
        else:
            exg[ch] = exg_noise_uv * rng.standard_normal(n)
    ppg = eda = None
    if spec.has_ppg:
        # sim renders PPG as (IR-like, red-like); the wire order is (red, infrared).
        ir, red = rec.data[list(layout.ppg_rows)]
        ppg = np.vstack([red, ir])
        eda = 2.0 + 4.0 * rec.truth.stress
    feed = DeviceFeed(
        spec.fs, exg, rec.truth.sample_index, ppg, eda,
        f"scenario {scenario.name} (seed {scenario.seed})",
    )
    return feed, rec.truth
