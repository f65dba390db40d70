"""What a training job imports to receive control (a :class:`Control`) and report back
(a :class:`ModelStatus`). Imports zmq and numpy only: never torch, brainflow or qiskit."""

from runtime.client._client import (
    CONTROL_TOPIC,
    DEFAULT_PUBLISH_ENDPOINT,
    DEFAULT_SUBSCRIBE_ENDPOINT,
    MODEL_STATUS_TOPIC,
    ControlClient,
)
from runtime.messages import BASELINE_INTENSITY, Control, ModelStatus, safe_control

__all__ = [
    "BASELINE_INTENSITY",
    "CONTROL_TOPIC",
    "DEFAULT_PUBLISH_ENDPOINT",
    "DEFAULT_SUBSCRIBE_ENDPOINT",
    "MODEL_STATUS_TOPIC",
    "Control",
    "ControlClient",
    "ModelStatus",
    "safe_control",
]
