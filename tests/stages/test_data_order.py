"""The feature stage's release order: data time, then stream, whatever the chunking; a
silent stream holds the others back for ``wait_s`` at most."""

from __future__ import annotations

import numpy as np

from runtime.stages._data_order import DataTimeOrder

FS = 250.0
EEG, PPG = "raw.eeg", "raw.ppg"


def _estimates(start: int, n: int, hop: int) -> list[tuple[float, str]]:
    """Window ends (every ``hop`` samples) inside samples [start, start + n)."""
    first = (start // hop + 1) * hop
    return [(end / FS, f"{end}") for end in range(first, start + n + 1, hop)]


def _run(chunk_sizes: list[int]) -> list[str]:
    """EEG (hop 62) and PPG (hop 250) chunks of the given sizes, each read published EEG
    first as the driver does; the order in which the items come out."""
    order = DataTimeOrder((EEG, PPG))
    out: list[str] = []
    start = 0
    for n in chunk_sizes:
        eeg = [(t, f"attention@{i}") for t, i in _estimates(start, n, 62)]
        ppg = [(t, f"stress@{i}") for t, i in _estimates(start, n, 250)]
        out += order.add(EEG, n, FS, eeg, now=0.0)
        out += order.add(PPG, n, FS, ppg, now=0.0)
        start += n
    return out


def test_the_release_order_is_the_same_for_any_chunking():
    total = 5000
    small = [5] * (total // 5)  # a live board: 20 ms reads
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(np.arange(1, total), size=7, replace=False))
    large = np.diff(np.concatenate(([0], cuts, [total]))).tolist()  # a flat-out replay
    expected = sorted(
        [(int(i) / FS, 0, f"attention@{i}") for i in range(62, total + 1, 62)]
        + [(int(i) / FS, 1, f"stress@{i}") for i in range(250, total + 1, 250)]
    )
    assert _run(small) == [name for *_, name in expected]
    assert _run(large) == _run(small)
    assert _run([total]) == _run(small)


def test_without_the_order_a_large_chunk_puts_attention_ahead_of_stress():
    """What the order is for: a 1000-sample read gives attention up to 4 s before the
    stress at 1 s, while 5-sample reads give that stress first."""
    order = DataTimeOrder((EEG, PPG))
    held = order.add(EEG, 1000, FS, [(t, i) for t, i in _estimates(0, 1000, 62)], now=0.0)
    assert held == []  # PPG has not consumed those samples yet
    released = order.add(PPG, 1000, FS, [(t, f"s{i}") for t, i in _estimates(0, 1000, 250)],
                         now=0.0)
    assert released.index("s250") < released.index("310")  # stress at 1.0 s before 1.24 s


def test_a_silent_stream_stops_holding_the_others_after_wait_s():
    order = DataTimeOrder((EEG, PPG), wait_s=1.0)
    assert order.add(EEG, 500, FS, [(1.0, "a")], now=10.0) == []  # PPG might still come
    assert order.release_idle(now=10.5) == []
    assert order.release_idle(now=11.0) == ["a"]  # PPG never sent anything: not awaited
    # A stream that streams keeps being awaited; one that stops is dropped after wait_s.
    order = DataTimeOrder((EEG, PPG), wait_s=1.0)
    order.add(EEG, 250, FS, [], now=0.0)
    order.add(PPG, 250, FS, [], now=0.0)
    assert order.add(EEG, 250, FS, [(2.0, "b")], now=0.5) == []
    assert order.release_idle(now=0.9) == []
    assert order.release_idle(now=1.0) == ["b"]


def test_one_stream_alone_is_never_held():
    order = DataTimeOrder((EEG,))
    assert order.add(EEG, 250, FS, [(1.0, "a")], now=0.0) == ["a"]
