"""Run a daemon with the recorder until killed: ``python -m tests.lab._record_daemon CONFIG DIR``.

Used by the crash test, which sends it SIGKILL (no clean-up at all, as in a crash).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path


def main() -> None:
    warnings.simplefilter("ignore")
    from drivers import set_brainflow_logging
    from runtime.config import load_config
    from runtime.daemon import Daemon
    from runtime.recorder import RecorderStage

    set_brainflow_logging(False)
    config = load_config(sys.argv[1])
    directory = Path(sys.argv[2])
    daemon = Daemon(config, extra_stages={"recorder": RecorderStage(directory, config)},
                    board_rows=True)
    daemon.start()
    print("recording", flush=True)
    while True:
        time.sleep(1.0)


if __name__ == "__main__":
    main()
