"""A simulated sensor clock and the network between it and the hub, in simulated time.

The sensor's clock runs ``OFFSET_S`` ahead of the hub's at ``H0`` and gains ``DRIFT``
(50 ppm) from then on. Each leg of an exchange takes a base time (the legs differ by
``ASYMMETRY_S``: what no two-way exchange can see, so the estimate may be off by half of
it), exponential jitter, and now and then a queueing spike; every minute a 3 s congestion
episode delays every answer. Seeded: the same seed gives the same exchanges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

H0 = 1.76e9  #: the hub's clock at the start, s (wall-clock sized, as time.time() is)
OFFSET_S = 0.250
DRIFT = 50e-6
BASE_DOWN_S = 0.15e-3
BASE_UP_S = 0.35e-3
ASYMMETRY_S = BASE_UP_S - BASE_DOWN_S
JITTER_S = 0.2e-3
SPIKE_UP = (0.08, 2e-3, 60e-3)  #: probability, smallest and largest extra delay (s)
SPIKE_DOWN = (0.03, 2e-3, 30e-3)
CONGESTION = (60.0, 3.0, 5e-3, 20e-3)  #: every 60 s, 3 s of answers 5-20 ms late


def sensor_time(hub_time: float) -> float:
    """The sensor's clock at hub time ``hub_time``."""
    return hub_time + OFFSET_S + DRIFT * (hub_time - H0)


def true_offset_s(hub_time: float) -> float:
    """Sensor minus hub at hub time ``hub_time``."""
    return OFFSET_S + DRIFT * (hub_time - H0)


@dataclass(frozen=True)
class SimExchange:
    t1: float
    t2: float
    t3: float
    t4: float


def simulate_exchanges(
    seed: int, duration_s: float, *, rate_hz: float = 4.0, start_rate_hz: float = 16.0,
    start_s: float = 2.0,
) -> list[SimExchange]:
    """The exchanges of ``duration_s`` of hub time at the requester's rates."""
    rng = np.random.default_rng(seed)
    out = []
    h = H0
    while h < H0 + duration_s:
        down = BASE_DOWN_S + rng.exponential(JITTER_S)
        up = BASE_UP_S + rng.exponential(JITTER_S)
        for (p, low, high), leg in ((SPIKE_UP, "up"), (SPIKE_DOWN, "down")):
            if rng.random() < p:
                extra = rng.uniform(low, high)
                up, down = (up + extra, down) if leg == "up" else (up, down + extra)
        period, length, low, high = CONGESTION
        if (h - H0) % period > period - length:
            up += rng.uniform(low, high)
        hold = 50e-6 + rng.exponential(20e-6)  # measured on the sensor's clock
        t2 = sensor_time(h + down)
        t4 = h + down + hold / (1.0 + DRIFT) + up
        out.append(SimExchange(h, t2, t2 + hold, t4))
        h += 1.0 / (start_rate_hz if h < H0 + start_s else rate_hz)
    return out
