"""The parts on hand-built numbers: one exchange's offset and delay, the lowest-delay
filter, the robust line."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.clock import ClockExchange, ClockExchangeError, LowestDelayFilter, fit_offset_line
from runtime.errors import ConfigError, KintsugiError


def test_offset_and_delay_of_one_exchange():
    # 1 ms to the sensor, 3 ms back, 0.2 ms on the sensor, whose clock is 40 ms behind.
    exchange = ClockExchange(t1=10.0, t2=9.961, t3=9.9612, t4=10.0042)
    assert exchange.delay_s == pytest.approx(0.004, abs=1e-12)
    # The path's asymmetry (1 ms vs 3 ms) shows as half its difference: -40 - 1 ms.
    assert exchange.offset_s == pytest.approx(-0.041, abs=1e-12)
    assert exchange.hub_time == pytest.approx(10.0021)


@pytest.mark.parametrize(
    ("times", "words"),
    [
        ((10.0, 9.9612, 9.961, 10.0042), r"t3 \(9.961\) is before t2 \(9.9612\)"),
        ((10.0, 9.961, 9.9612, 9.9999), "round trip is -0.300 ms.* did the hub's clock step"),
        ((10.0, float("nan"), 9.9612, 10.0042), "t2 is nan"),
    ],
)
def test_impossible_exchanges_are_refused_naming_the_time(times, words):
    with pytest.raises(ClockExchangeError, match=words) as info:
        ClockExchange(*times)
    assert isinstance(info.value, KintsugiError)


def _exchange(hub_time: float, delay_s: float, offset_s: float = 0.25) -> ClockExchange:
    t1 = hub_time - delay_s / 2
    return ClockExchange(t1, t1 + delay_s / 2 + offset_s, t1 + delay_s / 2 + offset_s,
                         t1 + delay_s)


def test_the_filter_keeps_the_lowest_delay_exchange_of_each_window():
    kept = LowestDelayFilter(window_s=2.0, windows=4)
    assert kept.add(_exchange(100.1, 0.003))
    assert kept.add(_exchange(100.6, 0.001))  # lower: replaces it
    assert not kept.add(_exchange(101.2, 0.009))  # a spike: not kept
    assert kept.add(_exchange(102.5, 0.004))  # a new window: kept however slow
    assert [round(e.delay_s, 6) for e in kept.kept()] == [0.001, 0.004]


def test_the_filter_forgets_windows_older_than_its_span():
    kept = LowestDelayFilter(window_s=2.0, windows=4)
    for i in range(6):
        kept.add(_exchange(100.5 + 2.0 * i, 0.001 + i * 1e-4))
    assert [round(e.hub_time, 3) for e in kept.kept()] == [104.5, 106.5, 108.5, 110.5]
    assert not kept.add(_exchange(101.0, 0.0001))  # too old, however good


@pytest.mark.parametrize(("window_s", "windows"), [(0.0, 8), (2.0, 1), (float("nan"), 8)])
def test_bad_filter_settings_are_refused(window_s, windows):
    with pytest.raises(ConfigError, match="clock filter"):
        LowestDelayFilter(window_s, windows)


def test_the_line_recovers_offset_and_drift_exactly_from_clean_samples():
    t = 1000.0 + np.arange(0.0, 64.0, 2.0)
    line = fit_offset_line(t, 0.25 + 50e-6 * (t - 1000.0))
    assert line.fitted_slope and line.n == len(t)
    assert line.drift == pytest.approx(50e-6, rel=1e-9)
    assert line.offset_at(1000.0) == pytest.approx(0.25, abs=1e-12)
    assert line.standard_error_s(1064.0) == pytest.approx(0.0, abs=1e-9)


def test_an_outlier_is_dropped_and_jitter_is_not():
    rng = np.random.default_rng(3)
    t = 1000.0 + np.arange(0.0, 64.0, 2.0)
    clean = 0.25 + 50e-6 * (t - 1000.0) + rng.normal(0.0, 5e-6, len(t))
    line = fit_offset_line(t, clean)
    assert line.n == len(t)  # microsecond jitter is below the floor: nothing dropped
    queued = clean.copy()
    queued[-1] -= 0.004  # the newest window's best was still queued: 4 ms low
    line = fit_offset_line(t, queued)
    assert len(t) - 1 not in line.used and line.n == len(t) - 1
    assert abs(line.offset_at(t[-1]) - (0.25 + 50e-6 * 62.0)) < 20e-6
    assert line.drift == pytest.approx(50e-6, abs=1e-6)


def test_delay_weights_keep_a_slow_sample_from_pulling_a_short_line():
    t = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
    offsets = 0.25 + np.array([0.0, 1e-5, -1e-5, 0.0, 1e-5, -0.010])  # the last: 20 ms queue
    delays = np.array([0.5e-3, 0.5e-3, 0.6e-3, 0.5e-3, 0.5e-3, 20e-3])
    weighted = fit_offset_line(t, offsets, delays)
    assert abs(weighted.offset_at(10.0) - 0.25) < 50e-6
    unweighted = fit_offset_line(t, offsets)  # the same points without their delays
    assert abs(unweighted.offset_at(10.0) - 0.25) > 1e-3


def test_too_short_a_span_gives_a_constant_not_a_slope():
    line = fit_offset_line([0.0, 1.0, 2.0], [0.25, 0.2501, 0.2502])
    assert not line.fitted_slope and line.drift == 0.0
    assert line.offset_s == pytest.approx(0.2501)


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="same non-zero length"):
        fit_offset_line([1.0, 2.0], [0.25])
    with pytest.raises(ValueError, match="one per point"):
        fit_offset_line([1.0, 2.0], [0.25, 0.25], [0.001])
