"""Markers: stable codes per label, into the board's marker row through the driver, recorded."""

from __future__ import annotations

import subprocess
import sys
import zlib

import numpy as np
import pytest

from runtime.cli import main
from runtime.errors import ConfigError
from runtime.lab import marker_value
from runtime.lab._markers import check_value
from runtime.recorder import load_session
from tests.conftest import free_tcp_port
from tests.lab.conftest import MARKERS


def test_marker_value_is_a_stable_small_code():
    labels = ["eyes closed", "eyes open", "task start", "task end", "break"]
    codes = [marker_value(label) for label in labels]
    assert all(1 <= c <= 65535 and c == int(c) for c in codes)
    assert len(set(codes)) == len(codes)
    # Stable across processes: the same label gives the same code in a fresh interpreter.
    out = subprocess.run(
        [sys.executable, "-c", "from runtime.lab import marker_value; "
         "print(marker_value('eyes closed'))"], capture_output=True, text=True, check=True,
    )
    assert float(out.stdout) == codes[0]
    assert codes[0] == zlib.crc32(b"eyes closed") % 65535 + 1


@pytest.mark.parametrize("bad", [0, 0.0, float("nan"), float("inf"), True, "3"])
def test_marker_values_must_be_finite_non_zero_numbers(bad):
    with pytest.raises(ConfigError, match="marker value"):
        check_value(bad)


def test_empty_label_is_refused():
    with pytest.raises(ConfigError, match="non-empty"):
        marker_value("  ")


def test_markers_reach_the_bus_the_recording_and_the_board_marker_row(recorded_session):
    session = load_session(recorded_session.directory)
    recorded = [(r.data.label, r.data.value) for r in session.markers]
    assert recorded == [(label, marker_value(label)) for label in MARKERS]
    assert [e.label for e in recorded_session.markers] == list(MARKERS)
    layout = session.layout("default")
    row = session.raw["default"][layout["marker_row"]]
    placed = row[row != 0]
    # The driver wrote each value into BrainFlow's marker channel exactly once, in order.
    assert placed.tolist() == [marker_value(label) for label in MARKERS]
    stamps = session.raw["default"][layout["timestamp_row"]]
    for event, index in zip(recorded_session.markers, np.flatnonzero(row), strict=True):
        assert abs(stamps[index] - event.time) < 0.5  # at the sample read when it was sent


def test_mark_without_a_daemon_says_so(capsys):
    pub, sub = free_tcp_port(), free_tcp_port()
    code = main(["mark", "eyes closed", "--publish-endpoint", f"tcp://127.0.0.1:{pub}",
                 "--endpoint", f"tcp://127.0.0.1:{sub}", "--timeout", "0.5"])
    assert code == 1
    assert "no daemon answered" in capsys.readouterr().err


def test_mark_rejects_a_zero_value(capsys):
    assert main(["mark", "x", "--value", "0", "--timeout", "0.2"]) == 2
    assert "non-zero" in capsys.readouterr().err
