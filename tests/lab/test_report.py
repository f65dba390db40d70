"""The HTML report: one self-contained file with the figure embedded and the session's tables."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.image
import numpy as np

from runtime.cli import main
from runtime.lab import build_timeline
from runtime.messages import AttentionFeature
from runtime.recorder import load_session
from tests.lab.conftest import MARKERS


def test_report_is_self_contained_html_with_the_figure(recorded_session, tmp_path):
    path = tmp_path / "report.html"
    assert main(["report", str(recorded_session.directory), "-o", str(path)]) == 0
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(images) == 1
    picture = matplotlib.image.imread(io.BytesIO(base64.b64decode(images[0])), format="png")
    assert picture.shape[0] > 500 and picture.shape[1] > 800
    # Nothing loaded from elsewhere: no external src/href.
    assert not re.search(r"(src|href)=['\"](?!data:)", text)
    for label in MARKERS:
        assert label in text
    for heading in ("Markers", "Decisions", "Device and stage events", "Configuration",
                    "Time in each control mode"):
        assert f"<h2>{heading}</h2>" in text


def test_timeline_follows_the_recorded_messages(recorded_session):
    session = load_session(recorded_session.directory)
    timeline = build_timeline(session)
    attention = [r.data for r in session.features if isinstance(r.data, AttentionFeature)]
    assert timeline.attention.t_s.size == len(attention)
    np.testing.assert_array_equal(timeline.attention.valid,
                                  [a.valid and a.calibrated for a in attention])
    np.testing.assert_array_equal(timeline.attention.value,
                                  [np.nan if a.attention is None else a.attention
                                   for a in attention])
    controls = [r.data for r in session.control]
    assert timeline.intensity.t_s.size == len(controls)
    np.testing.assert_array_equal(timeline.intensity.value, [c.intensity for c in controls])
    assert [mode for _, mode in timeline.modes][:1] == [controls[0].mode]
    assert [label for _, label in timeline.markers] == list(MARKERS)
    assert all(0 <= t <= timeline.duration_s for t, _ in timeline.markers)
    assert timeline.quality_bad.shape == (16, len(attention))
    states = [state for _, state in timeline.device_states]
    assert "streaming" in states  # ("stopped" may come after the recorder has stopped)
    assert [t for t, _ in timeline.device_states] == sorted(t for t, _ in timeline.device_states)
