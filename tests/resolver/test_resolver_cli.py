"""``kintsugi resolve``: counts through the real circuit, a fit test, warm latency."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import chisquare

from runtime.cli import main


def test_json_report_fits_the_probabilities(capsys: pytest.CaptureFixture[str]) -> None:
    p = np.array([0.2, 0.0, 0.3, 0.5])
    code = main(
        [
            "resolve",
            "--probabilities",
            "0.2,0,0.3,0.5",
            "--samples",
            "10000",
            "--seed",
            "5",
            "--latency-decisions",
            "50",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["fits"]
    counts = np.array(report["counts"])
    assert counts.shape == (4,) and counts.sum() == 10_000 and counts[1] == 0
    assert chisquare(counts[p > 0], p[p > 0] * 10_000).pvalue > 1e-3
    assert report["chi_square"]["dof"] == 2
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] and latency["decisions"] == 50


def test_same_seed_same_counts(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["resolve", "--probabilities", "0.5,0.5", "--samples", "1000", "--seed", "9", "--json"]
    main([*args, "--latency-decisions", "1"])
    first = json.loads(capsys.readouterr().out)["counts"]
    main([*args, "--latency-decisions", "1"])
    assert json.loads(capsys.readouterr().out)["counts"] == first


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["resolve", "--probabilities", "0.25,0.75", "--samples", "2000",
                 "--latency-decisions", "5"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "p50" in out and "p99" in out and "chi-square" in out


@pytest.mark.parametrize("value", ["0.5,abc", "1.0", "0.5,0.4", "0.5,-0.5,1", "nan,0.5"])
def test_bad_probabilities_exit_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(["resolve", "--probabilities", value, "--samples", "10"]) == 2
    assert "--probabilities" in capsys.readouterr().err


def test_a_draw_of_a_zero_probability_option_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from runtime.resolver import EthicsResolver

    real_sample = EthicsResolver.sample

    def faulty_sample(self, probabilities, n):  # fault injection: one impossible outcome
        draws = real_sample(self, probabilities, n)
        draws[0] = 1
        return draws

    monkeypatch.setattr(EthicsResolver, "sample", faulty_sample)
    args = ["resolve", "--probabilities", "0.5,0,0.5", "--samples", "1000", "--json"]
    assert main([*args, "--latency-decisions", "2"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["impossible_draws"] == 1 and report["fits"] is False
