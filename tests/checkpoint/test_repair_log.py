"""Reading repair logs: both record shapes, unknown keys, a torn last line, corruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.checkpoint import CheckpointError, RepairRecord, read_repair_log


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_kind_records_with_count_or_index_and_unknown_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "repairs.jsonl",
        [
            json.dumps({"tensor": "enc.weight", "kind": "outlier", "count": 3, "step": 10}),
            json.dumps(
                {"module": "enc", "kind": "nonfinite", "index": [4, 17], "step": 11, "why": "x"}
            ),
            "",
            json.dumps({"name": "dec.bias", "kind": "custom", "index": 5, "shape": [8]}),
        ],
    )
    log = read_repair_log(path)
    assert log.records == [
        RepairRecord("enc.weight", "outlier", 3, 10, None, None),
        RepairRecord("enc", "nonfinite", 1, 11, (4, 17), None),
        RepairRecord("dec.bias", "custom", 1, 4, (5,), (8,)),  # no step: its line number
    ]
    assert log.repairs == 5 and not log.torn and log.ignored == 0


def test_training_repair_log_aggregates_are_split_by_kind(tmp_path: Path) -> None:
    event = {
        "step": 40,
        "module": "blocks.1.mlp",
        "nonfinite": 2,
        "outliers": 17,
        "guard_scaled": 1,
        "min_similarity": 0.93,
        "intensity": 1.5,
        "gentle": False,
        "time": 1.0,
    }
    quiet = dict(event, step=41, nonfinite=0, outliers=0)
    log = read_repair_log(_write(tmp_path / "r.jsonl", [json.dumps(event), json.dumps(quiet)]))
    assert log.records == [
        RepairRecord("blocks.1.mlp", "nonfinite", 2, 40),
        RepairRecord("blocks.1.mlp", "outlier", 17, 40),
    ]


def test_the_old_non_finite_spelling_is_read_as_nonfinite(tmp_path: Path) -> None:
    """Logs written before the spelling was settled: a ``non_finite`` kind, and an aggregate
    event with a ``non_finite`` count, both read as ``nonfinite``."""
    path = _write(
        tmp_path / "old.jsonl",
        [
            json.dumps({"module": "enc", "kind": "non_finite", "index": [4, 17], "step": 11}),
            json.dumps({"step": 12, "module": "dec", "non_finite": 3, "outliers": 1}),
        ],
    )
    assert read_repair_log(path).records == [
        RepairRecord("enc", "nonfinite", 1, 11, (4, 17), None),
        RepairRecord("dec", "nonfinite", 3, 12),
        RepairRecord("dec", "outlier", 1, 12),
    ]


def test_real_training_repair_log_file_is_read(tmp_path: Path) -> None:
    """The file runtime.training.RepairLog writes is drawn without translation."""
    training = pytest.importorskip("runtime.training")
    if not hasattr(training, "RepairLog") or not hasattr(training, "RepairEvent"):
        pytest.skip("runtime.training does not export RepairLog/RepairEvent yet")
    path = tmp_path / "train.jsonl"
    with training.RepairLog(path=path) as log:
        log.append(training.RepairEvent(step=5, module="fc1", nonfinite=1, outliers=4))
        log.append(training.RepairEvent(step=9, module="fc2", nonfinite=0, outliers=2))
    records = read_repair_log(path).records
    assert [(r.tensor, r.kind, r.count, r.step) for r in records] == [
        ("fc1", "nonfinite", 1, 5),
        ("fc1", "outlier", 4, 5),
        ("fc2", "outlier", 2, 9),
    ]


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "torn.jsonl"
    good = json.dumps({"tensor": "a", "kind": "outlier", "count": 2, "step": 1})
    path.write_text(good + "\n" + '{"tensor": "b", "kind": "out', encoding="utf-8")
    log = read_repair_log(path)
    assert [r.tensor for r in log.records] == ["a"] and log.torn


def test_corrupt_middle_line_names_the_line(tmp_path: Path) -> None:
    good = json.dumps({"tensor": "a", "kind": "outlier", "step": 1})
    path = _write(tmp_path / "bad.jsonl", [good, "not json at all", good])
    with pytest.raises(CheckpointError, match="line 2 is not JSON"):
        read_repair_log(path)


def test_objects_that_are_not_records_are_ignored(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mixed.jsonl",
        [
            json.dumps({"schema": "repairs", "version": 1}),
            json.dumps([1, 2, 3]),
            json.dumps({"tensor": "a", "kind": "outlier", "step": 1}),
        ],
    )
    log = read_repair_log(path)
    assert len(log.records) == 1 and log.ignored == 2
