"""EEG whose band powers follow an attention timeline (engagement index ground truth).

What an attention level means (the product's level contract, docs/levels.md): the
person's own rest reads 0.5, and a level stands for an engagement index E = β/(α+θ)
(band powers, Pope et al. 1995) that many times the resting one. Focused tasks raise E
×1.3–2.5 (alpha falls 20–50 %, beta rises 10–40 %: Pope et al. 1995, Klimesch 1999;
SIGNALS.md); between the anchors ln E is linear in the level:

    level     0.00   0.15   0.50   0.85   1.00
    E / rest  × 0.3  × 0.5  × 1    × 2    × 3

``engagement_gain`` scales ln E / rest (1 = the typical responder).

Model, per channel (all powers in µV², rates in Hz):

* background: 1/f noise with PSD ∝ 1/(f² + knee²)^(χ/2), χ drawn per channel in
  ``exponent_range`` (1..2), scaled to ``background_uv2`` between 2 and 45 Hz;
* θ (6 Hz), α (9.5–10.5 Hz, per channel) and β (20 Hz, broad) oscillations: Gaussian-shaped
  narrowband noise (random phases, waxing and waning), times a log-normal burst envelope,
  times ``sqrt(P_band(m))``, where a modulation m moves the bands as attention does
  (alpha desynchronises most, theta less, beta rises):

      P_α = alpha_uv2 · e^(−m)    P_θ = theta_uv2 · e^(−m/2)    P_β = beta_uv2 · e^(+0.6·m)

* white amplifier noise ``noise_uv`` RMS, an optional DC offset, and a per-channel gain.

For each channel, m(level) is solved so that the channel's expected band-power E (1/f
background and white noise included, computed analytically from the same spectra) is the
table's multiple of its E at rest: E ×2 takes alpha down about 40 % and beta up about 30 %
with the defaults. :meth:`SimEeg.expected_log_engagement` gives that expectation. This is
the simulator's own physiology: nothing here reads the estimator's formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from sim._check import check_fs, check_int, check_non_negative, check_positive
from sim._errors import SimError
from sim._noise import burst_envelope, shaped_noise
from sim._timeline import Timeline, resolve_timeline

#: Band edges in Hz used for the engagement index (SIGNALS.md).
BANDS_HZ: dict[str, tuple[float, float]] = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0),
                                            "beta": (13.0, 30.0)}
#: Lowest sampling rate whose Nyquist frequency holds the β oscillation (20 ± 2·4 Hz, up to 32).
MIN_EEG_FS_HZ = 64.0
_THETA_HZ, _THETA_SD_HZ = 6.0, 1.3
_ALPHA_SD_HZ = 1.0
_BETA_HZ, _BETA_SD_HZ = 20.0, 4.0
_BG_BAND_HZ = (2.0, 45.0)
#: Attention level → engagement index over rest (module docstring).
ATTENTION_RESPONSE: tuple[tuple[float, float], ...] = (
    (0.0, 0.3), (0.15, 0.5), (0.5, 1.0), (0.85, 2.0), (1.0, 3.0),
)
_LEVELS = np.array([row[0] for row in ATTENTION_RESPONSE])
_LN_E_RATIO = np.log([row[1] for row in ATTENTION_RESPONSE])
#: How each band's ln power moves per unit of modulation m.
_BAND_WEIGHTS = {"theta": -0.5, "alpha": -1.0, "beta": 0.6}
#: Levels on which m is solved; samples interpolate between them.
_LEVEL_GRID = np.linspace(0.0, 1.0, 201)
_M_RANGE = (-8.0, 8.0)


@dataclass(frozen=True)
class EegParams:
    """Parameters of the EEG model (powers in µV² at attention 0.5; see the module docstring)."""

    theta_uv2: float = 30.0
    alpha_uv2: float = 60.0
    beta_uv2: float = 15.0
    #: Scales ln(E / rest) of the level table (1 = the typical response; 0 = none).
    engagement_gain: float = 1.0
    #: Power of the 1/f background between 2 and 45 Hz.
    background_uv2: float = 40.0
    exponent_range: tuple[float, float] = (1.0, 2.0)
    knee_hz: float = 1.0
    #: Log-normal burst depth (0 = steady amplitude) and burst envelope bandwidth.
    burst_depth: float = 0.25
    burst_rate_hz: float = 2.0
    channel_gain_range: tuple[float, float] = (0.85, 1.2)
    alpha_hz_range: tuple[float, float] = (9.5, 10.5)
    noise_uv: float = 0.5
    #: Per-channel DC offsets are drawn uniformly in ±dc_offset_uv.
    dc_offset_uv: float = 0.0

    def __post_init__(self) -> None:
        for name in ("theta_uv2", "alpha_uv2", "beta_uv2", "background_uv2", "knee_hz",
                     "burst_rate_hz"):
            check_positive(name, getattr(self, name))
        for name in ("engagement_gain", "burst_depth", "noise_uv", "dc_offset_uv"):
            check_non_negative(name, getattr(self, name))
        for name in ("exponent_range", "channel_gain_range", "alpha_hz_range"):
            lo, hi = getattr(self, name)
            if not (0 < lo <= hi):
                raise SimError(
                    f"'{name}' must be (low, high) with 0 < low <= high; got {(lo, hi)}."
                )


@dataclass(frozen=True)
class SimEeg:
    """Simulated EEG and the ground truth it was made from.

    ``data_uv`` is ``(n_channels, n_samples)`` in µV at ``fs`` Hz; ``attention`` is the true
    attention per sample; the per-channel arrays record the drawn model parameters.
    """

    data_uv: np.ndarray
    fs: float
    attention: np.ndarray
    params: EegParams
    exponents: np.ndarray
    alpha_hz: np.ndarray
    gains: np.ndarray
    #: Per channel, the modulation m at each level of the level grid (0..1, 201 levels).
    modulation: np.ndarray

    def expected_band_powers_uv2(self, attention: np.ndarray | float) -> dict[str, np.ndarray]:
        """Expected θ/α/β band power (µV², band edges in :data:`BANDS_HZ`) per channel.

        Returns arrays of shape ``(n_channels, *np.shape(attention))``, computed analytically
        from the model spectra (the burst envelope has mean square 1, so it does not enter).
        """
        att = np.asarray(attention, dtype=float)
        m = _modulation_at(self.modulation, att.reshape(-1)).reshape(-1, *att.shape)
        return _spectra(self.fs, self.exponents, self.alpha_hz, self.gains, self.params).at(m)

    def expected_log_engagement(self, attention: np.ndarray | float) -> np.ndarray:
        """Expected ln(β/(α+θ)) per channel at the given attention values."""
        bp = self.expected_band_powers_uv2(attention)
        return np.log(bp["beta"] / (bp["alpha"] + bp["theta"]))


def target_log_engagement_ratio(attention: np.ndarray | float, gain: float = 1.0) -> np.ndarray:
    """ln(E / E_rest) that the level table gives the attention level(s) (module docstring)."""
    return gain * np.interp(np.asarray(attention, dtype=float), _LEVELS, _LN_E_RATIO)


def _osc_powers(params: EegParams, m: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "theta": params.theta_uv2 * np.exp(_BAND_WEIGHTS["theta"] * m),
        "alpha": params.alpha_uv2 * np.exp(_BAND_WEIGHTS["alpha"] * m),
        "beta": params.beta_uv2 * np.exp(_BAND_WEIGHTS["beta"] * m),
    }


def _background_psd(freqs: np.ndarray, exponents: np.ndarray, params: EegParams) -> np.ndarray:
    """Unit-free 1/f shapes, one row per channel, scaled to background_uv2 in 2–45 Hz."""
    shape = (freqs[None, :] ** 2 + params.knee_hz**2) ** (-exponents[:, None] / 2)
    grid = np.linspace(*_BG_BAND_HZ, 4301)
    ref = (grid[None, :] ** 2 + params.knee_hz**2) ** (-exponents[:, None] / 2)
    scale = params.background_uv2 / np.trapezoid(ref, grid, axis=1)
    return shape * scale[:, None]


def _gauss_mass(center: np.ndarray | float, sd: float, lo: float, hi: float) -> np.ndarray:
    return ndtr((hi - np.asarray(center)) / sd) - ndtr((lo - np.asarray(center)) / sd)


@dataclass(frozen=True)
class _Spectra:
    """Per-channel constants of the expected band powers: each band's share of every
    oscillation, and its background and white-noise power."""

    params: EegParams
    gains2: np.ndarray
    masses: dict[str, dict[str, np.ndarray]]
    floor: dict[str, np.ndarray]

    def at(self, m: np.ndarray) -> dict[str, np.ndarray]:
        """Expected band powers at modulation ``m`` of shape (n_channels, ...)."""
        osc = _osc_powers(self.params, m)
        extra = (1,) * (m.ndim - 1)
        out: dict[str, np.ndarray] = {}
        for band in BANDS_HZ:
            power = sum(self.masses[band][k].reshape(-1, *extra) * osc[k] for k in osc)
            out[band] = self.gains2.reshape(-1, *extra) * power + self.floor[band].reshape(
                -1, *extra
            )
        return out

    def log_engagement(self, m: np.ndarray) -> np.ndarray:
        bp = self.at(m)
        return np.log(bp["beta"] / (bp["alpha"] + bp["theta"]))


def _spectra(
    fs: float, exponents: np.ndarray, alpha_hz: np.ndarray, gains: np.ndarray, params: EegParams
) -> _Spectra:
    grid = np.linspace(0.0, fs / 2, int(fs * 20) + 1)
    bg_psd = _background_psd(grid, exponents, params)
    white_psd = params.noise_uv**2 / (fs / 2)
    n = exponents.size
    masses: dict[str, dict[str, np.ndarray]] = {}
    floor: dict[str, np.ndarray] = {}
    for band, (lo, hi) in BANDS_HZ.items():
        sel = (grid >= lo) & (grid <= hi)
        bg = np.trapezoid(bg_psd[:, sel], grid[sel], axis=1)
        masses[band] = {
            "theta": np.full(n, _gauss_mass(_THETA_HZ, _THETA_SD_HZ, lo, hi)),
            "alpha": _gauss_mass(alpha_hz, _ALPHA_SD_HZ, lo, hi),
            "beta": np.full(n, _gauss_mass(_BETA_HZ, _BETA_SD_HZ, lo, hi)),
        }
        floor[band] = gains**2 * bg + white_psd * (hi - lo)
    return _Spectra(params, gains**2, masses, floor)


def _solve_modulation(spectra: _Spectra, n_channels: int) -> np.ndarray:
    """Per channel, m on :data:`_LEVEL_GRID` whose expected E is the table's multiple of
    the E at rest (m = 0), by bisection (E rises monotonically with m)."""
    rest = spectra.log_engagement(np.zeros((n_channels, 1)))
    target = rest + target_log_engagement_ratio(_LEVEL_GRID, spectra.params.engagement_gain)
    lo = np.full((n_channels, _LEVEL_GRID.size), _M_RANGE[0])
    hi = np.full((n_channels, _LEVEL_GRID.size), _M_RANGE[1])
    if np.any(spectra.log_engagement(lo) > target) or np.any(spectra.log_engagement(hi) < target):
        raise SimError(
            "the EEG parameters cannot reach the attention levels' engagement index "
            f"(E ×{ATTENTION_RESPONSE[0][1]}–×{ATTENTION_RESPONSE[-1][1]} over rest); raise "
            "the oscillatory powers (theta_uv2, alpha_uv2, beta_uv2) against background_uv2 "
            "and noise_uv, or lower engagement_gain."
        )
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        below = spectra.log_engagement(mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _modulation_at(modulation: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """m per channel at each attention value: (n_channels, attention.size)."""
    a = np.clip(attention, 0.0, 1.0)
    return np.stack([np.interp(a, _LEVEL_GRID, row) for row in modulation])


def sim_eeg(
    attention: np.ndarray | Sequence[Sequence[float]] | Timeline | float,
    fs: float,
    n_channels: int,
    seed: int | np.random.Generator | np.random.SeedSequence,
    *,
    duration_s: float | None = None,
    params: EegParams | None = None,
) -> SimEeg:
    """Simulate ``n_channels`` of EEG (µV) at ``fs`` Hz whose engagement index follows attention.

    ``attention`` is either one value in [0, 1] per sample (1-D array; its length sets the
    duration), or a piecewise-linear timeline ``[[time_s, value], ...]`` / :class:`Timeline` /
    scalar, which needs ``duration_s``. ``seed`` seeds a ``numpy.random.Generator``; the same
    seed gives the same data. See the module docstring for the model and mapping.
    """
    fs = check_fs("fs", fs, minimum_hz=MIN_EEG_FS_HZ)
    check_int("n_channels", n_channels, minimum=1)
    if duration_s is not None:
        check_positive("duration_s", duration_s)
    params = params or EegParams()
    att = resolve_timeline(attention, name="attention", fs=fs, duration_s=duration_s)
    n = att.size
    rng = np.random.default_rng(seed)
    exponents = rng.uniform(*params.exponent_range, n_channels)
    alpha_hz = rng.uniform(*params.alpha_hz_range, n_channels)
    gains = rng.uniform(*params.channel_gain_range, n_channels)
    offsets = rng.uniform(-1.0, 1.0, n_channels) * params.dc_offset_uv

    spectra = _spectra(fs, exponents, alpha_hz, gains, params)
    modulation = _solve_modulation(spectra, n_channels)
    data = shaped_noise(rng, n_channels, n, fs, lambda f: _background_psd(f, exponents, params))
    osc = _osc_powers(params, _modulation_at(modulation, att))
    shapes = {
        "theta": lambda f: _gauss_pdf(f, _THETA_HZ, _THETA_SD_HZ),
        "alpha": lambda f: _gauss_pdf(f[None, :], alpha_hz[:, None], _ALPHA_SD_HZ),
        "beta": lambda f: _gauss_pdf(f, _BETA_HZ, _BETA_SD_HZ),
    }
    for band, shape in shapes.items():
        carrier = shaped_noise(rng, n_channels, n, fs, shape)
        env = burst_envelope(rng, n_channels, n, fs, params.burst_depth, params.burst_rate_hz)
        data += carrier * env * np.sqrt(osc[band])
    data *= gains[:, None]
    data += params.noise_uv * rng.standard_normal((n_channels, n))
    data += offsets[:, None]
    return SimEeg(data, fs, att, params, exponents, alpha_hz, gains, modulation)


def _gauss_pdf(f: np.ndarray, center: np.ndarray | float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((f - center) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
