"""What the monitor shows, folded from bus messages (pure: no terminal, testable alone)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
class MonitorState:
    """The latest of everything the monitor displays."""

    endpoint: str = ""
    attention: dict[str, Any] | None = None
    stress: dict[str, Any] | None = None
    control: dict[str, Any] | None = None
    control_received_at: float | None = None
    decisions: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=4))
    markers: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=4))
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    component_seen: dict[str, float] = field(default_factory=dict)
    model: dict[str, Any] | None = None
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
        topic, body = message.topic, message.body
        if topic == "features.attention":
            self.attention = dict(body)
            self._channel_quality(body)
        elif topic == "features.stress":
            self.stress = dict(body)
        elif topic == "control":
            self.control = dict(body)
            self.control_received_at = now
            sample_time = body.get("sample_time")
            if isinstance(sample_time, int | float) and message.publish_time >= sample_time:
                self.latency_ms.append(1000.0 * (message.publish_time - sample_time))
        elif topic == "decision":
            self.decisions.appendleft({"time": message.publish_time, **body})
        elif topic == "marker":
            self.markers.appendleft({"time": body.get("time", message.publish_time), **body})
        elif topic.startswith("status."):
            name = topic.removeprefix("status.")
            merged = dict(self.components.get(name, {}))
            merged.update(body)
            if "event" not in body:
                merged.pop("event", None)
            self.components[name] = merged
            self.component_seen[name] = now
        elif topic == "model.status":
            self.model = dict(body)
        elif topic == "raw.eeg" and message.array is not None:
            self._raw_chunk(body, np.asarray(message.array, dtype=np.float64))

    def _channel_quality(self, body: Any) -> None:
        for name in body.get("channels_used") or []:
            self._channel_state[str(name)] = "ok"
        for name, warning in (body.get("channels_warn") or {}).items():
            self._channel_state[str(name)] = f"ok ({warning})"
        for name, reason in (body.get("channels_bad") or {}).items():
            self._channel_state[str(name)] = str(reason)

    def _raw_chunk(self, body: Any, data: np.ndarray) -> None:
        names = [str(n) for n in body.get("channels") or []]
        if data.ndim != 2 or len(names) != data.shape[0]:
            return
        if names != self.channel_order:
            self.channel_order = names
            self._raw = {}
        self._raw_fs = float(body.get("fs") or self._raw_fs)
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
