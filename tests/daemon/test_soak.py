"""Soak: long scenario data through the whole daemon. A short variant runs by default; the
hour-long one is marked slow (`make test-all`, or `python -m bench.soak`)."""

from __future__ import annotations

import pytest

from bench.soak import run


def _check(result: dict, *, latency: bool) -> None:
    assert result["samples_read"] == result["samples_in_file"]
    assert result["attention_windows_received"] == result["attention_windows_expected"]
    assert result["lost_chunks_end_to_end"] == 0
    assert result["gap_samples"] == 0 and result["rejected_chunks"] == 0
    assert result["rss_growth_mb"] < 10.0
    if latency:
        assert result["latency_stable"], result["latency_p50_by_decile_ms"]


def test_short_soak_at_full_speed_loses_nothing_and_does_not_grow():
    _check(run(minutes=6.0, speed=0.0), latency=False)


@pytest.mark.slow  # ~11 s of real time: CI's second step (make test-slow-ci)
def test_short_soak_paced_keeps_latency_stable():
    _check(run(minutes=3.0, speed=20.0), latency=True)


@pytest.mark.slow
def test_one_hour_soak():
    _check(run(minutes=60.0, speed=0.0), latency=False)
    _check(run(minutes=60.0, speed=20.0), latency=True)
