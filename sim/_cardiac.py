"""Heart beats whose rate and variability follow a stress timeline.

What a stress level means (the product's level contract, docs/levels.md): the person's
own calm rest reads ``rest_level`` (0.15), and the responses the stress literature reports
map onto the levels below (Allen et al. 2014 and Kim et al. 2018, summarised in
SIGNALS.md: mental arithmetic raises HR 5–10 bpm and lowers RMSSD 10–30 %; the Trier Social
Stress Test raises HR 15–25 bpm and roughly halves RMSSD). Between anchors the change of HR
and of ln RMSSD is linear in the level:

    level   HR − HR_rest   RMSSD / RMSSD_rest   typical of
    0.00        −4 bpm          × 1.25           deep relaxation
    0.15         0              × 1.00           calm rest
    0.35        +5              × 0.85           mild load
    0.60       +10              × 0.70           demanding mental arithmetic
    0.90       +20              × 0.50           strong acute stress (TSST)
    1.00       +25              × 0.40           the strongest responses reported

``response_scale`` scales every change (1 = the typical responder, 0 = no response).

RR model (all in ms), evaluated at each beat time t with level s = stress(t)::

    RR(t) = 60000 / HR(s) + A_rsa(s) · sin φ_resp(t) + A_lf · sin(2π · 0.1 Hz · t + φ_lf) + ε

* breathing speeds up from ``resp_rest_hz`` to ``resp_stress_hz`` over levels 0 → 1, with a
  slow random jitter of its rate, so φ_resp is not a pure sine;
* respiratory sinus arrhythmia: its amplitude A_rsa(s) is what gives the level's RMSSD with
  this breathing rate and heart rate. A sine of amplitude A sampled once a beat (period T)
  has a mean squared successive difference 2A²·sin²(π·f·T); the 0.1 Hz (LF, Mayer wave)
  component ``lf_ms`` and white beat-to-beat noise ``noise_ms`` add theirs, and A_rsa makes
  up the rest (0 when they already exceed the target);
* HR itself is the anchor table above applied to ``hr_rest_bpm``.

This is the simulator's own physiology: nothing here reads the estimator's formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim._check import check_non_negative, check_positive
from sim._errors import SimError
from sim._noise import shaped_noise
from sim._timeline import Timeline

_RESP_GRID_HZ = 10.0


#: Stress level → (HR change in bpm, RMSSD ratio) against calm rest (module docstring).
STRESS_RESPONSE: tuple[tuple[float, float, float], ...] = (
    (0.00, -4.0, 1.25),
    (0.15, 0.0, 1.00),
    (0.35, 5.0, 0.85),
    (0.60, 10.0, 0.70),
    (0.90, 20.0, 0.50),
    (1.00, 25.0, 0.40),
)
_LEVELS = np.array([row[0] for row in STRESS_RESPONSE])
_HR_DELTA = np.array([row[1] for row in STRESS_RESPONSE])
_LN_RMSSD_RATIO = np.log([row[2] for row in STRESS_RESPONSE])


@dataclass(frozen=True)
class CardiacParams:
    """Parameters of the RR model (see the module docstring).

    ``hr_rest_bpm`` and ``rmssd_rest_ms`` are the person's calm rest (stress level 0.15).
    """

    hr_rest_bpm: float = 62.0
    rmssd_rest_ms: float = 42.0
    #: How strongly this person responds: 1 = the typical response of the anchor table.
    response_scale: float = 1.0
    resp_rest_hz: float = 0.25
    resp_stress_hz: float = 0.33
    #: Relative jitter of the breathing rate (slow, < 0.05 Hz).
    resp_jitter: float = 0.08
    lf_ms: float = 8.0
    noise_ms: float = 3.0

    def __post_init__(self) -> None:
        for name in ("hr_rest_bpm", "rmssd_rest_ms", "resp_rest_hz", "resp_stress_hz"):
            check_positive(name, getattr(self, name))
        for name in ("response_scale", "resp_jitter", "lf_ms", "noise_ms"):
            check_non_negative(name, getattr(self, name))
        top = self.hr_rest_bpm + self.response_scale * float(_HR_DELTA.max())
        low = self.hr_rest_bpm + self.response_scale * float(_HR_DELTA.min())
        if not (low >= 30 and top <= 200):
            raise SimError(
                f"'hr_rest_bpm' = {self.hr_rest_bpm!r} with 'response_scale' = "
                f"{self.response_scale!r} puts heart rate at {low:g}–{top:g} bpm over stress "
                "0–1; keep it within 30–200 bpm (a resting HR of 50–90 bpm is typical)."
            )

    def mean_hr_bpm(self, stress: np.ndarray | float) -> np.ndarray:
        """Mean heart rate (bpm) at the given stress level."""
        delta = np.interp(np.asarray(stress, dtype=float), _LEVELS, _HR_DELTA)
        return self.hr_rest_bpm + self.response_scale * delta

    def target_rmssd_ms(self, stress: np.ndarray | float) -> np.ndarray:
        """RMSSD (ms) that the given stress level has (the anchor table's ratio × rest)."""
        ln_ratio = np.interp(np.asarray(stress, dtype=float), _LEVELS, _LN_RMSSD_RATIO)
        return self.rmssd_rest_ms * np.exp(self.response_scale * ln_ratio)

    def resp_hz(self, stress: np.ndarray | float) -> np.ndarray:
        """Breathing rate (Hz) at the given stress level, before its random jitter."""
        s = np.asarray(stress, dtype=float)
        return self.resp_rest_hz + (self.resp_stress_hz - self.resp_rest_hz) * s

    def rsa_ms(self, stress: np.ndarray | float) -> np.ndarray:
        """Amplitude of respiratory sinus arrhythmia (ms) that gives the level's RMSSD."""
        s = np.asarray(stress, dtype=float)
        period_s = 60.0 / self.mean_hr_bpm(s)
        others = 2 * self.lf_ms**2 * np.sin(np.pi * 0.1 * period_s) ** 2 + 2 * self.noise_ms**2
        gain = 2 * np.sin(np.pi * self.resp_hz(s) * period_s) ** 2
        return np.sqrt(np.maximum(self.target_rmssd_ms(s) ** 2 - others, 0.0) / gain)


@dataclass(frozen=True)
class HrvWindows:
    """True HR and HRV on sliding windows of the beat series (ground truth for estimators).

    ``start_s``/``end_s`` bound each window; a window uses the beats inside it and the RR
    intervals between consecutive such beats. HR = 60000/mean RR, RMSSD = √mean(ΔRR²),
    SDNN = std(RR, ddof=1). A window with fewer than 3 RR intervals holds NaN.
    """

    window_s: float
    start_s: np.ndarray
    end_s: np.ndarray
    hr_bpm: np.ndarray
    rmssd_ms: np.ndarray
    sdnn_ms: np.ndarray


@dataclass(frozen=True)
class RRSeries:
    """Simulated beats: R-peak times (s), RR intervals (ms) and the stress they were made from.

    ``rr_ms[i]`` is the interval between ``beat_times_s[i]`` and ``beat_times_s[i + 1]``.
    """

    beat_times_s: np.ndarray
    rr_ms: np.ndarray
    duration_s: float
    stress: Timeline
    params: CardiacParams

    def windows(self, window_s: float = 60.0, hop_s: float = 5.0) -> HrvWindows:
        """True HR/RMSSD/SDNN on windows of ``window_s`` every ``hop_s`` (see HrvWindows)."""
        return compute_hrv_windows(self.beat_times_s, self.duration_s, window_s, hop_s)


def compute_hrv_windows(
    beat_times_s: np.ndarray, duration_s: float, window_s: float = 60.0, hop_s: float = 5.0
) -> HrvWindows:
    """HR, RMSSD and SDNN of the beats on windows ``[k·hop_s, k·hop_s + window_s]``."""
    window_s = check_positive("window_s", window_s)
    hop_s = check_positive("hop_s", hop_s)
    beats = np.asarray(beat_times_s, dtype=float)
    starts = np.arange(0.0, duration_s - window_s + 1e-9, hop_s)
    hr, rmssd, sdnn = (np.full(starts.size, np.nan) for _ in range(3))
    lo = np.searchsorted(beats, starts, side="left")
    hi = np.searchsorted(beats, starts + window_s, side="left")
    for k, (a, b) in enumerate(zip(lo, hi, strict=True)):
        rr = np.diff(beats[a:b]) * 1000.0
        if rr.size < 3:
            continue
        hr[k] = 60000.0 / rr.mean()
        rmssd[k] = np.sqrt(np.mean(np.diff(rr) ** 2))
        sdnn[k] = rr.std(ddof=1)
    return HrvWindows(window_s, starts, starts + window_s, hr, rmssd, sdnn)


def sim_rr_intervals(
    stress: Timeline | Sequence[Sequence[float]] | float,
    duration_s: float,
    seed: int | np.random.Generator | np.random.SeedSequence,
    *,
    params: CardiacParams | None = None,
) -> RRSeries:
    """Simulate beats for ``duration_s`` seconds whose HR rises and RMSSD falls with stress.

    ``stress`` is a value in [0, 1], a :class:`Timeline` or ``[[time_s, value], ...]``
    (piecewise linear). ``seed`` seeds a ``numpy.random.Generator``. See the module docstring.
    """
    duration_s = check_positive("duration_s", duration_s)
    params = params or CardiacParams()
    if isinstance(stress, Timeline):
        timeline = stress
    elif np.isscalar(stress):
        timeline = Timeline.from_points([[0.0, float(stress)]], name="stress")
    else:
        timeline = Timeline.from_points(stress, name="stress")
    rng = np.random.default_rng(seed)

    # Breathing phase on a 10 Hz grid: rate follows stress, with slow random jitter.
    grid_t = np.arange(0.0, duration_s + 5.0, 1.0 / _RESP_GRID_HZ)
    s_grid = timeline.at(grid_t)
    jitter = shaped_noise(rng, 1, grid_t.size, _RESP_GRID_HZ,
                          lambda f: np.exp(-0.5 * (f / 0.02) ** 2))[0]
    jitter /= max(jitter.std(), 1e-12)
    rate = params.resp_hz(s_grid)
    rate *= np.clip(1.0 + params.resp_jitter * jitter, 0.5, 1.5)
    phase = 2 * np.pi * np.cumsum(rate) / _RESP_GRID_HZ + rng.uniform(0, 2 * np.pi)
    lf_phase = rng.uniform(0, 2 * np.pi)

    t = rng.uniform(0.0, 60.0 / params.mean_hr_bpm(timeline.at(0.0)))
    beats = [t]
    while t < duration_s:
        s = timeline.at(t)
        rr = (
            60000.0 / params.mean_hr_bpm(s)
            + params.rsa_ms(s) * np.sin(np.interp(t, grid_t, phase))
            + params.lf_ms * np.sin(2 * np.pi * 0.1 * t + lf_phase)
            + params.noise_ms * rng.standard_normal()
        )
        t += float(np.clip(rr, 250.0, 2000.0)) / 1000.0
        beats.append(t)
    times = np.array(beats[:-1]) if beats[-1] >= duration_s else np.array(beats)
    return RRSeries(times, np.diff(times) * 1000.0, duration_s, timeline, params)
