"""What a training job imports to receive control. Imports zmq and numpy only:
never torch, brainflow or qiskit."""

from runtime.client._client import (
    CONTROL_TOPIC,
    DEFAULT_PUBLISH_ENDPOINT,
    DEFAULT_SUBSCRIBE_ENDPOINT,
    MODEL_STATUS_TOPIC,
    ControlClient,
)
from runtime.messages import BASELINE_INTENSITY, Control, safe_control

__all__ = [
    "BASELINE_INTENSITY",
    "CONTROL_TOPIC",
    "DEFAULT_PUBLISH_ENDPOINT",
    "DEFAULT_SUBSCRIBE_ENDPOINT",
    "MODEL_STATUS_TOPIC",
    "Control",
    "ControlClient",
    "safe_control",
]
