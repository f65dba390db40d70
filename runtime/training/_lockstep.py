"""Lockstep: a training job that applies, step for step, the controls a logged job applied.

In a live job the control in force at step ``n`` depends on when controls arrived (wall
time). To reproduce a job beside a replay of its session, :class:`LockstepControl` reads
the job's step log (``training.jsonl``) and, at each step ``n``, waits until the control
with the logged ``seq`` has arrived on the bus (from ``kintsugi replay``), then hands
exactly that control to :class:`~runtime.training.Biofeedback`. The same seeded job fed by
an exact replay then writes an identical log (step, seq, intensity, gentle, repairs), at
any replay speed: controls that arrive early are kept (only the seqs the log needs), a
control that does not arrive within ``timeout_s`` raises :class:`LockstepTimeoutError`.

What the bus cannot replay is taken from the log: a step that ran on a local safe state
(``seq`` -1: no control yet, client error) gets that safe state, and a step where the
logged control had expired (rule ``safe:control-expired``) gets the expired form of the
arrived control. A control whose intensity, gentle mode or rule differs from the log's is
still applied (the new log shows the divergence), counted in ``mismatches`` and warned
about once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import zmq

from runtime.bus import DEFAULT_SUBSCRIBE_ENDPOINT, BusSubscriber, CurveKeys
from runtime.errors import BusError, KintsugiError
from runtime.messages import Control, expire, safe_control
from runtime.training._session_log import TrainingLog, TrainingStep, read_training_log
from runtime.training._validate import check_float

logger = logging.getLogger("runtime.training")

#: The rule of a control that expired in the client (``runtime.messages.expire``).
EXPIRED_RULE = "safe:control-expired"
#: The followed job's controls are kept by seq; the subscriber must not drop any.
_HWM = 100_000


class LockstepTimeoutError(KintsugiError, TimeoutError):
    """The control a followed log applied at a step did not arrive in time."""


class LockstepControl:
    """The controls of a followed training log, received from the bus at ``endpoint``.

    ``followed``: the log (a path, a session directory, or a read :class:`TrainingLog`).
    ``keys``: CURVE keys (as :class:`~runtime.client.ControlClient`). ``timeout_s``: how
    long one step waits for its control. :meth:`start` subscribes (and confirms the
    subscription with the broker) before the replay should start; :meth:`control_for`
    blocks until step ``n``'s control is there. Used by ``Biofeedback(..., follow=...)``.
    """

    def __init__(
        self,
        followed: str | Path | TrainingLog,
        endpoint: str = DEFAULT_SUBSCRIBE_ENDPOINT,
        *,
        keys: CurveKeys | str | Path | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.log = followed if isinstance(followed, TrainingLog) else read_training_log(followed)
        self.endpoint = endpoint
        self.timeout_s = check_float("timeout_s", timeout_s, low=0.0, low_inclusive=False)
        self._curve = keys if isinstance(keys, CurveKeys | None) else CurveKeys.load(keys)
        self._by_step = {entry.step: entry for entry in self.log.steps}
        self._needed = {entry.seq for entry in self.log.steps if entry.seq >= 0}
        self._received: dict[int, Control] = {}
        self._made: dict[tuple[int, bool], Control] = {}  # one object per applied state
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._context: zmq.Context | None = None
        self.received = 0
        self.highest_seq = -1
        self.mismatches = 0

    @property
    def steps(self) -> int:
        """Steps in the followed log."""
        return len(self.log.steps)

    # ------------------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 10.0) -> None:
        """Subscribe to ``control`` and return once the broker has the subscription."""
        if self._thread is not None:
            return
        self._context = zmq.Context()
        self._thread = threading.Thread(target=self._run, name="kintsugi-lockstep", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            self.close()
            raise BusError(
                f"lockstep: no answer from the broker at {self.endpoint} within {timeout_s} s "
                f"({self._error or 'is the daemon or replay bus up?'})"
            )

    def close(self) -> None:
        """Stop receiving; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._context is not None and not self._context.closed:
            self._context.term()

    def __enter__(self) -> LockstepControl:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------- per step
    def control_for(self, step: int) -> Control | None:
        """The control to apply over ``step`` (waits for it); None past the log's end."""
        entry = self._by_step.get(step)
        if entry is None:
            return None
        if entry.seq < 0:
            key = (-1, False)
            if key not in self._made or self._made[key].rule != entry.rule:
                local = replace(safe_control("lockstep"), rule=entry.rule,
                                intensity=entry.intensity, gentle=entry.gentle)
                self._made[key] = local
            return self._made[key]
        expired = entry.rule == EXPIRED_RULE
        key = (entry.seq, expired)
        if key not in self._made:
            control = self._wait_for(entry)
            self._made[key] = expire(control) if expired and not control.safe else control
            self._check(entry, self._made[key])
        return self._made[key]

    def _wait_for(self, entry: TrainingStep) -> Control:
        deadline = time.monotonic() + self.timeout_s
        with self._condition:
            while entry.seq not in self._received:
                if self._error is not None:
                    raise BusError(f"lockstep: receiving controls failed: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockstepTimeoutError(
                        f"lockstep: step {entry.step} of {self.log.path} applied control seq "
                        f"{entry.seq}, which has not arrived from {self.endpoint} within "
                        f"{self.timeout_s:g} s ({self.received} controls received, highest "
                        f"seq {self.highest_seq}). Start the job first, then replay the "
                        "session on that bus (kintsugi replay DIR); a replay that does not "
                        "reproduce the session's control seqs never sends it."
                    )
                self._condition.wait(min(left, 0.5))
            return self._received[entry.seq]

    def _check(self, entry: TrainingStep, control: Control) -> None:
        logged = (entry.intensity, entry.gentle, entry.rule)
        if (control.intensity, control.gentle, control.rule) == logged:
            return
        self.mismatches += 1
        if self.mismatches == 1:
            logger.warning(
                "lockstep: step %d: control seq %d arrived as intensity %s, gentle %s, rule "
                "%r; the followed log applied intensity %s, gentle %s, rule %r (the replay "
                "differs from the session; applied as it arrived)",
                entry.step, entry.seq, control.intensity, control.gentle, control.rule,
                *logged,
            )

    # ---------------------------------------------------------------------------- thread
    def _run(self) -> None:
        assert self._context is not None
        subscriber = None
        try:
            subscriber = BusSubscriber(
                self.endpoint, ("control", "status.broker"), context=self._context, hwm=_HWM,
                curve=self._curve,
            )
            while not self._stop.is_set():
                message = subscriber.recv(timeout_s=0.05)
                while message is not None:
                    if message.topic == "status.broker":
                        # The broker's last-value cache answers a new subscription at once;
                        # subscriptions of one connection are registered in order, so the
                        # control subscription is in place (as stages' confirm_subscribed).
                        self._ready.set()
                    elif isinstance(message.data, Control):
                        self._keep(message.data)
                    message = subscriber.recv_nowait()
        except Exception as exc:  # reported to the training thread at its next wait
            logger.exception("lockstep: receiving controls from %s failed", self.endpoint)
            with self._condition:
                self._error = exc
                self._condition.notify_all()
            self._ready.set()
        finally:
            if subscriber is not None:
                subscriber.close()

    def _keep(self, control: Control) -> None:
        with self._condition:
            self.received += 1
            self.highest_seq = max(self.highest_seq, control.seq)
            if control.seq in self._needed and control.seq not in self._received:
                self._received[control.seq] = control
                self._condition.notify_all()
