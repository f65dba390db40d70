"""RepairLog: bounded, JSONL round trip (a torn last line is tolerated), summary, plot."""

from __future__ import annotations

import json
import logging
import math

import pytest
import torch
from torch import nn

from runtime.errors import ConfigError
from runtime.training import GoldenRepair, RepairEvent, RepairLog


def event(step: int, module: str = "fc", nonfinite: int = 1, outliers: int = 2) -> RepairEvent:
    return RepairEvent(
        step=step,
        module=module,
        nonfinite=nonfinite,
        outliers=outliers,
        guard_scaled=step % 2,
        min_similarity=0.5 + step / 100,
        max_entropy_bits=float(step),
        time=1000.0 + step,
    )


def test_log_is_bounded_and_counts_what_it_dropped():
    log = RepairLog(maxlen=5)
    log.extend(event(s) for s in range(8))
    assert len(log) == 5
    assert log.dropped == 3
    assert [e.step for e in log] == [3, 4, 5, 6, 7]


def test_jsonl_mirror_round_trips_every_event(tmp_path):
    path = tmp_path / "repairs.jsonl"
    events = [event(s, module=f"m{s % 3}") for s in range(6)]
    with RepairLog(maxlen=3, path=path) as log:
        log.extend(events)
    loaded = RepairLog.load(path)
    assert loaded.events == events  # the file keeps what memory dropped
    saved = RepairLog.load(log.save(tmp_path / "copy.jsonl"))
    assert saved.events == events[-3:]


def test_torn_last_line_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "repairs.jsonl"
    RepairLog().save(path)
    with RepairLog(path=path) as log:
        log.extend([event(1), event(2)])
    whole = json.dumps(event(3).to_dict())
    with path.open("a") as handle:
        handle.write(whole[: len(whole) // 2])  # a crash in the middle of a write
    with caplog.at_level(logging.WARNING, logger="runtime.training"):
        loaded = RepairLog.load(path)
    assert [e.step for e in loaded] == [1, 2]
    assert "torn last line 3" in caplog.text


def test_corruption_before_the_last_line_is_an_error(tmp_path):
    path = tmp_path / "repairs.jsonl"
    path.write_text("{not json}\n" + json.dumps(event(1).to_dict()) + "\n")
    with pytest.raises(ConfigError, match="line 1"):
        RepairLog.load(path)


@pytest.mark.parametrize("line", ['{"step": 1}', "[1, 2]", "7"], ids=["no-module", "list", "int"])
def test_a_json_line_that_is_not_an_event_before_the_last_is_an_error(tmp_path, line):
    path = tmp_path / "repairs.jsonl"
    path.write_text(line + "\n" + json.dumps(event(1).to_dict()) + "\n")
    with pytest.raises(ConfigError, match=r"line 1 is not a repair event"):
        RepairLog.load(path)


def test_both_readers_share_one_reading_of_the_lines(tmp_path, caplog):
    """RepairLog.load and the checkpoint tools' read_repair_log read the same file the same
    way: blank lines skipped, a torn last line (even before trailing blank lines) skipped,
    and corruption raised as one error that is both a ConfigError and a CheckpointError."""
    from runtime.checkpoint import CheckpointError, RepairLogError, read_repair_log

    path = tmp_path / "repairs.jsonl"
    whole = json.dumps(event(3).to_dict())
    lines = [json.dumps(event(1).to_dict()), "", json.dumps(event(2).to_dict()), whole[:20]]
    path.write_text("\n".join(lines) + "\n\n")
    with caplog.at_level(logging.WARNING, logger="runtime.training"):
        loaded = RepairLog.load(path)
    assert [e.step for e in loaded] == [1, 2]
    assert "RepairLog" in caplog.text and "torn last line 4" in caplog.text
    data = read_repair_log(path)
    assert data.torn and sorted({r.step for r in data.records}) == [1, 2]
    path.write_text(whole[:20] + "\n" + json.dumps(event(2).to_dict()) + "\n")
    for reader in (RepairLog.load, read_repair_log):
        with pytest.raises(RepairLogError, match="line 1 is not JSON") as caught:
            reader(path)
        assert isinstance(caught.value, ConfigError) and isinstance(caught.value, CheckpointError)


def test_an_unreadable_file_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(ConfigError, match=r"RepairLog.load: '.*missing.jsonl' cannot be read"):
        RepairLog.load(missing)


def test_an_event_with_the_old_non_finite_spelling_is_read(tmp_path):
    path = tmp_path / "old.jsonl"
    body = {"step": 3, "module": "fc", "non_finite": 5, "outliers": 2}
    path.write_text(json.dumps(body) + "\n")
    (loaded,) = RepairLog.load(path).events
    assert (loaded.step, loaded.module, loaded.nonfinite, loaded.outliers) == (3, "fc", 5, 2)
    assert "non_finite" not in loaded.to_dict() and loaded.to_dict()["nonfinite"] == 5


def test_summary_totals_match_the_events():
    events = [event(s, module="a" if s < 3 else "b", nonfinite=s, outliers=2 * s) for s in range(5)]
    log = RepairLog()
    log.extend(events)
    summary = log.summary()
    assert summary["events"] == 5
    assert summary["repairs"] == sum(e.nonfinite + e.outliers for e in events)
    assert summary["guard_scaled"] == sum(e.guard_scaled for e in events)
    assert summary["min_similarity"] == min(e.min_similarity for e in events)
    assert summary["modules"]["a"]["nonfinite"] == 0 + 1 + 2
    assert (summary["modules"]["b"]["first_step"], summary["modules"]["b"]["last_step"]) == (3, 4)


def test_plot_writes_a_png(tmp_path):
    log = RepairLog()
    log.extend(event(s, module=m) for s in range(4) for m in ("a", "b"))
    path = log.plot(tmp_path / "repairs.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_golden_repair_feeds_the_log_at_collection(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4))
    log = RepairLog(path=tmp_path / "r.jsonl")
    repair = GoldenRepair(model, log=log)
    x = torch.randn(3, 4)
    x[0, 0] = math.nan  # a NaN input poisons all four outputs of sample 0
    model(x)
    repair.collect(step=1)
    model(torch.randn(3, 4))
    repair.collect(step=2)  # nothing repaired: no event
    log.close()
    assert [(e.step, e.module, e.nonfinite) for e in RepairLog.load(log.path)] == [(1, "0", 4)]
