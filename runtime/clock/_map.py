"""Sensor time → hub time, from an estimate or from the ``status.clock`` the hub publishes."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import KintsugiError
from runtime.messages import ClockStatus, SensorClock

__all__ = ["ClockMap", "ClockMaps", "UnknownSensorClockError"]


class UnknownSensorClockError(KintsugiError, LookupError):
    """No clock estimate exists (yet) for a sensor whose times are to be mapped."""


@dataclass(frozen=True)
class ClockMap:
    """A linear map between one sensor's clock and the hub's: the offset (sensor minus
    hub) is ``offset_s`` at hub time ``at_time`` and grows by ``drift`` s per s;
    ``uncertainty_s`` is how far the offset may be off at ``at_time``."""

    offset_s: float
    drift: float
    at_time: float
    uncertainty_s: float = 0.0

    def offset_at(self, hub_time: float) -> float:
        """The offset at ``hub_time``, s."""
        return self.offset_s + self.drift * (hub_time - self.at_time)

    def to_hub(self, sensor_time: float) -> float:
        """The hub time of the instant the sensor's clock read ``sensor_time``.

        Solves h = s − offset(h) exactly: h = (s − offset_s + drift·at_time) / (1 + drift).
        """
        return (sensor_time - self.offset_s + self.drift * self.at_time) / (1.0 + self.drift)

    def to_sensor(self, hub_time: float) -> float:
        """The sensor's clock at hub time ``hub_time``."""
        return hub_time + self.offset_at(hub_time)

    @classmethod
    def from_sensor_clock(cls, clock: SensorClock) -> ClockMap:
        """The map a ``status.clock`` entry describes."""
        return cls(
            offset_s=clock.offset_ms / 1e3,
            drift=clock.drift_ppm * 1e-6,
            at_time=clock.at_time,
            uncertainty_s=clock.uncertainty_ms / 1e3,
        )


class ClockMaps:
    """Each sensor's newest map, as read from ``status.clock``: what a hub stage that gets
    sample times from sensor hosts keeps to put them on the hub's clock."""

    def __init__(self) -> None:
        self._maps: dict[str, ClockMap] = {}

    def update(self, status: ClockStatus) -> None:
        """Take the sensors' maps from one ``status.clock`` message."""
        for sensor, clock in status.sensors.items():
            self._maps[sensor] = ClockMap.from_sensor_clock(clock)

    def get(self, sensor: str) -> ClockMap | None:
        """The sensor's map, or None before the hub has one."""
        return self._maps.get(sensor)

    def to_hub(self, sensor: str, sensor_time: float) -> float:
        """``sensor_time`` of ``sensor``'s clock on the hub's clock."""
        clock = self._maps.get(sensor)
        if clock is None:
            known = ", ".join(sorted(self._maps)) or "none yet"
            raise UnknownSensorClockError(
                f"no clock estimate for sensor {sensor!r} (known: {known}); is its clock "
                "responder running, and the hub's clock requester?"
            )
        return clock.to_hub(sensor_time)
