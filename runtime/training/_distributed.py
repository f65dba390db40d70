"""DistributedControl: every rank applies the same control at the same step.

One rank (``src``, default 0) reads its client; the control goes to the others as a small
float64 tensor ``[intensity, gentle, safe, seq, issued_at, expires_at, ttl_s, source_time,
sample_time]``
by ``torch.distributed.broadcast``. ``current()`` is a collective: every rank calls it once
per step, in the same order (``Biofeedback.step()`` does).

Modes:

* ``"async"`` (default): at step k every rank waits for the broadcast started at step k−1
  (long finished by then: a step takes milliseconds, a 64-byte broadcast microseconds),
  applies that value, and starts the next broadcast with what the source reads now. Control
  reaches the model one step later than in sync mode, identically on all ranks, and a step
  never waits for the wire. The first call broadcasts synchronously so that step 0 agrees.
* ``"sync"``: a blocking broadcast every step.

Between broadcasts every rank holds the control it has. How long: ``every=N`` broadcasts
every N-th step. By default (``every=None``) the source rank picks the number of steps so
that broadcasts come about every ``interval_s`` (100 ms) of training, from the step time it
measures, and sends that number with the control, so every rank switches to the next
control at the same step. Why by time: a broadcast costs the training thread about 0.2 ms
here (posting gloo work on a loaded 2-core machine; ``python -m bench.bench_training``), which
is about 3 % of an 8 ms DDP step of the 2×512 MLP when done every step and ≈ 1 % every 4 steps,
while on a model whose step takes a second a fixed 4 steps would hold the control for
4 s. 100 ms is below the controller's time scale (feature hops of 250 ms, dwell times and
control TTLs of seconds) and keeps the agreement a fixed, small share of any step: with two
ranks and an 8 ms step, 0.3 % of the training thread's time (50 ms: 0.65–0.91 %).

The source rank's ``client.current()`` never blocks (ControlClient keeps the latest value
and expires it to the safe state by itself), so a slow or absent daemon never stalls the
other ranks; with no client at all the source broadcasts the safe state.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist

from runtime.messages import Control, safe_control
from runtime.training._source import ControlSource
from runtime.training._validate import check_float, check_positive_int, raise_config_error

logger = logging.getLogger("runtime.training")

_FIELDS = 9  # the control's fields (encode_control)
_HOLD = _FIELDS  # and after them, the steps every rank holds this control
_MODES = ("async", "sync")


@contextlib.contextmanager
def gloo_process_group(
    rank: int | None = None,
    world_size: int | None = None,
    *,
    init_method: str | None = None,
) -> Iterator[tuple[int, int]]:
    """A default gloo process group (CPU) for the ``with`` block; yields (rank, world size).

    Without ``rank`` and ``world_size`` the group is set up as torchrun describes it, from
    the ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` environment variables.
    With them, ``init_method`` says where the ranks meet: ``"tcp://127.0.0.1:PORT"`` (rank 0
    listens there), ``"file:///path"`` (a file every rank can reach; it must not be left over
    from an earlier group), or None for ``MASTER_ADDR``/``MASTER_PORT`` again.

    On leaving the block normally every rank waits at a barrier before the group is
    destroyed: gloo aborts a process whose peer closes the connection under it. After an
    exception the group is destroyed without the barrier, which the other ranks might never
    reach.
    """
    if (rank is None) != (world_size is None):
        raise_config_error(
            f"The arguments 'rank' and 'world_size' go together; got rank={rank!r}, "
            f"world_size={world_size!r}. Pass both, or neither to read them from the "
            f"environment as torchrun sets it."
        )
    options: dict[str, Any] = {}
    if world_size is not None:
        world_size = check_positive_int("world_size", world_size)
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise_config_error(
                f"The argument 'rank' must be an integer in [0, {world_size - 1}]; "
                f"{rank!r} is invalid."
            )
        options = {"rank": rank, "world_size": world_size}
    if init_method is not None:
        options["init_method"] = init_method
    if dist.is_initialized():
        raise_config_error(
            "gloo_process_group: a default process group already exists in this process; "
            "destroy it first (torch.distributed.destroy_process_group())."
        )
    dist.init_process_group("gloo", **options)
    try:
        yield dist.get_rank(), dist.get_world_size()
        dist.barrier()
    finally:
        dist.destroy_process_group()


def distributed_world() -> tuple[int, int]:
    """(rank, world size) of the default process group, or (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def encode_control(control: Control, out: torch.Tensor) -> torch.Tensor:
    """Write ``control`` into the float64 tensor ``out`` (9 values); returns ``out``."""
    source_time = math.nan if control.source_time is None else float(control.source_time)
    sample_time = math.nan if control.sample_time is None else float(control.sample_time)
    values = [
        float(control.intensity),
        1.0 if control.gentle else 0.0,
        1.0 if control.safe else 0.0,
        float(control.seq),
        float(control.issued_at),
        float(control.expires_at),
        float(control.ttl_s),
        source_time,
        sample_time,
    ]
    out.copy_(torch.tensor(values, dtype=torch.float64))
    return out


def decode_control(values: torch.Tensor, rule: str) -> Control:
    """Rebuild a :class:`Control` from :func:`encode_control` output (rule is not carried)."""
    v = values.tolist()
    return Control(
        intensity=v[0],
        gentle=v[1] > 0.5,
        rule=rule,
        ttl_s=v[6],
        issued_at=v[4],
        expires_at=v[5],
        safe=v[2] > 0.5,
        seq=int(v[3]),
        source_time=None if math.isnan(v[7]) else v[7],
        sample_time=None if math.isnan(v[8]) else v[8],
    )


class DistributedControl:
    """A :class:`ControlSource` whose ``current()`` returns the same control on every rank.

    ``source``: the client on rank ``src`` (ignored elsewhere; ``None`` means the safe
    state). ``group``: process group (default: the world). ``mode``: ``"async"`` or
    ``"sync"`` (see the module docstring). ``every``: steps between broadcasts (the control
    is held in between, on every rank alike); ``None`` lets the source pick it from its step
    time so that broadcasts come about every ``interval_s`` seconds, at most every
    ``max_every`` steps apart. ``clock``: the source's monotonic clock (seconds; tests pass
    their own). ``report()`` forwards only on rank ``src``.
    """

    def __init__(
        self,
        source: ControlSource | None,
        *,
        src: int = 0,
        group: Any = None,
        mode: str = "async",
        every: int | None = None,
        interval_s: float = 0.1,
        max_every: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (dist.is_available() and dist.is_initialized()):
            raise_config_error(
                "DistributedControl needs an initialised torch.distributed process group; "
                "call torch.distributed.init_process_group() first, or run inside "
                "runtime.training.gloo_process_group() (or pass distributed=False)."
            )
        if mode not in _MODES:
            raise_config_error(f"The argument 'mode' must be one of {_MODES}; {mode!r} is invalid.")
        world = dist.get_world_size(group)
        if not isinstance(src, int) or not 0 <= src < world:
            raise_config_error(
                f"The argument 'src' must be a rank in [0, {world - 1}]; {src!r} is invalid."
            )
        self.every = None if every is None else check_positive_int("every", every)
        self.interval_s = check_float("interval_s", interval_s, low=0.0)
        self.max_every = check_positive_int("max_every", max_every)
        self._clock = clock
        self._last_fill: tuple[float, int] | None = None  # (clock, call) at the last fill
        self.source = source
        self.src = src
        self.group = group
        self.mode = mode
        self.rank = dist.get_rank(group)
        self.is_source = self.rank == src
        backend = dist.get_backend(group)
        device = (
            torch.device("cuda", torch.cuda.current_device())
            if backend == "nccl"
            else torch.device("cpu")
        )
        self._buffers = [
            torch.zeros(_FIELDS + 1, dtype=torch.float64, device=device) for _ in "ab"
        ]
        self._staging = torch.zeros(_FIELDS + 1, dtype=torch.float64)
        self._local: list[tuple[Control, int] | None] = [None, None]
        self._pending: Any = None
        self._held: Control | None = None
        self._pending_index = 0
        self._calls = 0
        self._next_exchange = 1  # the call that exchanges next
        self._rule = f"rank{src}"

    def _read_source(self) -> Control:
        if self.source is None:
            return safe_control("no-client")
        try:
            return self.source.current()
        except Exception as exc:  # the daemon must never take training down
            logger.warning("DistributedControl: source.current() failed, safe state: %s", exc)
            return safe_control("client-error")

    def _hold_steps(self) -> int:
        """On the source: steps to hold the control being filled (fixed, or from the step
        time measured since the previous fill)."""
        if self.every is not None:
            return self.every
        now, call = self._clock(), self._calls
        last, self._last_fill = self._last_fill, (now, call)
        if last is None or call <= last[1] or now <= last[0]:
            return 1  # no step time measured yet
        step_s = (now - last[0]) / (call - last[1])
        steps = math.ceil(self.interval_s / step_s - 1e-6)  # 5.0000001 steps is 5
        return max(1, min(self.max_every, steps))

    def _fill(self, index: int) -> None:
        """On the source rank, write the current control and its hold into buffer ``index``."""
        if not self.is_source:
            return
        control = self._read_source()
        hold = self._hold_steps()
        self._local[index] = (control, hold)
        encode_control(control, self._staging[:_FIELDS])
        self._staging[_HOLD] = hold
        self._buffers[index].copy_(self._staging)

    def _decode(self, index: int) -> tuple[Control, int]:
        # The source keeps the Control it read (with its rule); the values are the same
        # float64 numbers the other ranks decode.
        local = self._local[index]
        if local is not None:
            return local
        values = self._buffers[index].cpu()
        hold = int(values[_HOLD].item())
        return decode_control(values[:_FIELDS], f"{self._rule}:seq{int(values[3].item())}"), hold

    def current(self) -> Control:
        """The control for this step, identical on every rank (a collective call)."""
        self._calls += 1
        if self._held is not None and self._calls < self._next_exchange:
            return self._held  # between broadcasts every rank keeps the same control
        self._held, hold = self._exchange()
        self._next_exchange = self._calls + hold
        return self._held

    def _exchange(self) -> tuple[Control, int]:
        if self.mode == "sync" or self._pending is None:
            self._fill(0)
            dist.broadcast(self._buffers[0], self.src, group=self.group)
            received = self._decode(0)
            if self.mode == "async":
                self._start_next(1)
            return received
        self._pending.wait()
        index = self._pending_index
        received = self._decode(index)
        self._start_next(1 - index)
        return received

    def _start_next(self, index: int) -> None:
        self._fill(index)
        self._pending = dist.broadcast(
            self._buffers[index], self.src, group=self.group, async_op=True
        )
        self._pending_index = index

    def report(self, status: dict[str, Any]) -> None:
        """Forward ``status`` to the client on the source rank; other ranks drop it."""
        if self.is_source and self.source is not None:
            self.source.report(status)

    def close(self) -> None:
        """Wait for the broadcast in flight (every rank must call it; idempotent)."""
        if self._pending is not None:
            self._pending.wait()
            self._pending = None
