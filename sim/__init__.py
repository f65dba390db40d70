"""Physiology with ground truth: scenarios rendered into BrainFlow-format recordings.

EEG whose band powers follow an attention timeline (:func:`sim_eeg`), beats whose HR and
HRV follow a stress timeline (:func:`sim_rr_intervals`, :func:`render_ecg`,
:func:`render_ppg`), scheduled artifacts, and :func:`render_session`, which renders a
:class:`Scenario` into a :class:`BoardLayout` as a :class:`SimRecording` that BrainFlow's
playback board replays. Imports only numpy, scipy and the standard library.
"""

from sim._artifacts import ArtifactSpan
from sim._cardiac import CardiacParams, HrvWindows, RRSeries, compute_hrv_windows, sim_rr_intervals
from sim._eeg import BANDS_HZ, EegParams, SimEeg, sim_eeg
from sim._errors import ScenarioError, SimError
from sim._io import aux_path, truth_paths, write_brainflow_file
from sim._layout import ADS1299_FULL_SCALE_UV, BoardLayout, generic_layout
from sim._render import SimRecording, SimTruth, WrittenFiles, render_session
from sim._scenario import (
    ARTIFACT_KINDS,
    SCENARIO_DIR,
    ArtifactSpec,
    Scenario,
    list_scenarios,
    load_scenario,
    parse_scenario,
    scenario_path,
)
from sim._timeline import Timeline
from sim._truth import load_truth
from sim._waveforms import render_ecg, render_ppg

__all__ = [
    "ADS1299_FULL_SCALE_UV",
    "ARTIFACT_KINDS",
    "BANDS_HZ",
    "SCENARIO_DIR",
    "ArtifactSpan",
    "ArtifactSpec",
    "BoardLayout",
    "CardiacParams",
    "EegParams",
    "HrvWindows",
    "RRSeries",
    "Scenario",
    "ScenarioError",
    "SimEeg",
    "SimError",
    "SimRecording",
    "SimTruth",
    "Timeline",
    "WrittenFiles",
    "aux_path",
    "compute_hrv_windows",
    "generic_layout",
    "list_scenarios",
    "load_scenario",
    "load_truth",
    "parse_scenario",
    "render_ecg",
    "render_ppg",
    "render_session",
    "scenario_path",
    "sim_eeg",
    "sim_rr_intervals",
    "truth_paths",
    "write_brainflow_file",
]
