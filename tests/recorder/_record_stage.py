"""Run a broker and a recorder stage until killed: ``python -m tests.recorder._record_stage
PUB SUB DIR`` (the broker binds PUB and SUB; the recorder writes DIR).

Used by the per-person crash test, which publishes chunks of two persons into the broker
and then sends this process SIGKILL (no clean-up at all, as in a crash).
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from pathlib import Path


def main() -> None:
    warnings.simplefilter("ignore")
    from runtime.bus import Broker
    from runtime.config import Config
    from runtime.recorder import RecorderStage
    from runtime.stages import StageContext

    publish, subscribe, directory = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    broker = Broker(publish, subscribe, status_interval_s=0.2)
    broker.start()
    stage = RecorderStage(directory, Config(), status_interval_s=0.2)
    context = StageContext("recorder", publish, subscribe, threading.Event())
    threading.Thread(target=stage, args=(context,), daemon=True).start()
    if not context.ready.wait(10):
        raise SystemExit("the recorder did not become ready within 10 s")
    print("recording", flush=True)
    while True:
        time.sleep(1.0)


if __name__ == "__main__":
    main()
