"""Floors and peers for the latency benchmarks: none of our code on the timed path.

* :func:`measure_floor`: raw pyzmq over the pipeline's hops (publisher → broker → relay →
  broker → relay → broker → subscriber; the driver, feature and controller stages each
  cross the broker once), timed from the send (``perf_counter``).
* :func:`measure_board_peers`: BrainFlow's synthetic board read every ``poll_interval_s``
  (the driver's 20 ms), each chunk pushed at once to a pylsl ``StreamOutlet`` (with the
  newest sample's BrainFlow timestamp, moved onto LSL's clock) and sent through the same
  raw pyzmq hops; timed from that sample's timestamp to the pull at a ``StreamInlet`` and to
  the receive at a zmq subscriber. Both include the board's buffering and the poll, as the
  ``board_to_*`` keys do.
"""

from __future__ import annotations

import struct
import threading
import time
import uuid
from typing import Any

import numpy as np
import zmq

from bench._common import summarise_ms


class _RelayChain:
    """An XSUB/XPUB proxy and two relays (raw → feat → ctrl), all in their own threads."""

    def ends(self) -> tuple[zmq.Socket, zmq.Socket]:
        """A PUB into the chain's first hop and a SUB on its last topic (``ctrl``)."""
        pub = self.ctx.socket(zmq.PUB)
        pub.connect(self.pub_ep)
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"ctrl")
        sub.connect(self.sub_ep)
        return pub, sub

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        front, back = self.ctx.socket(zmq.XSUB), self.ctx.socket(zmq.XPUB)
        front.bind("tcp://127.0.0.1:*")
        back.bind("tcp://127.0.0.1:*")
        self.pub_ep = front.getsockopt_string(zmq.LAST_ENDPOINT)
        self.sub_ep = back.getsockopt_string(zmq.LAST_ENDPOINT)
        self._proxy = threading.Thread(target=_proxy, args=(front, back), daemon=True)
        self._proxy.start()
        self._stop = threading.Event()
        self._relays = [
            threading.Thread(
                target=_relay,
                args=(self.ctx, self.pub_ep, self.sub_ep, a, b, self._stop),
                daemon=True,
            )
            for a, b in ((b"raw", b"feat"), (b"feat", b"ctrl"))
        ]
        for relay in self._relays:
            relay.start()

    def close(self) -> None:
        self._stop.set()
        for relay in self._relays:
            relay.join()
        self.ctx.term()  # ends zmq.proxy with ETERM; the proxy thread closes its sockets
        self._proxy.join()


def measure_floor(n: int, payload_bytes: int) -> list[float]:
    """Raw pyzmq over the same hops: 3 broker crossings and 2 relays; ms per message."""
    chain = _RelayChain()
    pub, sub = chain.ends()
    payload = b"x" * payload_bytes
    time.sleep(0.5)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        pub.send_multipart([b"raw", payload])
        if not sub.poll(1000):
            continue
        sub.recv_multipart()
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.005)
    for sock in (pub, sub):
        sock.close(linger=0)
    chain.close()
    return out


def _proxy(front: zmq.Socket, back: zmq.Socket) -> None:
    try:
        zmq.proxy(front, back)
    except zmq.ContextTerminated:
        front.close(linger=0)
        back.close(linger=0)


def _relay(
    ctx: zmq.Context,
    pub_ep: str,
    sub_ep: str,
    topic_in: bytes,
    topic_out: bytes,
    stop: threading.Event,
) -> None:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, topic_in)
    sub.connect(sub_ep)
    pub = ctx.socket(zmq.PUB)
    pub.connect(pub_ep)
    while not stop.is_set():
        if sub.poll(100):
            frames = sub.recv_multipart()
            pub.send_multipart([topic_out, frames[1][:256]])  # the first 8 bytes: t_last
    sub.close(linger=0)
    pub.close(linger=0)


def measure_board_peers(seconds: float, poll_interval_s: float = 0.02) -> dict[str, Any]:
    """The synthetic board → LSL outlet → inlet, and → raw pyzmq over the same hops.

    Keys (ms): ``peer_lsl_sample_to_pull_*`` (newest sample's timestamp → pulled),
    ``peer_zmq_sample_to_receive_*`` (→ received after 3 broker crossings),
    ``peer_board_buffer_poll_*`` (→ read from BrainFlow's buffer: the part both share).
    """
    import pylsl
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

    BoardShim.disable_board_logger()
    board_id = BoardIds.SYNTHETIC_BOARD
    eeg_rows = BoardShim.get_eeg_channels(board_id)
    ts_row = BoardShim.get_timestamp_channel(board_id)
    fs = BoardShim.get_sampling_rate(board_id)
    info = pylsl.StreamInfo(
        "kintsugi-bench-peer", "EEG", len(eeg_rows), fs, pylsl.cf_float32, uuid.uuid4().hex
    )
    outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=60)
    found = pylsl.resolve_byprop("source_id", info.source_id(), timeout=5.0)
    if not found:
        raise RuntimeError("the LSL peer's inlet did not find its own outlet on loopback")
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=5.0)
    chain = _RelayChain()
    pub, sub = chain.ends()
    lsl_ms: list[float] = []
    zmq_ms: list[float] = []
    read_ms: list[float] = []
    pushed_ends: set[float] = set()
    stop = threading.Event()
    measuring = threading.Event()

    def pull_lsl() -> None:
        # pull_sample returns as soon as a sample is there (pull_chunk with a timeout waits
        # for max_samples); the rest of the chunk, pushed at once, is drained without waiting.
        while not stop.is_set():
            _, stamp = inlet.pull_sample(timeout=0.1)
            if stamp is None:
                continue
            _, stamps = inlet.pull_chunk(timeout=0.0)
            now = pylsl.local_clock()
            newest = stamps[-1] if stamps else stamp
            # Only a chunk's own newest sample (a chunk split in transit counts when its
            # rest arrives; the earlier samples' stamps are LSL's, derived from the rate).
            if measuring.is_set() and round(newest, 6) in pushed_ends:
                lsl_ms.append((now - newest) * 1e3)

    def receive_zmq() -> None:
        while not stop.is_set():
            if sub.poll(100):
                frames = sub.recv_multipart()
                if measuring.is_set():
                    (t_last,) = struct.unpack("<d", frames[1][:8])
                    zmq_ms.append((time.time() - t_last) * 1e3)

    readers = [threading.Thread(target=f, daemon=True) for f in (pull_lsl, receive_zmq)]
    for reader in readers:
        reader.start()
    board = BoardShim(board_id, BrainFlowInputParams())
    board.prepare_session()
    try:
        board.start_stream()
        time.sleep(1.0)  # LSL and zmq connected, the board streaming
        board.get_board_data()
        measuring.set()
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            data = board.get_board_data()
            now = time.time()
            if data.shape[1]:
                t_last = float(data[ts_row, -1])
                read_ms.append((now - t_last) * 1e3)
                chunk = np.ascontiguousarray(data[eeg_rows].T, dtype=np.float32)
                payload = struct.pack("<d", t_last) + chunk.tobytes()
                # Alternate which transport gets the chunk first, so neither waits on the other.
                lsl_t_last = t_last - time.time() + pylsl.local_clock()  # on LSL's clock
                pushed_ends.add(round(lsl_t_last, 6))
                if n % 2 == 0:
                    outlet.push_chunk(chunk, timestamp=lsl_t_last)
                    pub.send_multipart([b"raw", payload])
                else:
                    pub.send_multipart([b"raw", payload])
                    outlet.push_chunk(chunk, timestamp=lsl_t_last)
                n += 1
            time.sleep(poll_interval_s)
        time.sleep(0.2)  # the last chunks arrive
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        board.stop_stream()
        board.release_session()
        inlet.close_stream()
        for sock in (pub, sub):
            sock.close(linger=0)
        chain.close()
    return {
        **summarise_ms(lsl_ms, "peer_lsl_sample_to_pull"),
        **summarise_ms(zmq_ms, "peer_zmq_sample_to_receive"),
        **summarise_ms(read_ms, "peer_board_buffer_poll"),
    }
