"""The controller: attention, stress and the model's guards → repair intensity and gentle mode."""

from __future__ import annotations

from runtime.controller._policy import CONFLICT_OPTIONS, ControlPolicy, Mode, PolicyOutput
from runtime.controller._settings import ControllerSettings, GroupSettings
from runtime.resolver import DecisionStep


def make_decision_step(settings: ControllerSettings) -> DecisionStep:
    """The decision step named by ``settings.decision``; qiskit is imported only for "quantum"."""
    if settings.decision == "quantum":
        from runtime.resolver import EthicsResolver

        return EthicsResolver(settings.decision_seed, temperature=settings.decision_temperature)
    from runtime.resolver import DeterministicResolver

    return DeterministicResolver(temperature=settings.decision_temperature)


__all__ = [
    "CONFLICT_OPTIONS",
    "ControlPolicy",
    "ControllerSettings",
    "GroupSettings",
    "Mode",
    "PolicyOutput",
    "make_decision_step",
]
