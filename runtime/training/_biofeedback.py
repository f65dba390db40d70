"""Biofeedback: the plain-loop helper that applies control at step boundaries.

::

    with Biofeedback(model, client) as bf:
        for x, y in loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            bf.step()

``bf.step()`` reads ``client.current()`` once (cheap, never blocks), applies it to the
actuators (GoldenRepair, VWPR, user hooks) for the next step, and every ``status_every``
steps publishes ``model.status`` (a :class:`~runtime.messages.ModelStatus`) through
``client.report()``: the step, the control applied and when, repairs and guard margins.
The daemon compares ``applied_at`` (wall clock) with the control's ``sample_time`` /
``issued_at`` to measure sample-to-applied latency.

Under ``torch.distributed`` the client is wrapped in :class:`DistributedControl`, so every
rank applies the same control at the same step.

``log=DIR`` writes the step-aligned log ``DIR/training.jsonl`` (one line per step: the
control applied and the repairs; see :mod:`runtime.training._session_log`), and
``follow=LOG`` applies, step for step, the controls a logged job applied, as they arrive
from a replay (:class:`~runtime.training.LockstepControl`), so the same seeded job writes
the same log again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from runtime.messages import (
    AppliedControl,
    Control,
    GuardMargins,
    ModelStatus,
    RepairCounts,
    safe_control,
)
from runtime.training._distributed import DistributedControl, distributed_world
from runtime.training._lockstep import LockstepControl
from runtime.training._repair import GoldenRepair
from runtime.training._repair_log import RepairLog
from runtime.training._session_log import TrainingLogWriter, TrainingStep
from runtime.training._source import ControlSource
from runtime.training._validate import check_positive_int, raise_config_error

logger = logging.getLogger("runtime.training")

ControlHook = Callable[[Control], None]


class _NoSource:
    """Used when no client is given: always the safe state, reports go nowhere."""

    def __init__(self) -> None:
        self._control = safe_control("no-client")

    def current(self) -> Control:
        return self._control

    def report(self, status: ModelStatus) -> None:
        return None


class Biofeedback:
    """Apply control from ``client`` to a model's actuators at step boundaries.

    ``model``: the model to repair when ``repair`` is True (a :class:`GoldenRepair` with
    defaults is created and removed on exit); pass a ready ``GoldenRepair`` to configure it
    (then it is not removed on exit), or ``False`` for none. ``client``: any
    :class:`ControlSource` (``runtime.client.ControlClient``), or ``None`` for the safe state.
    ``optimizer``: anything with ``apply_control(intensity, gentle)`` (e.g. :class:`VWPR`),
    whose value-weight statistics also go into the status when it has ``value_summary()``.
    ``status_every``: steps between ``model.status`` reports. ``distributed``: ``None``
    detects an initialised process group with more than one rank. ``distributed_mode``:
    ``"async"`` (apply at step k what rank ``src_rank`` read at step k−1; no stall) or
    ``"sync"`` (blocking broadcast every step). ``distributed_every``: steps between
    broadcasts (control is held in between); ``None`` (the default) broadcasts about every
    ``distributed_interval_s`` seconds of training, in steps the source rank picks from its
    step time (see :class:`DistributedControl`). ``repair_log``: receives repair events at
    each status report.

    ``log``: a session directory (the log is ``DIR/training.jsonl``) or a ``.jsonl`` file:
    one line per step with the control applied and the repairs, written by rank
    ``src_rank`` only; it must not exist yet. ``log_info``: fields added to its header
    line (e.g. ``{"model_seed": 0}``; ``torch_seed``, ``torch.initial_seed()``, is always
    there). A log that cannot be written warns once and training goes on. ``follow``: a
    training log (path or directory) to reproduce: at each step the job waits for the
    control with the logged seq from ``client.endpoint`` (a ``ControlClient``'s bus) and
    applies it; or a ready :class:`LockstepControl` (another endpoint, CURVE keys).
    ``follow_timeout_s``: how long a step waits (then :class:`LockstepTimeoutError`).
    """

    def __init__(
        self,
        model: nn.Module | None,
        client: ControlSource | None,
        *,
        repair: GoldenRepair | bool = True,
        optimizer: Any = None,
        status_every: int = 10,
        distributed: bool | None = None,
        distributed_mode: str = "async",
        distributed_every: int | None = None,
        distributed_interval_s: float = 0.1,
        src_rank: int = 0,
        repair_log: RepairLog | None = None,
        log: str | Path | None = None,
        log_info: Mapping[str, Any] | None = None,
        follow: str | Path | LockstepControl | None = None,
        follow_timeout_s: float = 30.0,
    ) -> None:
        self.status_every = check_positive_int("status_every", status_every)
        if client is not None and not isinstance(client, ControlSource):
            raise_config_error(
                f"The argument 'client' must have current() and report() (a ControlClient); "
                f"{type(client).__name__} has not."
            )
        self.client: ControlSource = _NoSource() if client is None else client
        self._owns_repair = repair is True
        if repair is True:
            if model is None:
                raise_config_error(
                    "The argument 'model' is None but 'repair' is True; pass the model, or "
                    "repair=False."
                )
            self.repair: GoldenRepair | None = GoldenRepair(model)
        elif repair is False or repair is None:
            self.repair = None
        elif isinstance(repair, GoldenRepair):
            self.repair = repair
        else:
            raise_config_error(
                f"The argument 'repair' must be True, False or a GoldenRepair; "
                f"{type(repair).__name__} is invalid."
            )
        if optimizer is not None and not hasattr(optimizer, "apply_control"):
            raise_config_error(
                f"The argument 'optimizer' must have apply_control(intensity, gentle) (VWPR); "
                f"{type(optimizer).__name__} has not. Bind other optimisers with add_hook()."
            )
        self.optimizer = optimizer
        self.repair_log = repair_log
        if self.repair is not None and repair_log is not None and self.repair.log is None:
            self.repair.log = repair_log
        rank, world_size = distributed_world()
        use_distributed = world_size > 1 if distributed is None else distributed
        self.rank, self.world_size = (rank, world_size) if use_distributed else (0, 1)
        self.source: ControlSource = (
            DistributedControl(
                self.client,
                src=src_rank,
                mode=distributed_mode,
                every=distributed_every,
                interval_s=distributed_interval_s,
            )
            if use_distributed
            else self.client
        )
        self.lockstep, self._owns_lockstep = self._make_lockstep(
            follow, follow_timeout_s, use_distributed
        )
        self.log: TrainingLogWriter | None = None
        if log is not None and self.rank == src_rank:
            self.log = TrainingLogWriter(log, self._log_header(log_info))
        self._repair_base: dict[str, int] = {}
        self._past_followed = False
        self._started = False
        self._hooks: list[ControlHook] = []
        self.step_count = 0
        self.control: Control = safe_control("not-started")
        self.applied_at = 0.0
        self.applied_step = 0
        self.reports = 0
        self._key: tuple[Any, ...] | None = None
        self._closed = False
        self._read_failures = 0

    # ------------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Biofeedback:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Apply the first control (for step 0); open the log, subscribe a lockstep."""
        if self._started:
            return
        self._started = True
        if self.log is not None:  # first: a recorder accepts a directory holding it
            self.log.open()
        if self.lockstep is not None and self._owns_lockstep:
            # The replay's bus may come up after the job: wait as long as for a control.
            self.lockstep.start(self.lockstep.timeout_s)
        self._apply(self._next_control())

    def close(self) -> None:
        """Log the last step, publish a last status, close the log, finish any pending
        broadcast, detach owned hooks (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._log_step()
        self.publish()
        if self.log is not None:
            mismatches = None if self.lockstep is None else self.lockstep.mismatches
            self.log.close(steps=self.step_count + 1, follow_mismatches=mismatches)
        if self.lockstep is not None and self._owns_lockstep:
            self.lockstep.close()
        if isinstance(self.source, DistributedControl):
            self.source.close()
        if self._owns_repair and self.repair is not None:
            self.repair.remove()

    # -------------------------------------------------------------------------- per step
    def add_hook(self, hook: ControlHook) -> None:
        """Call ``hook(control)`` at each step boundary where the control changed.

        The generic actuator: bind control to anything (a learning rate, dropout), e.g.
        ``bf.add_hook(lambda c: set_lr(optimizer, base_lr * c.intensity))``. The hook is
        called at once with the control in force.
        """
        if not callable(hook):
            raise_config_error(f"The argument 'hook' must be callable; {hook!r} is not.")
        self._hooks.append(hook)
        hook(self.control)

    def step(self) -> Control:
        """Mark a step boundary: log the step that ended, read control once (in lockstep:
        wait for the followed log's control), apply it, report every N steps."""
        self._log_step()
        self.step_count += 1
        control = self._next_control()
        self._apply(control)
        if self.step_count % self.status_every == 0:
            self.publish()
            if self.log is not None:
                self.log.flush()
        return control

    def _next_control(self) -> Control:
        """The control for the step that starts: the client's, or the followed log's."""
        if self.lockstep is None or self._past_followed:
            return self._read()
        control = self.lockstep.control_for(self.step_count)
        if control is not None:
            return control
        self._past_followed = True
        logger.warning(
            "Biofeedback: the followed log %s ends at step %d; from step %d on the job "
            "applies the client's live control",
            self.lockstep.log.path, self.lockstep.steps - 1, self.step_count,
        )
        return self._read()

    def _log_step(self) -> None:
        """Buffer the log line of the step that ends now: its control and its repairs."""
        if self.log is None or self.log.failed:
            return
        by_module: dict[str, int] = {}
        if self.repair is not None:
            counts = self.repair.counts()  # since the last collect (status report)
            for name, count in counts.items():
                new = count - self._repair_base.get(name, 0)
                if new < 0:  # someone else collected (reset) the counters in between
                    new = count
                if new:
                    by_module[name] = new
            self._repair_base = counts
        control = self.control
        self.log.add(
            TrainingStep(
                step=self.step_count,
                seq=control.seq,
                intensity=control.intensity,
                gentle=control.gentle,
                rule=control.rule,
                repairs=sum(by_module.values()),
                repairs_by_module=by_module,
            )
        )

    def _read(self) -> Control:
        try:
            return self.source.current()
        except Exception as exc:  # the daemon must never crash the training job
            if isinstance(self.source, DistributedControl):
                raise  # a failed collective leaves the ranks out of step: fail loudly
            self._read_failures += 1
            if self._read_failures in (1, 10, 100) or self._read_failures % 1000 == 0:
                logger.warning(
                    "Biofeedback: client.current() failed (%d times), using the safe state: %s",
                    self._read_failures,
                    exc,
                )
            return safe_control("client-error")

    def _apply(self, control: Control) -> None:
        if control is self.control:
            return  # the usual step: the client still holds the same control object
        key = (control.seq, control.intensity, control.gentle, control.safe, control.rule)
        self.control = control
        if key == self._key:
            return
        self._key = key
        self.applied_at = time.time()
        self.applied_step = self.step_count
        if self.repair is not None:
            self.repair.apply_control(control.intensity, control.gentle)
        if self.optimizer is not None:
            self.optimizer.apply_control(control.intensity, control.gentle)
        for hook in self._hooks:
            hook(control)

    # ---------------------------------------------------------------------------- status
    def _received_time(self, seq: int) -> float | None:
        """When the client received control ``seq``, if it is a client that knows."""
        received_time = getattr(self.client, "received_time", None)
        if not callable(received_time) or seq < 0:
            return None
        value = received_time(seq)
        return float(value) if isinstance(value, int | float) else None

    def status(self) -> ModelStatus:
        """The ``model.status`` report: step, control applied and when, repairs, guard margins.

        Returns a :class:`~runtime.messages.ModelStatus` (read its fields:
        ``status.guard.identity_margin``, ``status.repairs.total``; ``to_dict()`` gives the
        JSON body). ``repairs`` and ``guard`` are None without repair, ``value_weights`` is
        the optimizer's ``value_summary()`` when it has one. Reading the repair counters
        resets them (they cover the steps since the last call).
        """
        control = self.control
        repairs = guard = None
        if self.repair is not None:
            summary, _ = self.repair.collect_summary(self.step_count)
            self._repair_base = {}  # the counters start again from zero
            modules = summary["modules"]
            repairs = RepairCounts(
                total=summary["repairs"],
                per_module={n: m["nonfinite"] + m["outliers"] for n, m in modules.items()},
                nonfinite=sum(m["nonfinite"] for m in modules.values()),
                outliers=sum(m["outliers"] for m in modules.values()),
                spikes=sum(m["spikes"] for m in modules.values()),
            )
            guard = GuardMargins(
                identity_floor=summary["identity_floor"],
                min_similarity=summary["min_similarity"],
                identity_margin=summary["identity_margin"],
                entropy_margin_bits=summary["entropy_margin_bits"],
                guard_scaled=sum(m["guard_scaled"] for m in modules.values()),
                entropy_limited=sum(m["entropy_limited"] for m in modules.values()),
            )
        value_weights = None
        if self.optimizer is not None and hasattr(self.optimizer, "value_summary"):
            value_weights = dict(self.optimizer.value_summary())
        return ModelStatus(
            step=self.step_count,
            rank=self.rank,
            world_size=self.world_size,
            control=AppliedControl(
                seq=control.seq,
                intensity=control.intensity,
                gentle=control.gentle,
                safe=control.safe,
                rule=control.rule,
                issued_at=control.issued_at,
                source_time=control.source_time,
                sample_time=control.sample_time,
                received_at=self._received_time(control.seq),
            ),
            applied_at=self.applied_at,
            applied_step=self.applied_step,
            published_at=time.time(),
            repairs=repairs,
            guard=guard,
            value_weights=value_weights,
        )

    # ------------------------------------------------------------------ log and lockstep
    def _make_lockstep(
        self, follow: str | Path | LockstepControl | None, timeout_s: float, distributed: bool
    ) -> tuple[LockstepControl | None, bool]:
        """The lockstep source of ``follow`` and whether this object owns (starts) it."""
        if follow is None:
            return None, False
        if distributed:
            raise_config_error(
                "The argument 'follow' cannot be used under torch.distributed (every rank "
                "would wait on its own); reproduce a single-process job."
            )
        if isinstance(follow, LockstepControl):
            return follow, False
        endpoint = getattr(self.client, "endpoint", None)
        if not isinstance(endpoint, str):
            raise_config_error(
                f"The argument 'follow' needs the bus to wait on: pass a ControlClient as "
                f"'client' ({type(self.client).__name__} has no endpoint), or "
                "follow=LockstepControl(LOG, endpoint)."
            )
        return LockstepControl(follow, endpoint, timeout_s=timeout_s), True

    def _log_header(self, log_info: Mapping[str, Any] | None) -> dict[str, Any]:
        """What identifies the job in its log's header line."""
        followed = self.lockstep.log.path if self.lockstep is not None else None
        header: dict[str, Any] = {
            "started_at": time.time(),
            "torch_seed": torch.initial_seed(),
            "followed": None if followed is None else str(Path(followed).resolve()),
            "status_every": self.status_every,
            "pid": os.getpid(),
        }
        header.update(log_info or {})
        return header

    def publish(self) -> None:
        """Send :meth:`status` (a ``ModelStatus``) through ``client.report()`` (rank
        ``src_rank`` only)."""
        status = self.status()
        try:
            self.source.report(status)
        except Exception as exc:  # reporting is best effort; training goes on
            logger.warning("Biofeedback: client.report() failed: %s", exc)
            return
        self.reports += 1
