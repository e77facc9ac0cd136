"""Smoke test of the benchmark (``python -m bench``): case table, one cheap case end to end, replay.

No timing is asserted; the benchmark itself measures and reports. Skipped when the shared models
(../shared/bench/models) are missing.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from bench import cases as bench_cases
from bench import runner, z3_baseline
from verify.result import replay

MODELS = bench_cases.DEFAULT_MODELS
pytestmark = pytest.mark.skipif(not (MODELS / "index.json").exists(), reason=f"no benchmark models in {MODELS}")


def test_case_table():
    table = bench_cases.build_cases(MODELS)
    names = [c.name for c in table]
    assert len(names) == len(set(names))
    for expected in ("hand_min/eq-box", "hand_min/eq-R2", "hand_min/tol-true", "mlp_w4/tol-false",
                     "mlp_32x32/tol-true", "is_even-10", "catalogue"):
        assert expected in names
    assert "hand_min/tol-false" not in names  # sampled error 0: half of it is the tol-true claim
    w4 = bench_cases.find("mlp_w4/tol-true", MODELS)
    assert w4.eps == 2 * Fraction(0.02473759651184082) and w4.relus == 4
    assert bench_cases.find("mlp_w4/tol-false", MODELS).eps == Fraction(0.02473759651184082) / 2
    assert "marabou" not in bench_cases.find("hand_min/eq-R2", MODELS).solvers
    assert [c.name for c in bench_cases.select(table, "is_even-*")] == ["is_even-4", "is_even-8", "is_even-10"]


def test_is_even_layers_match_the_library():
    from networks.library import make_is_even

    layers = z3_baseline.is_even_layers(4)
    circuit = make_is_even(4)
    for x in range(16):
        value = [Fraction(x)]
        for rows, bias in layers:
            value = [max(Fraction(0), sum(w * v for w, v in zip(row, value)) + b) for row, b in zip(rows, bias)]
        assert value == [circuit.evaluate({"x": x})[0]]


def test_one_cheap_case_end_to_end():
    case = dataclasses.replace(bench_cases.find("hand_min/tol-true", MODELS), solvers=("mathcircuits", "z3"))
    result = runner.run_case(case, MODELS, runs=1, timeout_s=60)
    assert result.disagreements == []
    assert result.truth == "true"
    for solver in ("mathcircuits", "z3"):
        summary = result.summaries[solver]
        assert summary.status == "proved" and summary.correct
        assert summary.solve_s is not None and summary.wall_s >= summary.solve_s
    assert result.summaries["marabou"].status == "n/a"


def test_z3_baseline_counterexample_replays_on_a_false_case():
    case = bench_cases.find("mlp_w4/tol-false", MODELS)
    claim = bench_cases.claim_for(case, MODELS)
    out = z3_baseline.solve_min(z3_baseline.load_layers(case.json_path(MODELS)), case.eps, True, 60)
    assert out["verdict"] == "refuted"
    assert all(isinstance(v, Fraction) for v in out["point"].values())
    assert replay(claim, out["point"]) is not None

    # a peer point that does not replay is a wrong answer, not a disagreement
    origin = {"x1": Fraction(0), "x2": Fraction(0)}
    assert replay(claim, origin) is None
    good = runner.Run("z3", "refuted", 1.0, 0.5, "z3", out["point"])
    bad = runner.Run("marabou", "refuted", 1.0, 0.5, "marabou", origin)
    mc = runner.Run("mathcircuits", "refuted", 1.0, 0.1, "regions", out["point"])
    result = runner.classify(case, {"mathcircuits": [mc], "z3": [good], "marabou": [bad]}, MODELS)
    assert result.truth == "false" and result.disagreements == []
    assert result.summaries["z3"].correct and result.summaries["marabou"].status.startswith("WRONG")

    # mathcircuits "proved" against a replayed counterexample fails the benchmark
    wrong_mc = runner.Run("mathcircuits", "proved", 1.0, 0.1, "regions")
    again = runner.Run("z3", "refuted", 1.0, 0.5, "z3", out["point"])
    result = runner.classify(case, {"mathcircuits": [wrong_mc], "z3": [again], "marabou": []}, MODELS)
    assert any("mathcircuits says proved" in d for d in result.disagreements)
