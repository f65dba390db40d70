"""Device access through BrainFlow: boards by name, streaming of every preset, drop counting.

Nothing here knows the bus exists; the runtime's driver stage publishes what it reads.
"""

from drivers._boards import (
    BOARDS,
    MASTER_BOARDS,
    BoardSpec,
    StreamLayout,
    board_descr,
    board_presets,
    describe_presets,
    lookup_board,
)
from drivers._errors import DeviceError, DeviceLostError, DeviceNotFoundError
from drivers._source import (
    BrainFlowSource,
    Chunk,
    SourceSettings,
    count_dropped,
    open_source,
    set_brainflow_logging,
)
from drivers._streams import RawStream, plan_raw_streams

__all__ = [
    "BOARDS",
    "MASTER_BOARDS",
    "RawStream",
    "BoardSpec",
    "BrainFlowSource",
    "Chunk",
    "DeviceError",
    "DeviceLostError",
    "DeviceNotFoundError",
    "SourceSettings",
    "StreamLayout",
    "board_descr",
    "board_presets",
    "count_dropped",
    "describe_presets",
    "lookup_board",
    "open_source",
    "plan_raw_streams",
    "set_brainflow_logging",
]
