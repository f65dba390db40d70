"""Artifacts appear where they are scheduled, on their channels, and nowhere else."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

import sim

Pair = tuple[sim.SimRecording, sim.SimRecording]


def _aligned(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(dirty data, clean data at the samples the dirty recording kept)."""
    dirty, clean = pair
    return dirty.data, clean.data[:, dirty.truth.sample_index]


def _rows(layout: sim.BoardLayout, span: sim.ArtifactSpan) -> list[int]:
    rows = {"eeg": layout.eeg_rows, "ppg": layout.ppg_rows, "ecg": layout.ecg_rows}
    if span.signal == "all":
        return []
    return [rows[span.signal][c] for c in span.channels if c < len(rows[span.signal])]


def _in_span(t_s: np.ndarray, span: sim.ArtifactSpan) -> np.ndarray:
    return (t_s >= span.start_s - 1e-9) & (t_s < span.end_s - 1e-9)


def _spans(rec: sim.SimRecording, kind: str) -> list[sim.ArtifactSpan]:
    return [s for s in rec.truth.artifacts if s.kind == kind]


def test_every_scheduled_kind_is_in_the_truth(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    scenario = sim.load_scenario("artifacts")
    kinds = {s.kind for s in dirty.truth.artifacts}
    assert kinds == {a.kind for a in scenario.artifacts} == set(sim.ARTIFACT_KINDS)
    for span in dirty.truth.artifacts:
        spec = scenario.artifacts[span.spec_index]
        assert spec.kind == span.kind
        assert spec.start_s - 1e-9 <= span.start_s < span.end_s <= spec.end_s + 1.0 / 250


def test_artifacts_change_only_their_spans_and_channels(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    got, ref = _aligned(artifact_pair)
    changed = ~((got == ref) | (np.isnan(got) & np.isnan(ref)))
    expected = np.zeros_like(changed)
    t_s = dirty.truth.t_s
    for span in dirty.truth.artifacts:
        rows = _rows(dirty.layout, span)
        if rows:
            expected[np.ix_(rows, _in_span(t_s, span))] = True
    # Nothing changes outside the spans...
    assert not np.any(changed & ~expected)
    # ...and inside each span, its channels do change (ends of tapers may touch zero).
    for span in dirty.truth.artifacts:
        rows = _rows(dirty.layout, span)
        if rows:
            assert changed[np.ix_(rows, _in_span(t_s, span))].mean() > 0.9, span


def test_blinks_are_large_and_frontal(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    got, ref = _aligned(artifact_pair)
    blinks = _spans(dirty, "blink")
    assert 3 <= len(blinks) <= 8  # 20 s at one blink every 4 s ± 30 %
    for span in blinks:
        assert span.channels == dirty.layout.frontal_channels()
        rows = _rows(dirty.layout, span)
        sel = _in_span(dirty.truth.t_s, span)
        bump = (got - ref)[np.ix_(rows, sel)].max(axis=1)
        assert np.all((bump >= 0.8 * 150 - 1e-6) & (bump <= 150 + 1e-6))
        assert np.all(np.ptp(got[np.ix_(rows, sel)], axis=1) > 100)  # SIGNALS.md threshold


def test_emg_is_broadband_high_frequency_power(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    got, ref = _aligned(artifact_pair)
    (span,) = _spans(dirty, "emg")
    rows, sel = _rows(dirty.layout, span), _in_span(dirty.truth.t_s, span)
    f, p_dirty = welch(got[np.ix_(rows, sel)], fs=250.0, nperseg=500)
    _, p_clean = welch(ref[np.ix_(rows, sel)], fs=250.0, nperseg=500)
    for lo, hi in ((20, 40), (40, 70), (70, 100)):
        band = (f >= lo) & (f <= hi)
        assert np.all(p_dirty[:, band].sum(1) > 10 * p_clean[:, band].sum(1)), (lo, hi)
    rms = (got - ref)[np.ix_(rows, sel)].std(axis=1)
    np.testing.assert_allclose(rms, 30.0, rtol=0.1)


def test_pop_is_a_step_with_exponential_decay(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    got, ref = _aligned(artifact_pair)
    (span,) = _spans(dirty, "pop")
    (row,) = _rows(dirty.layout, span)
    diff = (got - ref)[row, _in_span(dirty.truth.t_s, span)]
    tau = (span.end_s - span.start_s) / 5
    assert abs(diff[0]) == pytest.approx(400.0)
    assert abs(diff[int(round(tau * 250))]) == pytest.approx(400.0 / np.e, rel=0.01)
    assert np.all(np.diff(np.abs(diff)) < 0)


def test_railed_and_flat_channels(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    (railed,) = _spans(dirty, "railed")
    (row,) = _rows(dirty.layout, railed)
    values = dirty.data[row, _in_span(dirty.truth.t_s, railed)]
    assert np.all(np.abs(values) == sim.ADS1299_FULL_SCALE_UV)
    (flat,) = _spans(dirty, "flat")
    (row,) = _rows(dirty.layout, flat)
    assert dirty.data[row, _in_span(dirty.truth.t_s, flat)].std() < 0.5


def test_nan_gaps_are_exactly_where_scheduled(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    expected = np.zeros(dirty.data.shape, dtype=bool)
    for span in _spans(dirty, "nan_gap"):
        expected[np.ix_(_rows(dirty.layout, span), _in_span(dirty.truth.t_s, span))] = True
    assert {s.signal for s in _spans(dirty, "nan_gap")} == {"eeg", "ppg"}
    np.testing.assert_array_equal(np.isnan(dirty.data), expected)


def test_line_noise_is_a_mains_line(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    (span,) = _spans(dirty, "line_noise")
    (row,) = _rows(dirty.layout, span)
    f, p = welch(dirty.data[row, _in_span(dirty.truth.t_s, span)], fs=250.0, nperseg=500)
    at_50 = p[np.argmin(np.abs(f - 50.0))]
    neighbours = p[(np.abs(f - 50.0) > 3) & (np.abs(f - 50.0) < 10)]
    assert at_50 > 100 * neighbours.max()


def test_dropped_packets_remove_samples_and_make_the_counter_jump(artifact_pair: Pair) -> None:
    dirty, clean = artifact_pair
    (span,) = _spans(dirty, "dropped_packets")
    fs = dirty.truth.fs
    original = np.arange(clean.data.shape[1])
    dropped = np.setdiff1d(original, dirty.truth.sample_index)
    np.testing.assert_array_equal(dropped, original[_in_span(original / fs, span)])
    assert dropped.size == round(0.3 * fs)
    counter = dirty.data[dirty.layout.package_num_row]
    steps = np.diff(counter) % 256
    (jump,) = np.flatnonzero(steps != 1)
    assert steps[jump] == (dropped.size + 1) % 256
    gap_s = dirty.truth.t_s[jump + 1] - dirty.truth.t_s[jump]
    assert gap_s == pytest.approx((dropped.size + 1) / fs)


def test_ppg_motion_swamps_the_pulse_on_ppg_rows(artifact_pair: Pair) -> None:
    dirty, _ = artifact_pair
    got, ref = _aligned(artifact_pair)
    (span,) = _spans(dirty, "ppg_motion")
    rows, sel = _rows(dirty.layout, span), _in_span(dirty.truth.t_s, span)
    assert rows == list(dirty.layout.ppg_rows)
    assert np.all((got - ref)[np.ix_(rows, sel)].std(axis=1) > 1000.0)


def test_auxiliary_ppg_gets_motion_and_boards_without_ppg_skip_it(
    galea_layout: sim.BoardLayout, cyton_layout: sim.BoardLayout
) -> None:
    scenario = sim.parse_scenario({
        "duration_s": 30.0, "seed": 1, "attention": [[0, 0.5]], "stress": [[0, 0.2]],
        "artifacts": [{"kind": "ppg_motion", "start_s": 10.0, "duration_s": 5.0}],
    })
    dirty = sim.render_session(scenario, galea_layout, speed=0)
    clean = sim.render_session(scenario.without_artifacts(), galea_layout, speed=0)
    diff = dirty.aux_data - clean.aux_data
    moved = np.any(diff != 0, axis=0)
    t_aux = dirty.truth.aux_t_s
    np.testing.assert_array_equal(moved, (t_aux >= 10.0) & (t_aux < 15.0))
    assert set(np.flatnonzero(np.any(diff != 0, axis=1))) == set(galea_layout.aux.ppg_rows)
    np.testing.assert_array_equal(dirty.data, clean.data)

    on_cyton = sim.render_session(scenario, cyton_layout, speed=0)
    assert on_cyton.truth.skipped_artifacts == (0,) and on_cyton.truth.artifacts == ()


def test_a_channel_the_board_lacks_is_named(cyton_layout: sim.BoardLayout) -> None:
    scenario = sim.parse_scenario({
        "duration_s": 10.0, "seed": 1, "attention": [[0, 0.5]], "stress": [[0, 0.2]],
        "artifacts": [{"kind": "flat", "start_s": 1.0, "duration_s": 1.0, "channels": [7]}],
    })
    with pytest.raises(sim.ScenarioError, match=r"artifacts\[0\]\.channels.*7 eeg channels"):
        sim.render_session(scenario, cyton_layout)
