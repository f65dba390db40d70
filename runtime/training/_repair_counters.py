"""GoldenRepair's bookkeeping: read and reset the sites' counters, summarise, log events.

The counters live on each module's device and are only read here, at a report
(:meth:`GoldenRepair.collect_summary` and friends), never on the hot path. A summary row per
module has the keys of ``_repair_site.COUNTER_NAMES`` (``nonfinite``, ``outliers``,
``guard_scaled``, ``entropy_limited``, ``repaired_calls``, and ``spikes``: the outliers
replaced by the threshold band's edge instead of blended, counted among ``outliers`` too)
plus ``min_similarity``,
``max_entropy_bits``, ``entropy_limit_bits`` and ``unchecked_forwards``; ``model.status``
(``_biofeedback``) reads them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from runtime.training._repair_log import RepairEvent
from runtime.training._repair_site import COUNTER_NAMES, NONFINITE, OUTLIERS, Site


def count_repairs(sites: Sequence[Site]) -> dict[str, int]:
    """Repaired elements (non-finite + outliers) per module (reads, does not reset)."""
    out = {}
    for site in sites:
        if site.counters is None:
            out[site.name] = 0
        else:
            values = site.counters.tolist()
            out[site.name] = int(values[NONFINITE] + values[OUTLIERS])
    return out


def read_site(site: Site) -> dict[str, Any]:
    """One module's summary row (reads the device counters unless they are known zero)."""
    if site.counters is None or not (site.dirty or site.branchless):
        # Nothing repaired on the CPU since the last reset: the counters are zero, and
        # reading them would cost the training thread four tensor reads per report.
        values = [0] * len(COUNTER_NAMES)
        min_sim, max_bits = math.inf, 0.0
    else:
        values = site.counters.tolist()
        min_sim, max_bits = site.extremes.tolist()
    row: dict[str, Any] = dict(zip(COUNTER_NAMES, (int(v) for v in values), strict=True))
    row["min_similarity"] = min_sim if math.isfinite(min_sim) else None
    row["max_entropy_bits"] = max_bits
    # The limit is set from the first activation's size: None until then.
    limit = site.entropy_limit_bits
    row["entropy_limit_bits"] = limit if math.isfinite(limit) else None
    row["unchecked_forwards"] = site.unchecked
    return row


def summarise(
    modules: dict[str, dict[str, Any]],
    *,
    intensity: float,
    gentle: bool,
    blend_weight: float,
    threshold_z: float,
    identity_floor: float,
    check_every: int,
) -> dict[str, Any]:
    """The summary of :meth:`GoldenRepair.summary`: control in force, totals and guard
    margins over the module rows, and the rows themselves under ``modules``."""
    sims = [m["min_similarity"] for m in modules.values() if m["min_similarity"] is not None]
    margins = [
        m["entropy_limit_bits"] - m["max_entropy_bits"]
        for m in modules.values()
        if m["entropy_limit_bits"] is not None
    ]
    return {
        "intensity": intensity,
        "gentle": gentle,
        "blend_weight": blend_weight,
        "threshold_z": threshold_z,
        "identity_floor": identity_floor,
        "repairs": sum(m["nonfinite"] + m["outliers"] for m in modules.values()),
        "spikes": sum(m["spikes"] for m in modules.values()),
        "min_similarity": min(sims) if sims else None,
        "identity_margin": (min(sims) - identity_floor) if sims else None,
        "entropy_margin_bits": min(margins) if margins else None,
        "check_every": check_every,
        "unchecked_forwards": sum(m["unchecked_forwards"] for m in modules.values()),
        "modules": modules,
    }


def collect_sites(
    sites: Sequence[Site],
    step: int,
    *,
    intensity: float,
    gentle: bool,
    escalation_forwards: int,
) -> tuple[dict[str, dict[str, Any]], list[RepairEvent]]:
    """Read and reset every site's counters: the summary rows, and one
    :class:`RepairEvent` per module that repaired (``step``, the control in force).

    A module that repaired also checks every forward for the next
    ``escalation_forwards`` (on accelerators this is where a fracture becomes known).
    """
    events = []
    now = time.time()
    modules = {}
    for site in sites:
        row = modules[site.name] = read_site(site)
        if row["nonfinite"] or row["outliers"]:
            site.check_all_until = max(site.check_all_until, site.forwards + escalation_forwards)
            events.append(
                RepairEvent(
                    step=step,
                    module=site.name,
                    nonfinite=row["nonfinite"],
                    outliers=row["outliers"],
                    guard_scaled=row["guard_scaled"],
                    entropy_limited=row["entropy_limited"],
                    repaired_calls=row["repaired_calls"],
                    spikes=row["spikes"],
                    min_similarity=row["min_similarity"],
                    max_entropy_bits=row["max_entropy_bits"],
                    intensity=intensity,
                    gentle=gentle,
                    time=now,
                )
            )
        site.unchecked = 0
        touched = any(row[name] for name in COUNTER_NAMES) or (
            row["min_similarity"] is not None or row["max_entropy_bits"] != 0.0
        )
        if site.counters is not None and touched:  # a clean CPU site has nothing to reset
            site.counters.zero_()
            site.extremes.copy_(site.extremes_reset)
        site.dirty = False
    return modules, events
