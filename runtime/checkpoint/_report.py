"""Plain-text reports of a scan and a repair, for the terminal (the CLI prints them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from runtime.checkpoint._detect import ScanResult
from runtime.checkpoint._golden import GoldenRepairReport
from runtime.checkpoint._repair import RepairAction

_MAX_NAME = 40


def format_scan(scan: ScanResult, source: str) -> str:
    """A table of the listed fractures, what the caps left out, and a summary line."""
    scanned = (
        f"{len(scan.tensors)} tensors, {sum(t.numel for t in scan.tensors):,} elements scanned"
    )
    skipped = _skipped(scan)
    if scan.clean:
        return f"no fractures in {source}: {scanned}{skipped}.\n"
    lines = [f"{source}: {scanned}{skipped}", ""]
    lines += _fracture_table(scan.fractures)
    lines += _omissions(scan)
    broken = sum(1 for t in scan.tensors if t.total)
    lines.append("")
    lines.append(
        f"{scan.count:,} fracture{'s' if scan.count != 1 else ''} in {broken} "
        f"tensor{'s' if broken != 1 else ''} (robust z threshold {scan.config.threshold:g}, "
        f"norm {scan.config.norm_decades:g} decades from typical)."
    )
    return "\n".join(lines) + "\n"


def format_repair(report: GoldenRepairReport) -> str:
    """What was repaired, the checks, what remains and what to do about it."""
    repair = report.repair
    lines = [f"golden-repair: {report.input} -> {report.output}"]
    if repair.target is not None:
        t = repair.target
        lines.append(f"target: fracture {t.id}, {t.kind} in {t.tensor} at {_index(t.index)}")
    blends = sum(repair.repaired.values())
    if repair.initial.clean:
        lines.append("nothing to repair: the input has no fractures; wrote an unchanged copy.")
    else:
        by_kind = ", ".join(f"{n:,} {k}" for k, n in repair.repaired.items() if n)
        lines.append(
            f"repaired {blends:,} in {repair.passes_run} pass(es) ({by_kind}); each golden "
            "blend keeps 61.8 % (1/φ) of a weight's distance from its tensor's centre, "
            "non-finite values are replaced by the centre."
        )
        lines.append("")
        lines += _actions(repair.actions)
    lines.append("")
    lines.append("checks:")
    lines.append(
        f"  reloaded {report.output} with weights_only=True: "
        f"{'identical to the repair' if report.reloaded else 'DIFFERS from the repair'}"
    )
    if report.model_class is not None:
        lines.append(f"  load_state_dict(strict=True) into {report.model_class}: ok")
        if report.forward_after is not None and report.forward_before is not None:
            lines.append(
                f"  forward pass: before {report.forward_before.describe()}, "
                f"after {report.forward_after.describe()}"
            )
        else:
            lines.append("  forward pass: not run (give --input-shape to run one)")
    remaining = repair.remaining
    lines.append("")
    if remaining.clean:
        lines.append("remaining: none.")
    else:
        lines.append(f"remaining: {remaining.count:,} fracture(s):")
        lines += _fracture_table(remaining.fractures)
        lines += _omissions(remaining)
    for hint in repair.hints:
        lines.append(f"note: {hint}")
    return "\n".join(lines) + "\n"


def _actions(actions: Sequence[RepairAction]) -> list[str]:
    return _table(
        ("pass", "kind", "tensor", "index", "before", "after"),
        (
            (
                str(a.pass_number),
                a.kind,
                _name(a.tensor),
                _index(a.index),
                _number(a.before),
                _number(a.after),
            )
            for a in actions
        ),
    )


def _fracture_table(fractures: Any) -> list[str]:
    """The table of fractures, one row each, as both reports print it."""
    return _table(
        ("id", "kind", "tensor", "index", "value", "score"),
        (
            (
                str(f.id),
                f.kind,
                _name(f.tensor),
                _index(f.index),
                _number(f.value),
                "-" if f.score is None else _number(f.score),
            )
            for f in fractures
        ),
    )


def _omissions(scan: ScanResult) -> list[str]:
    return [
        f"  ... and {o['count'] - o['reported']:,} more {o['kind']} in {o['tensor']} (listing "
        f"the first {o['reported']}; raise --max-per-tensor to see more; golden-repair "
        "repairs all of them)"
        for o in scan.omitted
    ]


def _skipped(scan: ScanResult) -> str:
    parts = []
    if scan.skipped_non_tensor:
        parts.append(f"{len(scan.skipped_non_tensor)} non-tensor entries")
    if scan.skipped_non_float:
        parts.append(f"{len(scan.skipped_non_float)} non-float tensors")
    return f" (skipped {' and '.join(parts)})" if parts else ""


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    body = [list(header)] + [list(row) for row in rows]
    widths = [max(len(row[i]) for row in body) for i in range(len(header))]
    right = {0}
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in body
    ]


def _number(value: float) -> str:
    return f"{value:.6g}"


def _index(index: tuple[int, ...] | None) -> str:
    return "-" if index is None else "[" + ", ".join(map(str, index)) + "]"


def _name(name: str) -> str:
    return name if len(name) <= _MAX_NAME else "…" + name[-(_MAX_NAME - 1) :]
