"""A broker and a stand-in controller in a process of their own, for the training benchmarks.

The training job's CPU A/B counts every thread of the training process
(``time.process_time()``): the client's receive thread and ZeroMQ's I/O thread are part of
what it measures, so the broker and the controller must not be. :class:`ControlSource`
starts ``python -m bench._control_source`` (no torch), which binds a real
:class:`~runtime.bus.Broker` on two loopback ports and publishes a typed
:class:`~runtime.messages.Control` at the controller's own cadence: every ``hop_s``
(:class:`runtime.controller.ControllerSettings`, 0.25 s: the controller publishes after
each attention estimate, one per hop) with its ``ttl_s`` (2 s). Intensity steps through
1.0, 1.25, 1.5 every 20 messages and gentle mode toggles every 40, so the actuators'
apply path runs as well.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from bench._common import REPO


def serve(hop_s: float, ttl_s: float) -> None:
    """Bind the broker, print ``ready <publish endpoint> <subscribe endpoint>``, publish
    control every ``hop_s`` until SIGTERM or stdin closes."""
    from runtime.bus import Broker, BusPublisher
    from runtime.messages import Control

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # The parent closing our stdin (or dying) ends the process too.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    broker = Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", status_interval_s=1.0)
    broker.start()
    publisher = BusPublisher(broker.publish_endpoint, "bench-controller")
    print(f"ready {broker.publish_endpoint} {broker.subscribe_endpoint}", flush=True)
    seq = 0
    try:
        while not stop.wait(hop_s if seq else 0.0):
            now = time.time()
            publisher.publish(
                "control",
                Control(
                    intensity=1.0 + 0.25 * (seq // 20 % 3),
                    gentle=seq // 40 % 2 == 1,
                    rule="bench",
                    ttl_s=ttl_s,
                    issued_at=now,
                    expires_at=now + ttl_s,
                    safe=False,
                    seq=seq,
                    source_time=now,
                ),
            )
            seq += 1
    finally:
        publisher.close()
        broker.stop()


class ControlSource:
    """The control source process for a ``with`` block: ``publish_endpoint`` (where the
    client reports ``model.status``) and ``subscribe_endpoint`` (where it subscribes)."""

    def __init__(self, hop_s: float | None = None, ttl_s: float | None = None) -> None:
        from runtime.controller import ControllerSettings

        defaults = ControllerSettings()
        self.hop_s = defaults.hop_s if hop_s is None else hop_s
        self.ttl_s = defaults.ttl_s if ttl_s is None else ttl_s
        self._process: subprocess.Popen[str] | None = None
        self.publish_endpoint = ""
        self.subscribe_endpoint = ""

    def __enter__(self) -> ControlSource:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench._control_source", str(self.hop_s), str(self.ttl_s)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().split()
        if len(line) != 3 or line[0] != "ready":
            self.__exit__()
            raise RuntimeError(
                "bench: the control source process did not start (python -m "
                f"bench._control_source printed {line!r}; its error is above)"
            )
        self.publish_endpoint, self.subscribe_endpoint = line[1], line[2]
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


if __name__ == "__main__":
    serve(float(sys.argv[1]), float(sys.argv[2]))
