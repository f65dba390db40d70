"""The hand-rolled spectral steps against their references: ``compute_psd`` against
``scipy.signal.welch``, ``integrate_bands`` against masked sums, ``remove_line_noise``
against the per-trial least-squares fit its docstring defines, and the blink low-pass
against ``scipy.signal.sosfiltfilt``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, welch

from runtime.features import BANDS, SignalError, compute_psd, remove_line_noise
from runtime.features._bands import integrate_bands
from runtime.features._quality import _blink_ptp

# (segment_s, overlap): the estimator's 2 s / 50 %, quarter overlap, none, and segments
# much longer than the data (one segment of all of it).
SEGMENTS = [(2.0, 0.5), (1.0, 0.25), (1.0, 0.0), (60.0, 0.5)]
RATES_HZ = [250.0, 500.0, 1000.0, 100.4]


def _signal(kind: str, shape: tuple[int, ...], fs: float, seed: int = 0) -> np.ndarray:
    """White noise with a DC offset, or sines (whole cycles per segment included) with one."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return 10.0 * rng.normal(size=shape) + 40.0
    t = np.arange(shape[-1]) / fs
    x = 20.0 * np.sin(2 * np.pi * 10.0 * t) + 3.0 * np.cos(2 * np.pi * 23.7 * t + 0.4) + 40.0
    gains = np.arange(1.0, 1.0 + math.prod(shape[:-1])).reshape(*shape[:-1], 1)
    return gains * x


def _welch(x: np.ndarray, fs: float, segment_s: float, overlap: float):
    nperseg = max(8, min(int(round(segment_s * fs)), x.shape[-1]))
    return welch(
        x,
        fs=fs,
        window="hann",
        nperseg=nperseg,
        noverlap=int(round(nperseg * overlap)),
        detrend="constant",
        scaling="density",
        average="mean",
        axis=-1,
    )


@pytest.mark.parametrize("kind", ["noise", "sines"])
@pytest.mark.parametrize("shape_s", [(4.0,), (3, 4.0), (3, 4.013)])
@pytest.mark.parametrize(("segment_s", "overlap"), SEGMENTS)
@pytest.mark.parametrize("fs", RATES_HZ)
def test_psd_equals_scipy_welch(fs, segment_s, overlap, shape_s, kind):
    """4 s windows (and 4.013 s, which leaves samples that fill no segment), 1-D and 2-D."""
    shape = (*shape_s[:-1], int(round(shape_s[-1] * fs)))
    x = _signal(kind, shape, fs)
    freqs, psd = compute_psd(x, fs, segment_s=segment_s, overlap=overlap)
    expected_freqs, expected = _welch(x, fs, segment_s, overlap)
    np.testing.assert_array_equal(freqs, expected_freqs)
    assert psd.shape == expected.shape and psd.dtype == np.float64
    np.testing.assert_allclose(psd, expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("n", [8, 9, 13, 501, 1003])
def test_psd_equals_scipy_welch_for_short_and_odd_lengths(n):
    """Odd segment lengths (Nyquist absent, every bin but DC doubled) down to 8 samples."""
    x = _signal("noise", (2, n), 250.0, seed=n)
    for segment_s, overlap in [(2.0, 0.5), (0.05, 0.3), (0.1, 0.0)]:
        freqs, psd = compute_psd(x, 250.0, segment_s=segment_s, overlap=overlap)
        expected_freqs, expected = _welch(x, 250.0, segment_s, overlap)
        np.testing.assert_array_equal(freqs, expected_freqs)
        np.testing.assert_allclose(psd, expected, rtol=1e-10, atol=0)


def test_psd_equals_scipy_welch_over_many_segments_and_any_memory_layout():
    """20 s in 1 s segments (39 of them), from a strided, a Fortran-ordered and a 3-D array."""
    fs = 250.0
    base = _signal("noise", (4, int(40 * fs)), fs, seed=3)
    for x in (base[:, ::2], np.asfortranarray(base), base.reshape(2, 2, -1)):
        freqs, psd = compute_psd(x, fs, segment_s=1.0, overlap=0.5)
        expected_freqs, expected = _welch(np.ascontiguousarray(x), fs, 1.0, 0.5)
        np.testing.assert_array_equal(freqs, expected_freqs)
        np.testing.assert_allclose(psd, expected, rtol=1e-10, atol=0)


def test_psd_rejects_too_few_samples_and_no_step_between_segments():
    with pytest.raises(SignalError, match="'data' has 7 samples"):
        compute_psd(np.zeros(7), 250.0)
    with pytest.raises(SignalError, match="'overlap'"):
        compute_psd(np.zeros(100), 250.0, segment_s=8 / 250.0, overlap=0.95)


def _masked_sums(freqs, psd, bands):
    df = freqs[1] - freqs[0]
    return np.stack(
        [
            psd[..., (freqs >= low) & (freqs < high)].sum(axis=-1) * df
            for low, high in bands.values()
        ],
        axis=-1,
    )


@pytest.mark.parametrize("fs", RATES_HZ)
def test_band_integrals_equal_masked_sums(fs):
    x = _signal("noise", (5, int(4 * fs)), fs, seed=1)
    freqs, psd = compute_psd(x, fs)
    odd_bands = {
        "int edges": (1, 4),
        "overlapping": (3.0, 9.0),
        "one bin": (10.0, 10.4),
        "between bins": (10.1, 10.2),
        "above nyquist": (fs, fs + 10.0),
    }
    for bands in (BANDS, odd_bands):
        for p in (psd, psd[0]):
            np.testing.assert_allclose(
                integrate_bands(freqs, p, bands), _masked_sums(freqs, p, bands), rtol=1e-12, atol=0
            )


def test_a_non_finite_density_reaches_only_its_own_band():
    freqs, psd = compute_psd(_signal("noise", (2, 1000), 250.0), 250.0)
    psd[0, int(np.searchsorted(freqs, 2.0))] = np.inf  # δ
    psd[1, int(np.searchsorted(freqs, 35.0))] = np.nan  # γ
    powers = integrate_bands(freqs, psd)
    np.testing.assert_array_equal(powers, _masked_sums(freqs, psd, BANDS))
    assert np.isinf(powers[0, 0]) and np.isfinite(powers[0, 1:]).all()
    assert np.isnan(powers[1, 4]) and np.isfinite(powers[1, :4]).all()


def test_a_band_with_swapped_edges_is_named():
    freqs, psd = compute_psd(np.ones(1000), 250.0)
    with pytest.raises(SignalError, match="'alpha' must have low < high"):
        integrate_bands(freqs, psd, {"alpha": (13, 8)})


def _line_noise_reference(window, fs, line_freq_hz):
    """The module docstring's definition, one trial frequency and one channel at a time."""
    centred = window - window.mean(axis=-1, keepdims=True)
    n = centred.shape[-1]
    t = np.arange(n) / fs
    ramp = (t - t.mean()) / (t[-1] - t[0])
    cleaned, ratios = np.empty_like(centred), np.empty(len(centred))
    for c, x in enumerate(centred):
        best_power, best_line = -1.0, None
        for f in line_freq_hz + np.linspace(-0.2, 0.2, 9):
            s, co = np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)
            design = np.stack([s, co, ramp * s, ramp * co], axis=1)
            coef = np.linalg.lstsq(design, x, rcond=None)[0]
            line = design @ coef
            power = np.mean(line**2)
            if power > best_power:
                best_power, best_line = power, line
        cleaned[c] = x - best_line
        rest = np.mean(cleaned[c] ** 2)
        ratios[c] = best_power / rest if rest > 0 else 0.0
    return cleaned, ratios


@pytest.mark.parametrize(
    ("fs", "line_hz", "hum_hz"),
    [(250.0, 50.0, 50.13), (250.0, 60.0, 59.87), (1000.0, 50.0, 49.9), (200.8, 50.0, 49.85)],
)
def test_line_noise_removal_equals_the_per_trial_fit(fs, line_hz, hum_hz):
    """Hum on every channel (one trial frequency wins everywhere) and on some only (each
    channel picks its own), a flat channel, a short window."""
    rng = np.random.default_rng(7)
    n = int(4 * fs)
    t = np.arange(n) / fs
    eeg = np.cumsum(rng.normal(size=(6, n)), axis=1) + rng.normal(0, 5, (6, n))
    hum = 80.0 * (1 + 0.1 * t / t[-1]) * np.sin(2 * np.pi * hum_hz * t + 0.3)
    everywhere = eeg + hum
    some = eeg.copy()
    some[[1, 4]] += hum
    some[3] = 12.0  # flat: nothing left after the mean, ratio 0
    for window in (everywhere, some, everywhere[:3, : int(0.5 * fs)]):
        cleaned, ratio = remove_line_noise(window, fs, line_hz)
        ref_cleaned, ref_ratio = _line_noise_reference(window, fs, line_hz)
        np.testing.assert_allclose(cleaned, ref_cleaned, rtol=0, atol=1e-9 * np.abs(window).max())
        np.testing.assert_allclose(ratio, ref_ratio, rtol=1e-8, atol=1e-12)
    ratio = remove_line_noise(some, fs, line_hz)[1]
    assert ratio[[1, 4]].min() > 10 * ratio[[0, 2, 5]].max() and ratio[3] == 0.0


def test_line_noise_at_or_above_nyquist_only_removes_the_mean():
    x = _signal("noise", (2, 200), 100.0)
    cleaned, ratio = remove_line_noise(x, 100.0, 50.0)
    np.testing.assert_allclose(cleaned, x - x.mean(axis=1, keepdims=True))
    np.testing.assert_array_equal(ratio, [0.0, 0.0])


@pytest.mark.parametrize(("fs", "n"), [(250.0, 1000), (1000.0, 4000), (100.4, 401), (250.0, 16)])
def test_blink_peak_to_peak_equals_sosfiltfilt(fs, n):
    rng = np.random.default_rng(int(fs) + n)
    x = 3.0 * np.cumsum(rng.normal(size=(3, n)), axis=1) + 5000.0
    x[1, n // 3 : n // 3 + max(2, n // 10)] += 150.0  # a blink-like bump
    sos = butter(2, 5.0, btype="low", fs=fs, output="sos")
    slow = sosfiltfilt(
        sos, x - x.mean(axis=-1, keepdims=True), padlen=min(n - 1, int(fs)), padtype="even"
    )
    np.testing.assert_allclose(_blink_ptp(x, fs), np.ptp(slow, axis=-1), rtol=1e-12)


def test_channel_quality_with_the_callers_peaks_equals_taking_them_itself():
    """The estimator hands check_channel_quality the peaks it took for its own range test:
    the verdicts are the same as when the check takes them, bad rows included, and the
    caller's array is left as it was."""
    from runtime.features._quality import check_channel_quality
    from runtime.features._settings import EegFeatureSettings

    fs, names = 250.0, ("Fp1", "Fz", "C3", "Cz", "O1", "O2")
    window = _signal("noise", (len(names), 1000), fs, seed=3)
    window[1, 500] = np.nan  # non-finite
    window[2] *= 1e-4  # flat
    window[3, 10] = 2e6  # beyond full scale
    settings = EegFeatureSettings()
    freqs, psd = compute_psd(np.nan_to_num(window), fs)
    with np.errstate(invalid="ignore"):
        peaks = np.max(np.abs(window), axis=1)
    given = peaks.copy()
    own = check_channel_quality(window, freqs, psd, names, settings, fs=fs)
    reused = check_channel_quality(window, freqs, psd, names, settings, fs=fs, peak_uv=given)
    assert reused == own
    assert [q.reason for q in own][1:4] == ["non-finite", "flat", "railed"]
    np.testing.assert_array_equal(given, peaks)  # NaN stays NaN: not replaced in place
