"""A client in its own namespace that tries the hub without an authorized key.

``python -m tests.net._intruder PUBLISH SUBSCRIBE SECONDS [KEYS_DIR KEY_NAME]``: for
SECONDS it publishes ``raw.eeg`` chunks naming person X99 and counts every message its
subscriber (all topics) receives; prints ``{"published": N, "received": M}``. Without
KEYS_DIR it uses no CURVE at all; with it, that certificate (unknown to the hub).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from runtime.bus import BusPublisher, BusSubscriber, CurveKeys
from runtime.messages import RawChunk


def main(publish: str, subscribe: str, seconds: str, *key: str) -> int:
    curve = CurveKeys.load(key[0], key[1]) if key else None
    publisher = BusPublisher(publish, "intruder", curve=curve)
    subscriber = BusSubscriber(subscribe, ("",), curve=curve)
    payload = np.zeros((1, 5), np.float32)
    published = received = 0
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        body = RawChunk(preset="default", fs=250.0, channels=("C1",),
                        first_index=published * 5, person="X99")
        publisher.publish("raw.eeg", body, array=payload)
        published += 1
        while subscriber.recv(timeout_s=0.02) is not None:
            received += 1
    publisher.close()
    subscriber.close()
    print(json.dumps({"published": published, "received": received}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
