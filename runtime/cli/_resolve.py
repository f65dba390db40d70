"""``kintsugi resolve``: draw decisions through the real resolver circuit, for anyone who doubts.

It samples ``--samples`` outcomes of the ethics resolver's Qiskit Aer circuit for the given
probabilities, compares the counts with them (chi-square goodness of fit), and times the
warm per-decision path the controller uses (one bind and one single-shot run per decision).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

from runtime.cli import _exit
from runtime.errors import ConfigError

#: How far the given probabilities may sum from 1 before they are refused (rounding in typing
#: 1/3 as 0.333 is fine; a forgotten entry is not).
_SUM_TOLERANCE = 1e-3
#: The circuit has 2^qubits - 1 parameters; beyond 64 options it stops being a small circuit.
_MAX_OPTIONS = 64
#: sample() keeps every draw in order (about 60 bytes each in Aer's memory list).
_MAX_SAMPLES = 1_000_000
#: Below this chi-square p-value the draws are reported as not fitting (exit code 1).
_P_THRESHOLD = 1e-3
#: Untimed decisions before the latency is measured.
_WARMUP_DECISIONS = 10


def add_parser(subparsers: Any) -> None:
    """Register ``kintsugi resolve``."""
    parser = subparsers.add_parser(
        "resolve",
        help="draw decisions through the ethics resolver's quantum circuit and check them",
        description=(
            "Draw N outcomes through the ethics resolver's amplitude-encoding circuit on Qiskit "
            "Aer for the given probabilities and print the counts (in option order), a "
            "chi-square goodness-of-fit test against the probabilities, and the warm latency "
            "of one decision (p50, p99). Exit code 1 when the draws do not fit: an option "
            f"with probability 0 was drawn, or chi-square p < {_P_THRESHOLD:g} (which a correct "
            "sampler also shows 1 time in 1000)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--probabilities",
        required=True,
        metavar="P1,P2,...",
        help="comma-separated probabilities of the options (2 to 64 entries, summing to 1; 0 "
        "makes an option forbidden)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=10_000,
        metavar="N",
        help="draws through the circuit (one Aer run)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="session seed")
    parser.add_argument(
        "--latency-decisions",
        type=int,
        default=200,
        metavar="K",
        help="single decisions timed for the latency figures",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handle)


def parse_probabilities(text: str) -> list[float]:
    """The ``--probabilities`` list, renormalised to sum exactly to 1."""
    fix = "Example: --probabilities 0.25,0.25,0.5"
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"--probabilities must be comma-separated numbers; got {text!r}. {fix}"
        ) from None
    if not 2 <= len(values) <= _MAX_OPTIONS:
        raise ConfigError(
            f"--probabilities needs 2 to {_MAX_OPTIONS} entries; got {len(values)} in {text!r}. "
            f"{fix}"
        )
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise ConfigError(f"--probabilities must be finite and non-negative; got {text!r}. {fix}")
    total = sum(values)
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise ConfigError(
            f"--probabilities must sum to 1; {text!r} sums to {total:g}. Divide each entry by "
            "the sum, or fix the entry that is missing."
        )
    return [v / total for v in values]


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}; {value} is invalid.")


def _measure_decisions(resolver: Any, probabilities: list[float], count: int) -> list[float]:
    """Wall time (ms) of ``count`` warm decisions whose probabilities are ``probabilities``."""
    import numpy as np

    from runtime.resolver import Conflict

    p = np.asarray(probabilities)
    options = tuple(f"option{i}" for i in range(p.size))
    # softmax(log p) = p at temperature 1; zero entries are forbidden, so they stay exactly 0.
    conflict = Conflict(
        kind="cli-latency",
        options=options,
        scores=tuple(float(math.log(v)) if v > 0 else 0.0 for v in p),
        forbidden=frozenset(o for o, v in zip(options, p, strict=True) if v == 0),
    )
    for _ in range(_WARMUP_DECISIONS):
        resolver.decide(conflict)
    latencies_ms = []
    for _ in range(count):
        start = time.perf_counter()
        decision = resolver.decide(conflict)
        latencies_ms.append((time.perf_counter() - start) * 1e3)
        if decision.failed:
            raise ConfigError(f"the resolver fell back to its fail-safe: {decision.explanation}")
    return latencies_ms


def _handle(args: argparse.Namespace) -> int:
    import numpy as np
    from scipy.stats import chisquare

    from runtime.resolver import EthicsResolver

    probabilities = parse_probabilities(args.probabilities)
    _check_range("--samples", args.samples, 1, _MAX_SAMPLES)
    _check_range("--seed", args.seed, 0, 2**63 - 1)
    _check_range("--latency-decisions", args.latency_decisions, 1, 1_000_000)

    resolver = EthicsResolver(args.seed, max_options=len(probabilities))
    draws = resolver.sample(probabilities, args.samples)
    counts = np.bincount(draws, minlength=1 << resolver.n_qubits)
    p = np.asarray(probabilities)
    support = p > 0
    impossible_draws = int(counts.sum() - counts[: p.size][support].sum())
    chi_square: dict[str, float | int] | None = None
    if support.sum() >= 2 and counts[: p.size][support].sum() > 0:
        observed = counts[: p.size][support]
        # Over the draws that landed on possible options (impossible ones are reported apart).
        result = chisquare(observed, p[support] * observed.sum())
        chi_square = {
            "statistic": float(result.statistic),
            "p_value": float(result.pvalue),
            "dof": int(support.sum() - 1),
        }
    latencies_ms = np.asarray(_measure_decisions(resolver, probabilities, args.latency_decisions))
    report = {
        "probabilities": probabilities,
        "samples": args.samples,
        "seed": args.seed,
        "qubits": resolver.n_qubits,
        "counts": [int(c) for c in counts[: p.size]],
        "frequencies": [float(c) / args.samples for c in counts[: p.size]],
        "impossible_draws": impossible_draws,
        "chi_square": chi_square,
        "latency_ms": {
            "p50": float(np.percentile(latencies_ms, 50)),
            "p99": float(np.percentile(latencies_ms, 99)),
            "decisions": int(latencies_ms.size),
        },
    }
    fits = impossible_draws == 0 and (chi_square is None or chi_square["p_value"] >= _P_THRESHOLD)
    report["fits"] = fits
    if args.json:
        print(json.dumps(report))
    else:
        _print_table(report)
    return _exit.OK if fits else _exit.FOUND


def _print_table(report: dict[str, Any]) -> None:
    print(f"{'option':>6}  {'probability':>11}  {'count':>9}  {'frequency':>9}")
    rows = zip(report["probabilities"], report["counts"], report["frequencies"], strict=True)
    for i, (p, count, freq) in enumerate(rows):
        print(f"{i:>6}  {p:>11.4f}  {count:>9d}  {freq:>9.4f}")
    chi = report["chi_square"]
    if chi is not None:
        print(f"chi-square {chi['statistic']:.3f} on {chi['dof']} dof, p = {chi['p_value']:.4g}")
    print(f"draws of probability-0 options: {report['impossible_draws']}")
    lat = report["latency_ms"]
    print(
        f"warm decision latency over {lat['decisions']} decisions: "
        f"p50 {lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms"
    )
    print("fits the probabilities" if report["fits"] else "DOES NOT fit the probabilities")
