"""Does GoldenRepair stay out of the way on healthy runs, and does it rescue faulted ones?

Run: ``python -m bench.bench_repair`` (``--quick``: 2 seeds, 200 steps; full: 5 seeds, 600
steps). Three small offline tasks (``bench/_repair_tasks.py``): scikit-learn's digits with
an MLP and with a small CNN, and a one-block character transformer on text that ships
with Python. Each is trained with Adam, torch on one thread, seeds 0…n−1 (initialisation
and batch order), with the repair off, on (intensity 1, gentle mode off), at intensity 1.5,
and in gentle mode (intensity 1, threshold ×1.5, intensity capped at 1/φ). The quick form
trains 200 steps instead of 300 so that it fits a quick suite run (≈ 60 s on this 2-core
machine at load average 1.5–3; the 300-step form took ≈ 90 s).

* **Clean runs** (no fault): ``repair_clean_false_positive_rate`` is repaired elements per
  checked activation (every forward through a repaired layer, training and evaluation);
  target ≤ 0.001. ``repair_clean_quality_delta_pct_<task>`` is the final test accuracy with
  the repair on minus off, in % of off, averaged over seeds; beside it
  ``repair_clean_quality_spread_pct_<task>``, the standard deviation of the no-repair
  seeds' accuracy in % of their mean: "within seed noise" is |delta| ≤ spread.
  ``repair_clean_quality_delta_pct`` is the largest |delta| over the tasks (signed).
* **Faulted runs**: one fault kind per run. ``nan``, ``inf``, ``spike_1e4``, ``spike_1e6``:
  at 3 random steps in the middle of training, 1 % of one random hidden layer's outputs
  are set to NaN, ±Inf or ±1e4/±1e6 (before the repair sees them). ``lr_burst``: the
  learning rate ×1000 for 3 consecutive steps. A run is *rescued* when its final test loss
  is finite and its accuracy is at least 98 % of the clean no-repair run of the same seed
  (for the transformer: next-character accuracy). ``repair_rescue_rate`` (repair on),
  ``repair_rescue_rate_without``, ``repair_rescue_rate_intensity_1_5`` and
  ``repair_rescue_rate_gentle`` are shares over every task, seed and fault kind; each has
  a ``_<kind>`` variant per fault kind. ``repair_spikes_left`` (``_intensity_1_5``,
  ``_gentle``): of the spike values injected in the ``spike_1e4`` and ``spike_1e6`` runs
  with the repair, how many were still beyond its threshold band after it (0 when none
  survives in any share; :class:`bench._repair_tasks.SpikeAudit`), beside
  ``repair_spikes_audited``, the values injected in those runs (per setting).
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import time
from typing import Any

import torch
from torch import nn

from bench._repair_tasks import (
    FAULT_KINDS,
    SPIKES,
    LearningRateBurst,
    SpikeAudit,
    Task,
    install_faults,
    make_tasks,
)
from runtime.training import GoldenRepair

#: Repair settings: name → (intensity, gentle), or None for no repair.
MODES: dict[str, tuple[float, bool] | None] = {
    "without": None,
    "on": (1.0, False),
    "intensity_1_5": (1.5, False),
    "gentle": (1.0, True),
}
BURST_FACTOR, FAULT_STEPS = 1000.0, 3
RESCUE_SHARE = 0.98  # of the clean run's accuracy


def plan_faults(kind: str, seed: int, steps: int, layers: tuple[str, ...]) -> tuple[str, list[int]]:
    """The layer and steps a fault hits (deterministic for the kind, seed and length)."""
    rng = random.Random(seed * 1000 + FAULT_KINDS.index(kind))
    layer = rng.choice(layers)
    if kind == "lr_burst":
        start = rng.randrange(steps // 4, steps // 2)
        return layer, list(range(start, start + FAULT_STEPS))
    return layer, sorted(rng.sample(range(steps // 4, steps - steps // 5), FAULT_STEPS))


def evaluate(model: nn.Module, task: Task) -> tuple[float, float]:
    """Test cross-entropy and accuracy (argmax; per character for the transformer)."""
    model.eval()
    losses, correct, count = [], 0, 0
    with torch.no_grad():
        for start in range(0, len(task.x_test), 256):
            logits = model(task.x_test[start : start + 256])
            target = task.y_test[start : start + 256]
            logits, target = logits.reshape(-1, logits.shape[-1]), target.reshape(-1)
            losses.append(nn.functional.cross_entropy(logits, target, reduction="sum").item())
            correct += int((logits.argmax(-1) == target).sum())
            count += target.numel()
    model.train()
    return sum(losses) / count, correct / count


def train_once(task: Task, seed: int, steps: int, mode: str, fault: str | None) -> dict[str, Any]:
    """One run: final test loss and accuracy, repairs and checked activations."""
    torch.manual_seed(seed)
    model = task.make_model()
    layer, fault_steps = plan_faults(fault, seed, steps, task.layers) if fault else (None, [])
    activation_fault = fault if fault != "lr_burst" else None
    wrappers = install_faults(model, task.layers, layer, activation_fault, fault_steps, seed)
    repair = audit = None
    if MODES[mode] is not None:
        repair = GoldenRepair(model, list(task.layers))
        repair.apply_control(*MODES[mode])
        if fault in SPIKES:
            (faulty,) = [w for w in wrappers if w.kind is not None]
            audit = SpikeAudit(dict(model.named_modules())[layer], layer, faulty, repair)
    optimizer = torch.optim.Adam(model.parameters(), lr=task.lr)
    burst = LearningRateBurst(optimizer, BURST_FACTOR, fault_steps if fault == "lr_burst" else ())
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        for wrapper in wrappers:
            wrapper.step = step
        burst.apply(step)
        idx = torch.randint(0, len(task.x_train), (task.batch,), generator=generator)
        logits = model(task.x_train[idx])
        target = task.y_train[idx]
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test_loss, accuracy = evaluate(model, task)
    repairs = spikes = 0
    if repair is not None:
        summary = repair.summary()
        repairs, spikes = summary["repairs"], summary["spikes"]
        repair.remove()
    return {
        "loss": test_loss,
        "accuracy": accuracy,
        "repairs": repairs,
        "spikes": spikes,
        "checked": sum(w.elements for w in wrappers),
        "fired": sum(len(w.fired) for w in wrappers),
        "injected": sum(w.injected for w in wrappers),
        "spikes_left": None if audit is None else audit.left,
        "spikes_audited": None if audit is None else audit.audited,
    }


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else math.nan


def run(
    quick: bool, seeds: int | None = None, steps: int | None = None,
    tasks: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Every key of the module docstring, plus ``detail`` (per task, mode and fault)."""
    torch.set_num_threads(1)
    logging.getLogger("runtime.training").setLevel(logging.WARNING)
    n_seeds = seeds or (2 if quick else 5)
    n_steps = steps or (200 if quick else 600)
    started = time.perf_counter()
    result: dict[str, Any] = {"seeds": n_seeds, "steps": n_steps}
    detail: dict[str, Any] = {}
    rescued: dict[tuple[str, str], list[bool]] = {}
    fp_repairs: dict[str, int] = dict.fromkeys(MODES, 0)
    fp_checked: dict[str, int] = dict.fromkeys(MODES, 0)
    deltas: dict[str, float] = {}
    spikes_left: dict[str, int] = dict.fromkeys(MODES, 0)  # spike faults, with repair
    spikes_audited: dict[str, int] = dict.fromkeys(MODES, 0)
    for name, task in make_tasks(tasks).items():
        task_start = time.perf_counter()
        clean = {
            mode: [train_once(task, s, n_steps, mode, None) for s in range(n_seeds)]
            for mode in MODES
        }
        for mode, runs in clean.items():
            fp_repairs[mode] += sum(r["repairs"] for r in runs)
            fp_checked[mode] += sum(r["checked"] for r in runs)
        off = [r["accuracy"] for r in clean["without"]]
        on = [r["accuracy"] for r in clean["on"]]
        delta = statistics.mean((b - a) / a * 100 for a, b in zip(off, on, strict=True))
        spread = statistics.stdev(off) / statistics.mean(off) * 100 if len(off) > 1 else 0.0
        deltas[name] = delta
        result[f"repair_clean_quality_delta_pct_{name}"] = delta
        result[f"repair_clean_quality_spread_pct_{name}"] = spread
        result[f"repair_clean_accuracy_{name}"] = statistics.mean(off)
        faulted: dict[str, Any] = {}
        for kind in FAULT_KINDS:
            for mode in MODES:
                runs = [train_once(task, s, n_steps, mode, kind) for s in range(n_seeds)]
                flags = [
                    math.isfinite(r["loss"]) and r["accuracy"] >= RESCUE_SHARE * ref["accuracy"]
                    for r, ref in zip(runs, clean["without"], strict=True)
                ]
                rescued.setdefault((mode, kind), []).extend(flags)
                if kind in SPIKES and MODES[mode] is not None:
                    spikes_left[mode] += sum(r["spikes_left"] for r in runs)
                    spikes_audited[mode] += sum(r["spikes_audited"] for r in runs)
                faulted[f"{kind}/{mode}"] = {
                    "rescued": sum(flags),
                    "accuracy": [round(r["accuracy"], 4) for r in runs],
                    "repairs": [r["repairs"] for r in runs],
                    "spikes": [r["spikes"] for r in runs],
                    "injected": [r["injected"] for r in runs],
                    "spikes_left": [r["spikes_left"] for r in runs],
                    "fired": [r["fired"] for r in runs],
                }
        detail[name] = {
            "clean": {
                mode: {
                    "accuracy": [round(r["accuracy"], 4) for r in runs],
                    "loss": [round(r["loss"], 4) for r in runs],
                    "repairs": [r["repairs"] for r in runs],
                    "checked": [r["checked"] for r in runs],
                }
                for mode, runs in clean.items()
            },
            "faulted": faulted,
            "wall_s": time.perf_counter() - task_start,
        }
    for mode in MODES:
        if mode != "without":
            suffix = "" if mode == "on" else f"_{mode}"
            rate = fp_repairs[mode] / max(fp_checked[mode], 1)
            result[f"repair_clean_false_positive_rate{suffix}"] = rate
    result["repair_clean_quality_delta_pct"] = max(deltas.values(), key=abs)
    for mode in MODES:
        if MODES[mode] is not None:
            suffix = "" if mode == "on" else f"_{mode}"
            result[f"repair_spikes_left{suffix}"] = spikes_left[mode]
            result[f"repair_spikes_audited{suffix}"] = spikes_audited[mode]
    for mode in MODES:
        prefix = "repair_rescue_rate" + ("" if mode == "on" else f"_{mode}")
        flags_all: list[bool] = []
        for kind in FAULT_KINDS:
            flags = rescued[(mode, kind)]
            result[f"{prefix}_{kind}"] = _share(flags)
            flags_all += flags
        result[prefix] = _share(flags_all)
    result["wall_s"] = time.perf_counter() - started
    result["detail"] = detail
    return result


def print_result(result: dict[str, Any]) -> None:
    """The clean-run figures, then the rescue table (fault kind × repair setting)."""
    print(f"bench_repair: {result['seeds']} seeds, {result['steps']} steps, "
          f"{result['wall_s']:.0f} s")  # fmt: skip
    for suffix in ("", "_intensity_1_5", "_gentle"):
        key = f"repair_clean_false_positive_rate{suffix}"
        print(f"  {key:<48} {result[key]:.2e}")
    for name, task in result["detail"].items():
        delta = result[f"repair_clean_quality_delta_pct_{name}"]
        spread = result[f"repair_clean_quality_spread_pct_{name}"]
        repairs = task["clean"]["on"]["repairs"]
        print(f"  {name:<18} clean accuracy {result[f'repair_clean_accuracy_{name}']:.4f}  "
              f"delta on−off {delta:+.3f} %  seed spread {spread:.3f} %  "
              f"clean repairs per seed {repairs}")  # fmt: skip
    print(f"  {'rescued (share)':<14}" + "".join(f"{m:>16}" for m in MODES))
    for kind in (*FAULT_KINDS, None):
        cells = []
        for mode in MODES:
            prefix = "repair_rescue_rate" + ("" if mode == "on" else f"_{mode}")
            cells.append(result[prefix if kind is None else f"{prefix}_{kind}"])
        print(f"  {kind or 'overall':<14}" + "".join(f"{c:>16.2f}" for c in cells))
    cells = []
    for mode in MODES:
        suffix = "" if mode == "on" else f"_{mode}"
        if MODES[mode] is None:
            cells.append("–")
        else:
            cells.append(f"{result[f'repair_spikes_left{suffix}']}/"
                         f"{result[f'repair_spikes_audited{suffix}']}")  # fmt: skip
    print(f"  {'spikes left':<14}" + "".join(f"{c:>16}" for c in cells)
          + "  (injected spike values beyond the band after repair / injected)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 200 steps")
    parser.add_argument("--seeds", type=int, help="seeds per task (default 5, quick 2)")
    parser.add_argument("--steps", type=int, help="training steps (default 600, quick 200)")
    parser.add_argument("--tasks", help="comma-separated: digits_mlp, digits_cnn, char_transformer")
    parser.add_argument("--detail", action="store_true", help="print each faulted cell too")
    args = parser.parse_args()
    tasks = args.tasks.split(",") if args.tasks else None
    result = run(args.quick, args.seeds, args.steps, tasks)
    print_result(result)
    if args.detail:
        for name, task in result["detail"].items():
            for cell, row in task["faulted"].items():
                print(f"  {name:<18} {cell:<24} {row}")


if __name__ == "__main__":
    main()
