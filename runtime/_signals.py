"""Stop on a signal: SIGINT/SIGTERM ask for a clean stop, a second SIGINT forces an exit.

One place for the whole project (``kintsugi run``, ``replay``, ``emulate`` and
:meth:`runtime.daemon.Daemon.run_until_stopped`), as uvicorn's ``server.py`` does it: the
handlers only set a flag; the main thread notices, stops what it runs within its shutdown
deadline and logs what it cut short. A second SIGINT while that runs ends the process at
once with :data:`FORCED_EXIT_STATUS`, without waiting for any thread. Standard library only.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["FORCED_EXIT_STATUS", "StopSignals"]

logger = logging.getLogger("runtime.daemon")

#: Exit status of a forced exit: 128 + SIGINT, as a shell reports Ctrl-C
#: (``runtime.cli._exit.INTERRUPTED``).
FORCED_EXIT_STATUS = 130

_HANDLED = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """While entered (in the main thread), SIGINT and SIGTERM set :attr:`stop`.

    ``name`` prefixes the log lines (``"run"``, ``"replay"``). :attr:`received` names the
    first signal (``"SIGINT"``), None until one came. A second SIGINT calls ``on_force``
    (e.g. to log which stages are still running), logs the forced exit and ends the
    process with :data:`FORCED_EXIT_STATUS`. On exit the previous handlers come back.
    Outside the main thread Python cannot install handlers: nothing is installed and only
    :attr:`stop` itself works (set it to stop).
    """

    def __init__(
        self,
        name: str,
        stop: threading.Event | None = None,
        *,
        on_force: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.stop = stop if stop is not None else threading.Event()
        self.received: str | None = None
        self._on_force = on_force
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None and signum == signal.SIGINT:
            if self._on_force is not None:
                try:
                    self._on_force()
                except Exception:  # a forced exit must not be stopped by its own report
                    logger.exception("%s: reporting before the forced exit failed", self.name)
            logger.warning("%s: second SIGINT: forced exit (status %d)", self.name,
                           FORCED_EXIT_STATUS)
            os._exit(FORCED_EXIT_STATUS)
        if self.received is None:
            self.received = name
            logger.info("%s: %s received; stopping (Ctrl-C again to force)", self.name, name)
        self.stop.set()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            logger.debug("%s: not the main thread: no signal handlers installed", self.name)
            return self
        for signum in _HANDLED:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            # None: a handler installed outside Python; the default is the closest.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()
