"""What the monitor shows, folded from bus messages (pure: no terminal, testable alone).

Every value comes from a message's typed body (``Message.data``, :mod:`runtime.messages`).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from runtime.messages import (
    AttentionFeature,
    ComponentStatus,
    Control,
    Decision,
    Marker,
    ModelStatus,
    RawChunk,
    StressFeature,
    status_component,
)

#: Topics the monitor subscribes to.
MONITOR_TOPICS = ("features", "control", "decision", "status.", "marker", "raw.eeg",
                  "model.status")
#: Seconds of raw EEG kept per channel for the live amplitude.
RAW_WINDOW_S = 2.0


@dataclass
class ChannelView:
    """One EEG channel: its amplitude over the last seconds and its latest quality verdict."""

    name: str
    state: str = "?"
    rms_uv: float | None = None


@dataclass
class PersonFeatures:
    """One person's newest attention and stress (a group session)."""

    attention: AttentionFeature | None = None
    stress: StressFeature | None = None


@dataclass
class MonitorState:
    """The latest of everything the monitor displays.

    ``decisions`` are (publish time, decision), newest first; ``components`` the latest
    status of each component. ``attention`` and ``stress`` are the newest of anyone's;
    ``people`` the newest of each named person's (a group session), by id; each person's
    driver status is kept apart (``driver-P01``, :func:`status_component`). A supervisor's
    restart report (a status with ``error``) only changes the state and error of the
    component's last status, so its counters stay shown.
    """

    endpoint: str = ""
    attention: AttentionFeature | None = None
    stress: StressFeature | None = None
    people: dict[str, PersonFeatures] = field(default_factory=dict)
    control: Control | None = None
    control_received_at: float | None = None
    decisions: deque[tuple[float, Decision]] = field(default_factory=lambda: deque(maxlen=4))
    markers: deque[Marker] = field(default_factory=lambda: deque(maxlen=4))
    components: dict[str, ComponentStatus] = field(default_factory=dict)
    component_seen: dict[str, float] = field(default_factory=dict)
    model: ModelStatus | None = None
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    messages: int = 0
    bus_dropped: int = 0
    last_message_at: float | None = None
    channel_order: list[str] = field(default_factory=list)
    _raw: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _raw_fs: float = 250.0
    _channel_state: dict[str, str] = field(default_factory=dict, repr=False)

    def observe(self, message: Any, now: float | None = None) -> None:
        """Fold one decoded bus message into the state."""
        now = time.time() if now is None else now
        self.messages += 1
        self.last_message_at = now
        data = message.data
        if isinstance(data, AttentionFeature):
            self.attention = data
            self._channel_quality(data)
            if data.person is not None:
                self._person(data.person).attention = data
        elif isinstance(data, StressFeature):
            self.stress = data
            if data.person is not None:
                self._person(data.person).stress = data
        elif isinstance(data, Control):
            self.control = data
            self.control_received_at = now
            sample_time = data.sample_time
            if sample_time is not None and message.publish_time >= sample_time:
                self.latency_ms.append(1000.0 * (message.publish_time - sample_time))
        elif isinstance(data, Decision):
            self.decisions.appendleft((message.publish_time, data))
        elif isinstance(data, Marker):
            self.markers.appendleft(data)
        elif isinstance(data, ComponentStatus):
            name = status_component(message.topic, data)
            self.components[name] = self._merged_status(self.components.get(name), data)
            self.component_seen[name] = now
        elif isinstance(data, ModelStatus):
            self.model = data
        elif (isinstance(data, RawChunk) and message.topic == "raw.eeg"
              and message.array is not None):
            self._raw_chunk(data, np.asarray(message.array, dtype=np.float64))

    def _person(self, person: str) -> PersonFeatures:
        return self.people.setdefault(person, PersonFeatures())

    @staticmethod
    def _merged_status(
        previous: ComponentStatus | None, status: ComponentStatus
    ) -> ComponentStatus:
        """``status``, or for a restart report the previous status with its state."""
        if status.error is None or previous is None or type(previous) is not type(status):
            return status
        return replace(previous, state=status.state, error=status.error,
                       retry_in_s=status.retry_in_s)

    def _channel_quality(self, feature: AttentionFeature) -> None:
        for name in feature.channels_used:
            self._channel_state[name] = "ok"
        for name, warning in feature.channels_warn.items():
            self._channel_state[name] = f"ok ({warning})"
        for name, reason in feature.channels_bad.items():
            self._channel_state[name] = reason

    def _raw_chunk(self, chunk: RawChunk, data: np.ndarray) -> None:
        names = list(chunk.channels)
        if data.ndim != 2 or len(names) != data.shape[0]:
            return
        if names != self.channel_order:
            self.channel_order = names
            self._raw = {}
        self._raw_fs = chunk.fs
        keep = int(RAW_WINDOW_S * self._raw_fs)
        for i, name in enumerate(names):
            previous = self._raw.get(name)
            row = data[i] if previous is None else np.concatenate((previous, data[i]))
            self._raw[name] = row[-keep:]

    def channels(self) -> list[ChannelView]:
        """Every EEG channel with its state and amplitude (RMS around the mean, µV)."""
        names = list(self.channel_order)
        names += [n for n in self._channel_state if n not in names]
        out = []
        for name in names:
            x = self._raw.get(name)
            rms = None
            if x is not None and x.size > 1 and np.all(np.isfinite(x)):
                rms = float(np.std(x))
            out.append(ChannelView(name, self._channel_state.get(name, "?"), rms))
        return out

    def latency_summary(self) -> tuple[float, float] | None:
        """(median, 95th percentile) of sample→control latency, ms."""
        if not self.latency_ms:
            return None
        values = np.array(self.latency_ms)
        return float(np.median(values)), float(np.percentile(values, 95))
