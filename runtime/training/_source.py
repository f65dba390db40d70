"""ControlSource: what the training side needs from a control client.

``runtime.client.ControlClient`` satisfies it; so does :class:`DistributedControl`, which
wraps one, and any small object with the two methods (a scripted source in a test).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from runtime.messages import Control, ModelStatus


@runtime_checkable
class ControlSource(Protocol):
    """The latest control, and a way to publish the model's status back on the bus."""

    def current(self) -> Control:
        """The control in force now; never blocks (the safe state when expired or absent)."""
        ...

    def report(self, status: ModelStatus) -> None:
        """Publish ``status`` as a ``model.status`` message; never blocks.

        :class:`~runtime.training.Biofeedback` passes a typed
        :class:`~runtime.messages.ModelStatus` (``status.to_dict()`` is its JSON body).
        """
        ...
