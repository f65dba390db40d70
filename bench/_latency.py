"""Latency from the sample's own clock: per-control timestamps and their breakdown.

A control rests on one raw chunk (its ``trace``). For each control a subscriber receives,
:class:`StampLog` gathers the timestamps of that one sample's trip, all wall-clock seconds
(``time.time()``; the synthetic board's BrainFlow timestamps are the host's wall clock too):

====================  ==================================================================
``board``             BrainFlow timestamp of the newest sample of the chunk (``t_last``)
``driver_read``       the driver read the chunk from BrainFlow's buffer (``read_time``)
``driver_publish``    the chunk left the driver (its ``raw.*`` publish time)
``features_publish``  the estimate made from that chunk left the features stage
``control_publish``   the control resting on that estimate left the controller
``client_receive``    the control reached a client (a subscriber on the same broker)
``applied``           a training job applied it at a step boundary (``applied_at``)
====================  ==================================================================

The stages are the differences of consecutive stamps of the same sample, so they sum to
the whole (``client_receive − board``, or ``applied − board``) per sample, before any
percentile is taken.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from bench._common import summarise_ms

#: The stamps in the order a sample passes them.
STAMPS = (
    "board",
    "driver_read",
    "driver_publish",
    "features_publish",
    "control_publish",
    "client_receive",
    "applied",
)

#: Each stage: (key part, label, from stamp, to stamp).
STAGES = (
    ("board_buffer_poll", "board buffer and poll", "board", "driver_read"),
    ("driver_to_bus", "driver → bus", "driver_read", "driver_publish"),
    ("features", "features (bus, estimate, publish)", "driver_publish", "features_publish"),
    ("controller", "controller (bus, policy, publish)", "features_publish", "control_publish"),
    ("bus_to_client", "bus → client", "control_publish", "client_receive"),
    ("client_to_applied", "client → applied step", "client_receive", "applied"),
)


@dataclass(frozen=True)
class ControlStamps:
    """The timestamps (wall-clock s) of one sample's trip to one control, see the module."""

    board: float
    driver_read: float
    driver_publish: float
    features_publish: float
    control_publish: float
    client_receive: float
    applied: float | None = None

    def with_applied(
        self, applied_at: float, client_received: float | None = None
    ) -> ControlStamps:
        """These stamps applied at ``applied_at``; ``client_received`` (the job's own
        client's receive time, from ``model.status``) replaces the bench subscriber's."""
        if client_received is None:
            return replace(self, applied=applied_at)
        return replace(self, applied=applied_at, client_receive=client_received)


def stage_parts_ms(stamps: ControlStamps) -> dict[str, float]:
    """Each stage's share (ms) of this sample's trip; ``client_to_applied`` only once the
    control was applied. The parts telescope: they sum to :func:`whole_ms`."""
    parts = {}
    for name, _, start, end in STAGES:
        t_end = getattr(stamps, end)
        if t_end is not None:
            parts[name] = (t_end - getattr(stamps, start)) * 1e3
    return parts


def whole_ms(stamps: ControlStamps) -> float:
    """Board timestamp → the last stamp there is (applied if it was, else received), ms."""
    last = stamps.applied if stamps.applied is not None else stamps.client_receive
    return (last - stamps.board) * 1e3


def summarise_stages(rows: list[ControlStamps], *, applied: bool) -> dict[str, Any]:
    """``stage_<name>_p50_ms`` / ``_p99_ms`` over ``rows`` (with ``client_to_applied`` when
    ``applied``), and ``stage_sum_max_error_ms``: the largest |sum of parts − whole| over
    the samples (0 up to rounding; a check that the breakdown is the whole)."""
    out: dict[str, Any] = {}
    names = [s[0] for s in STAGES if applied or s[0] != "client_to_applied"]
    per_sample = [stage_parts_ms(r) for r in rows]
    for name in names:
        values = [p[name] for p in per_sample if name in p]
        summary = summarise_ms(values, f"stage_{name}")
        out[f"stage_{name}_p50_ms"] = summary[f"stage_{name}_p50_ms"]
        out[f"stage_{name}_p99_ms"] = summary[f"stage_{name}_p99_ms"]
    errors = [abs(sum(p.values()) - whole_ms(r)) for p, r in zip(per_sample, rows, strict=True)]
    out["stage_sum_max_error_ms"] = max(errors) if errors else float("nan")
    return out


class StampLog:
    """Builds :class:`ControlStamps` from what one subscriber receives on ``features`` and
    ``control``: each estimate's publish time by the raw chunk it rests on, then, for each
    feature-triggered control, the stamps of its trace's chunk (once per chunk)."""

    def __init__(self, keep: int = 1024) -> None:
        self._feature_publish: OrderedDict[tuple[str | None, int | None], float] = OrderedDict()
        self._seen: OrderedDict[tuple[str | None, int | None], None] = OrderedDict()
        self._keep = keep
        self.rows: list[ControlStamps] = []
        #: Feature-triggered controls whose stamps were incomplete (no read time, estimate
        #: not seen): counted, never guessed.
        self.incomplete = 0

    def observe(self, message: Any, received: float) -> ControlStamps | None:
        """Take one received message (``received``: ``time.time()`` at receipt); returns the
        stamps when it was a feature-triggered control on a chunk not counted yet."""
        from runtime.messages import Control, Feature

        data = message.data
        if isinstance(data, Feature) and data.trace is not None:
            key = (data.trace.raw_publisher, data.trace.raw_seq)
            self._feature_publish[key] = message.publish_time  # the newest estimate wins
            self._feature_publish.move_to_end(key)
            while len(self._feature_publish) > self._keep:
                self._feature_publish.popitem(last=False)
            return None
        if not isinstance(data, Control) or data.trigger != "feature" or data.trace is None:
            return None
        trace = data.trace
        key = (trace.raw_publisher, trace.raw_seq)
        if key in self._seen:
            return None
        self._seen[key] = None
        while len(self._seen) > self._keep:
            self._seen.popitem(last=False)
        features_publish = self._feature_publish.get(key)
        if (
            trace.raw_source_time is None
            or trace.raw_read_time is None
            or trace.raw_publish_time is None
            or features_publish is None
        ):
            self.incomplete += 1
            return None
        row = ControlStamps(
            board=trace.raw_source_time,
            driver_read=trace.raw_read_time,
            driver_publish=trace.raw_publish_time,
            features_publish=features_publish,
            control_publish=message.publish_time,
            client_receive=received,
        )
        self.rows.append(row)
        return row
