"""The LSL bridge stage: raw EEG, heart data, features, control and markers as LSL outlets.

Outlets are made when the first message of a kind arrives (its channel names and rate come
with it). Source ids are ``kintsugi-<id>-<kind>`` with an id unique to this bridge, so two
daemons never share a stream, while a supervised restart of the stage keeps its streams'
ids (LSL inlets then recover by themselves). Everything is read from the messages' typed
bodies (:mod:`runtime.messages`). Timestamps are LSL's clock at the time the
newest sample of a chunk was taken: its board time's age is subtracted from ``local_clock``
(when that age is plausible: a fast replay's stamps are not wall time).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from typing import Any

import numpy as np

from runtime.bus import Message
from runtime.config import Config
from runtime.lsl._outlets import CONTROL_CHANNELS, FEATURE_CHANNELS, RAW_STREAM_TYPES, stream_info
from runtime.messages import AttentionFeature, Control, Marker, RawChunk, StressFeature
from runtime.supervisor import StageContext, confirm_subscribed

logger = logging.getLogger("runtime.lsl")

LSL_TOPICS = ("raw.eeg", "raw.ppg", "raw.ecg", "features", "control", "marker")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return math.nan


class LslBridgeStage:
    """Publishes the daemon's streams as LSL outlets (a stage for ``Daemon(extra_stages=…)``)."""

    def __init__(self, config: Config, *, name_prefix: str = "kintsugi") -> None:
        self.config = config
        self.name_prefix = name_prefix
        self.bridge_id = uuid.uuid4().hex[:8]
        self._features = [math.nan] * len(FEATURE_CHANNELS)
        self.pushed: dict[str, int] = {}

    def source_id(self, kind: str) -> str:
        """The LSL source id of one of this bridge's streams (``eeg``, ``features``, …)."""
        return f"{self.name_prefix}-{self.bridge_id}-{kind}"

    def __call__(self, context: StageContext) -> None:
        import pylsl

        subscriber = context.subscriber(LSL_TOPICS)
        outlets: dict[str, Any] = {}
        try:
            confirm_subscribed(subscriber)
            for kind in ("features", "control", "markers"):  # exist before data, for recorders
                self._outlet(pylsl, outlets, kind, self._fixed_info(pylsl, kind))
            context.ready.set()
            logger.info("lsl: bridge %s publishing", self.bridge_id)
            while not context.stop.is_set():
                message = subscriber.recv(timeout_s=0.1)
                while message is not None:
                    self._forward(pylsl, outlets, message)
                    message = subscriber.recv_nowait()
        finally:
            subscriber.close()
            outlets.clear()  # pylsl closes an outlet when it is collected

    def _outlet(self, pylsl: Any, outlets: dict[str, Any], kind: str, make: Any) -> Any:
        if kind not in outlets:
            outlets[kind] = pylsl.StreamOutlet(make(), chunk_size=0, max_buffered=360)
            logger.info("lsl: outlet %s (%s)", self.source_id(kind), kind)
        return outlets[kind]

    def _fixed_info(self, pylsl: Any, kind: str) -> Any:
        """A maker of the StreamInfo of the features, control or markers stream."""
        board = self.config.source.board
        channels, stream_type, fmt = {
            "features": (FEATURE_CHANNELS, "Features", pylsl.cf_double64),
            "control": (CONTROL_CHANNELS, "Control", pylsl.cf_double64),
            "markers": (("label",), "Markers", pylsl.cf_string),
        }[kind]
        return lambda: stream_info(
            pylsl, f"{self.name_prefix} {stream_type}", stream_type, channels,
            pylsl.IRREGULAR_RATE, fmt, self.source_id(kind), board=board,
        )

    def _lsl_time(self, pylsl: Any, board_time: Any) -> float:
        now = pylsl.local_clock()
        if isinstance(board_time, int | float):
            age = time.time() - float(board_time)
            if 0.0 <= age < 5.0:
                return float(now - age)
        return float(now)

    def _forward(self, pylsl: Any, outlets: dict[str, Any], message: Message) -> None:
        data = message.data
        if isinstance(data, RawChunk) and message.topic in RAW_STREAM_TYPES:
            if message.array is not None:
                self._forward_raw(pylsl, outlets, message.topic, data, message.array)
        elif isinstance(data, AttentionFeature | StressFeature):
            if isinstance(data, AttentionFeature):
                self._features[0] = _number(data.attention)
                self._features[1] = _number(data.valid)
            else:
                self._features[2] = _number(data.stress)
                self._features[3] = _number(data.valid)
                self._features[4] = _number(data.hr_bpm)
                self._features[5] = _number(data.rmssd_ms)
            outlet = outlets["features"]
            outlet.push_sample(list(self._features), self._lsl_time(pylsl, message.source_time))
            self.pushed["features"] = self.pushed.get("features", 0) + 1
        elif isinstance(data, Control):
            values = {"intensity": data.intensity, "gentle": data.gentle, "safe": data.safe}
            sample = [_number(values[name]) for name in CONTROL_CHANNELS]
            outlets["control"].push_sample(sample)
            self.pushed["control"] = self.pushed.get("control", 0) + 1
        elif isinstance(data, Marker):
            outlets["markers"].push_sample([data.label or str(data.value)])
            self.pushed["markers"] = self.pushed.get("markers", 0) + 1

    def _forward_raw(
        self, pylsl: Any, outlets: dict[str, Any], topic: str, chunk: RawChunk, array: Any
    ) -> None:
        stream_type = RAW_STREAM_TYPES[topic]
        kind = stream_type.lower()
        channels = list(chunk.channels)
        data = np.asarray(array, dtype=np.float32)
        if data.ndim != 2 or data.shape[0] != len(channels) or data.shape[1] == 0:
            return
        outlet = self._outlet(pylsl, outlets, kind, lambda: stream_info(
            pylsl, f"{self.name_prefix} {stream_type}", stream_type, channels,
            chunk.fs, pylsl.cf_float32, self.source_id(kind),
            unit="" if stream_type == "PPG" else "microvolts", board=self.config.source.board,
        ))
        if outlet.channel_count != data.shape[0]:
            return
        outlet.push_chunk(np.ascontiguousarray(data.T), self._lsl_time(pylsl, chunk.t_last))
        self.pushed[kind] = self.pushed.get(kind, 0) + data.shape[1]
