"""A subscriber run inside the hub's namespace: one JSON line per raw chunk it receives.

``python -m tests.net._observer ENDPOINT KEYS_DIR KEY_NAME [PREFIXES]`` prints ``ready``
once the broker has registered it, then ``{"person", "publisher", "topic", "first_index",
"n", "t"}`` per ``raw.*`` message (``t``: CLOCK_MONOTONIC, which every namespace shares)
and ``{"topic", "publisher", "t", "body"}`` per message of the other comma-separated topic
PREFIXES (default: ``raw.`` alone; ``body`` is the typed body's dict) until SIGINT/SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys
import time

from runtime.bus import BusSubscriber, CurveKeys
from runtime.messages import RawChunk
from runtime.stages import confirm_subscribed


def main(endpoint: str, keys_dir: str, key_name: str, prefixes: str = "raw.") -> int:
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    subscriber = BusSubscriber(
        endpoint, tuple(prefixes.split(",")), curve=CurveKeys.load(keys_dir, key_name), hwm=100_000
    )
    confirm_subscribed(subscriber, timeout_s=20.0)
    print("ready", flush=True)
    while not stop:
        message = subscriber.recv(timeout_s=0.1)
        if message is None:
            continue
        if not isinstance(message.data, RawChunk):
            if not message.topic.startswith("raw.") and hasattr(message.data, "to_dict"):
                print(json.dumps({
                    "topic": message.topic, "publisher": message.publisher,
                    "t": time.monotonic(), "body": message.data.to_dict(),
                }), flush=True)
            continue
        chunk = message.data
        n = 0 if message.array is None else int(message.array.shape[1])
        print(json.dumps({
            "person": chunk.person, "publisher": message.publisher, "topic": message.topic,
            "first_index": chunk.first_index, "n": n, "t": time.monotonic(),
        }), flush=True)
    subscriber.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
