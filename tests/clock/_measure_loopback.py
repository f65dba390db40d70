"""Measure the clock estimate on a real broker on loopback, for docs/clocks.md.

    .venv/bin/python -m tests.clock._measure_loopback --seconds 120 --rate 4

A responder thread whose clock is real time + 250 ms + 50 ppm of the time since start, the
requester on the real clock; prints each ``status.clock`` (every 0.5 s) and a summary of
the error from 10 s on. Not a test: a measurement, taken under whatever load the machine has.
"""

from __future__ import annotations

import argparse
import threading
import time

from runtime.bus import Broker, BusSubscriber
from runtime.clock import STATUS_TOPIC, ClockMaps, ClockRequesterStage, ClockResponderStage
from runtime.messages import ClockStatus
from runtime.stages import StageContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second")
    args = parser.parse_args()
    broker = Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", status_interval_s=0.2)
    broker.start()
    start = time.time()

    def true_offset_s(hub_time: float) -> float:
        return 0.250 + 50e-6 * (hub_time - start)

    def sensor_clock() -> float:
        real = time.time()
        return real + true_offset_s(real)

    stop = threading.Event()
    stages = {
        "clock-responder": ClockResponderStage("P01", clock=sensor_clock),
        "clock": ClockRequesterStage(rate_hz=args.rate, status_interval_s=0.5),
    }
    threads = [
        threading.Thread(target=stage, args=(StageContext(
            name, broker.publish_endpoint, broker.subscribe_endpoint, stop),))
        for name, stage in stages.items()
    ]
    for thread in threads:
        thread.start()
    reader = BusSubscriber(broker.subscribe_endpoint, (STATUS_TOPIC,))
    maps = ClockMaps()
    rows = []
    end = time.monotonic() + args.seconds
    try:
        while time.monotonic() < end:
            message = reader.recv(timeout_s=0.5)
            if message is None or not isinstance(message.data, ClockStatus):
                continue
            entry = message.data.sensors.get("P01")
            if entry is None:
                continue
            maps.update(message.data)
            hub_now, stamped = time.time(), sensor_clock()
            error_ms = entry.offset_ms - true_offset_s(entry.at_time) * 1e3
            map_ms = (maps.to_hub("P01", stamped) - hub_now) * 1e3
            rows.append((entry.at_time - start, error_ms, entry.uncertainty_ms, entry.drift_ppm))
            print(f"{entry.at_time - start:6.1f} s  error {error_ms:+.3f} ms  "
                  f"± {entry.uncertainty_ms:.3f}  drift {entry.drift_ppm:5.1f} ppm  "
                  f"rtt {entry.last_rtt_ms:.3f} (min {entry.min_rtt_ms:.3f}) ms  "
                  f"n={entry.samples} kept={entry.kept}  mapped now {map_ms:+.3f} ms")
    finally:
        stop.set()
        for thread in threads:
            thread.join(5.0)
        reader.close()
        broker.stop()
    late = [r for r in rows if r[0] >= 10.0]
    if late:
        print(f"from 10 s: error {min(r[1] for r in late):+.3f}..{max(r[1] for r in late):+.3f} ms,"
              f" uncertainty ≤ {max(r[2] for r in late):.3f} ms over {len(late)} reports")


if __name__ == "__main__":
    main()
