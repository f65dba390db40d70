"""When the driver reads the board: an absolute cadence, each read just after a sample is
due when the board's timestamps are the host's clock, and not otherwise."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from runtime.bus import BusSubscriber
from runtime.config import SourceConfig
from runtime.messages import RawChunk
from runtime.stages import DriverStage, StageContext, SupervisedStage
from runtime.stages._read_schedule import (
    MARGIN_STEP_DOWN_S,
    MARGIN_STEP_UP_S,
    MAX_READ_MARGIN_S,
    MIN_READ_MARGIN_S,
    READ_MARGIN_S,
    ReadSchedule,
)

PERIOD_S = 1 / 250  # the synthetic board's rate


def test_reads_keep_an_absolute_cadence_when_a_read_is_late():
    schedule = ReadSchedule(0.02)
    assert schedule.next_read(100.0) == pytest.approx(100.02, abs=1e-12)
    # The read meant for 100.02 ran 7 ms late: the next one is still due at 100.04.
    assert schedule.next_read(100.027) == pytest.approx(100.04, abs=1e-12)
    # More than an interval behind: read at once, then carry on from there (no burst).
    assert schedule.next_read(100.5) == pytest.approx(100.5, abs=1e-12)
    assert schedule.next_read(100.501) == pytest.approx(100.52, abs=1e-12)


def test_a_wall_clock_set_back_restarts_the_cadence_instead_of_stalling_reads():
    schedule = ReadSchedule(0.02)
    assert schedule.next_read(10_000.0) == pytest.approx(10_000.02, abs=1e-9)
    # NTP stepped the clock back an hour: the next read is one interval away, not an hour.
    assert schedule.next_read(6_400.0) == pytest.approx(6_400.02, abs=1e-9)


def test_a_read_moves_to_just_after_the_next_sample_due_on_the_host_clock():
    schedule = ReadSchedule(0.02, margin_s=0.0005)
    schedule.observe(99.9987, 250.0)  # newest sample stamped 1.3 ms before this read
    # Nominal 100.02; samples are due at 99.9987 + k·4 ms: the nearest is k = 5 (100.0187).
    assert schedule.next_read(100.0) == pytest.approx(100.0192, abs=1e-9)


def test_a_read_that_finds_its_sample_narrows_the_margin():
    schedule = ReadSchedule(0.02, margin_s=0.0005)
    schedule.observe(99.9987, 250.0)
    assert schedule.next_read(100.0) == pytest.approx(100.0192, abs=1e-9)  # aims at 100.0187
    schedule.observe(100.0188, 250.0)  # the sample due at 100.0187 was there
    margin = 0.0005 - MARGIN_STEP_DOWN_S
    assert schedule.next_read(100.0195) == pytest.approx(100.0388 + margin, abs=1e-9)
    assert schedule.margin_s == pytest.approx(margin, abs=1e-12)
    assert schedule.misses == 0


def test_a_read_that_misses_its_sample_widens_the_margin_and_counts_a_miss():
    schedule = ReadSchedule(0.02, margin_s=0.0005)
    schedule.observe(99.9987, 250.0)
    schedule.next_read(100.0)  # aims at the sample due at 100.0187
    schedule.observe(100.0147, 250.0)  # only the one before it had come
    schedule.next_read(100.0195)
    assert schedule.margin_s == pytest.approx(0.0005 + MARGIN_STEP_UP_S, abs=1e-12)
    assert schedule.misses == 1


@pytest.mark.parametrize(("late", "bound"), [(False, MIN_READ_MARGIN_S), (True, MAX_READ_MARGIN_S)])
def test_the_margin_stays_within_its_bounds(late, bound):
    schedule = ReadSchedule(0.02)
    now, newest = 100.0, 99.999
    for _ in range(1000):
        schedule.observe(newest, 250.0)
        target = schedule.next_read(now)
        now = target
        # The sample aimed at came (stamped at its due time) or had not come yet.
        newest = target - schedule.margin_s - (PERIOD_S if late else 0.0)
    assert schedule.margin_s == pytest.approx(bound, abs=1e-12)


@pytest.mark.parametrize("phase", np.linspace(0.0, PERIOD_S, 9, endpoint=False))
def test_an_aligned_read_stays_within_half_a_sample_period_of_its_nominal_time(phase):
    schedule = ReadSchedule(0.02, margin_s=READ_MARGIN_S)
    now = 1000.0
    schedule.observe(now - phase, 250.0)
    target = schedule.next_read(now)
    # Just after a due time, within ±T/2 of the nominal read: the cadence is kept.
    due = (target - READ_MARGIN_S - (now - phase)) / PERIOD_S
    assert due == pytest.approx(round(due), abs=1e-6)
    assert abs(target - (now + 0.02)) <= PERIOD_S / 2 + 1e-12


@pytest.mark.parametrize(
    ("newest", "fs", "why"),
    [
        (1.7e9, 250.0, "a playback file's timestamps: from when it was recorded"),
        (100.05, 250.0, "timestamps ahead of the host clock: another clock"),
        (99.999, 10.0, "samples further apart than the poll interval"),
    ],
)
def test_reads_are_not_moved_when_the_board_clock_cannot_be_followed(newest, fs, why):
    schedule = ReadSchedule(0.02)
    schedule.observe(newest, fs)
    assert schedule.next_read(100.0) == pytest.approx(100.02, abs=1e-12), why
    schedule.observe(newest, fs)
    assert schedule.next_read(100.02) == pytest.approx(100.04, abs=1e-12), why
    assert schedule.margin_s == READ_MARGIN_S and schedule.misses == 0  # nothing aimed at


def test_the_driver_reads_the_synthetic_board_just_after_its_samples_arrive(broker):
    """On the real board (host-clock timestamps) the newest sample of each chunk is about
    the margin old when read, not spread over a whole sample period as a poll at a random
    moment finds it (that spread, 0–4 ms, is the board's buffering the schedule removes)."""
    stop = threading.Event()
    context = StageContext("driver", broker.publish_endpoint, broker.subscribe_endpoint, stop)
    stage = SupervisedStage(context, DriverStage(SourceConfig(board="synthetic"), 0.5))
    listener = BusSubscriber(broker.subscribe_endpoint, ("raw.eeg",))
    ages: list[float] = []
    stage.start()
    try:
        assert context.ready.wait(30), "driver stage did not start"
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            message = listener.recv(timeout_s=0.2)
            if message is not None and isinstance(message.data, RawChunk):
                ages.append(message.data.read_time - message.data.t_last)
    finally:
        stop.set()
        assert stage.join(10), "driver stage did not stop"
        listener.close()
    ages_s = np.array(ages[5:])  # the first reads find what piled up during start-up
    assert ages_s.size >= 60, f"{ages_s.size} chunks in 3 s at a 20 ms poll"
    q25, q50, q75 = np.percentile(ages_s, [25, 50, 75])
    # A random poll phase gives an interquartile range of half a period (2 ms); a read
    # that follows the board's clock, the spread of the board's and the timer's jitter.
    assert q75 - q25 < PERIOD_S / 4, (q25, q50, q75)
    assert q50 < PERIOD_S / 2, (q25, q50, q75)
