"""Per-draw simulator seeds derived from one session seed, so a session replays exactly."""

from __future__ import annotations

import numpy as np

#: Independent seed streams of one session: decisions and diagnostic samples.
DECISION_STREAM = 0
SAMPLE_STREAM = 1


def derive_decision_seed(session_seed: int, counter: int, stream: int = DECISION_STREAM) -> int:
    """The Aer ``seed_simulator`` of draw ``counter`` (0-based) in a session.

    ``numpy.random.SeedSequence(session_seed, spawn_key=(stream, counter))`` gives well-mixed,
    independent seeds for neighbouring counters and sessions; the 32-bit result fits any
    simulator's seed type and JSON.
    """
    sequence = np.random.SeedSequence(session_seed, spawn_key=(stream, counter))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])
