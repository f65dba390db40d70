"""EEG whose band powers follow an attention timeline (engagement index ground truth).

Model, per channel (all powers in µV², rates in Hz):

* background: 1/f noise with PSD ∝ 1/(f² + knee²)^(χ/2), χ drawn per channel in
  ``exponent_range`` (1..2), scaled to ``background_uv2`` between 2 and 45 Hz;
* θ (6 Hz), α (9.5–10.5 Hz, per channel) and β (20 Hz, broad) oscillations: Gaussian-shaped
  narrowband noise (random phases, waxing and waning), times a log-normal burst envelope,
  times ``sqrt(P_band(attention(t)))``;
* white amplifier noise ``noise_uv`` RMS, an optional DC offset, and a per-channel gain.

Mapping from attention a ∈ [0, 1] to oscillatory power (x = a − 0.5, g = ``engagement_gain``)::

    P_β(a) = beta_uv2 · e^(+g·x)    P_α(a) = alpha_uv2 · e^(−g·x)    P_θ(a) = theta_uv2 · e^(−g·x)

so more attention means more β and less α and θ, and the engagement index β/(α+θ) (band
powers including the background) rises monotonically with attention. With the defaults,
ln β/(α+θ) goes from about −2.3 at a = 0 to about −0.8 at a = 1 (a span of ≈1.5); the exact
expected value per channel is :meth:`SimEeg.expected_log_engagement`, computed analytically
from the same spectra.
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


@dataclass(frozen=True)
class EegParams:
    """Parameters of the EEG model (powers in µV² at attention 0.5; see the module docstring)."""

    theta_uv2: float = 30.0
    alpha_uv2: float = 60.0
    beta_uv2: float = 15.0
    #: Natural-log change of each oscillatory band power over attention 0 → 1.
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

    def expected_band_powers_uv2(self, attention: np.ndarray | float) -> dict[str, np.ndarray]:
        """Expected θ/α/β band power (µV², band edges in :data:`BANDS_HZ`) per channel.

        Returns arrays of shape ``(n_channels, *np.shape(attention))``, computed analytically
        from the model spectra (the burst envelope has mean square 1, so it does not enter).
        """
        return _expected_band_powers(self, np.asarray(attention, dtype=float))

    def expected_log_engagement(self, attention: np.ndarray | float) -> np.ndarray:
        """Expected ln(β/(α+θ)) per channel at the given attention values."""
        bp = self.expected_band_powers_uv2(attention)
        return np.log(bp["beta"] / (bp["alpha"] + bp["theta"]))


def _osc_powers(params: EegParams, attention: np.ndarray) -> dict[str, np.ndarray]:
    x = attention - 0.5
    g = params.engagement_gain
    return {
        "theta": params.theta_uv2 * np.exp(-g * x),
        "alpha": params.alpha_uv2 * np.exp(-g * x),
        "beta": params.beta_uv2 * np.exp(g * x),
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


def _expected_band_powers(eeg: SimEeg, attention: np.ndarray) -> dict[str, np.ndarray]:
    osc = _osc_powers(eeg.params, attention)
    grid = np.linspace(0.0, eeg.fs / 2, int(eeg.fs * 20) + 1)
    bg_psd = _background_psd(grid, eeg.exponents, eeg.params)
    white_psd = eeg.params.noise_uv**2 / (eeg.fs / 2)
    out: dict[str, np.ndarray] = {}
    extra = (1,) * attention.ndim
    for band, (lo, hi) in BANDS_HZ.items():
        sel = (grid >= lo) & (grid <= hi)
        bg = np.trapezoid(bg_psd[:, sel], grid[sel], axis=1)
        m_theta = _gauss_mass(_THETA_HZ, _THETA_SD_HZ, lo, hi)
        m_alpha = _gauss_mass(eeg.alpha_hz, _ALPHA_SD_HZ, lo, hi)
        m_beta = _gauss_mass(_BETA_HZ, _BETA_SD_HZ, lo, hi)
        osc_power = (
            m_theta * osc["theta"][None]
            + m_alpha.reshape(-1, *extra) * osc["alpha"][None]
            + m_beta * osc["beta"][None]
        )
        g2 = (eeg.gains**2).reshape(-1, *extra)
        out[band] = g2 * (osc_power + bg.reshape(-1, *extra)) + white_psd * (hi - lo)
    return out


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

    data = shaped_noise(rng, n_channels, n, fs, lambda f: _background_psd(f, exponents, params))
    osc = _osc_powers(params, att)
    shapes = {
        "theta": lambda f: _gauss_pdf(f, _THETA_HZ, _THETA_SD_HZ),
        "alpha": lambda f: _gauss_pdf(f[None, :], alpha_hz[:, None], _ALPHA_SD_HZ),
        "beta": lambda f: _gauss_pdf(f, _BETA_HZ, _BETA_SD_HZ),
    }
    for band, shape in shapes.items():
        carrier = shaped_noise(rng, n_channels, n, fs, shape)
        env = burst_envelope(rng, n_channels, n, fs, params.burst_depth, params.burst_rate_hz)
        data += carrier * env * np.sqrt(osc[band])[None, :]
    data *= gains[:, None]
    data += params.noise_uv * rng.standard_normal((n_channels, n))
    data += offsets[:, None]
    return SimEeg(data, fs, att, params, exponents, alpha_hz, gains)


def _gauss_pdf(f: np.ndarray, center: np.ndarray | float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((f - center) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
