"""Smoke test of the benchmark (``python -m bench``): case tables, one cheap case end to end, replay,
the 3-4-input models and their exact ``N - f`` networks, and the ACAS Xu group (instances, exact
VNN-LIB and ONNX replay, report, resume).

No timing is asserted; the benchmark itself measures and reports. Skipped when the shared models
(../shared/bench/models) are missing; the ACAS Xu tests when ../shared/vnncomp is.
"""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest

from bench import acasxu, acasxu_report, runner, target_functions, train_models, vnnlib_exact, z3_baseline
from bench import cases as bench_cases
from bench.onnx_exact import ExactOnnx
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


# -- 3- and 4-input models (bench/models) --------------------------------------------------------------
BENCH_MODELS = bench_cases.BENCH_MODELS
needs_bench_models = pytest.mark.skipif(not (BENCH_MODELS / "index.json").exists(), reason="no bench/models")


def test_target_programs_are_the_targets_exactly():
    import random

    rng = random.Random(7)
    for target in target_functions.TARGETS.values():
        points = [[Fraction(rng.randint(-16, 16), 16) for _ in range(target.inputs)] for _ in range(300)]
        for xs in points:
            assert target.evaluate_program(xs) == target.exact(xs), (target.name, xs)
        dense = ExactOnnx.from_layers([(np.array(w, np.float32), np.array(b, np.float32))
                                       for w, b in target.dense()])
        assert all(dense.evaluate(xs) == [target.exact(xs)] for xs in points[:20])


def test_minus_target_network_is_exact_for_every_depth():
    rng = np.random.default_rng(3)
    for target, hidden in (("min3", (5,)), ("median3", (4, 3, 6)), ("range4", (7, 2))):
        n = target_functions.TARGETS[target].inputs
        widths = (n, *hidden, 1)
        layers = [(rng.standard_normal((widths[k + 1], widths[k])).astype(np.float32),
                   rng.standard_normal(widths[k + 1]).astype(np.float32)) for k in range(len(widths) - 1)]
        minus = train_models.minus_target_layers(layers, target)
        train_models._check_minus(layers, minus, target)  # raises when d != N - f somewhere
        broken = [(w.copy(), b.copy()) for w, b in minus]
        broken[-1][1][0] += np.float32(0.5)
        with pytest.raises(AssertionError):
            train_models._check_minus(layers, broken, target)


@needs_bench_models
def test_bench_model_cases_and_files():
    entries = bench_cases.read_index(BENCH_MODELS)
    assert {e["target"] for e in entries} == {"min3", "min4", "median3", "range4"}
    assert {e["n_inputs"] for e in entries} == {3, 4}
    assert max(e["n_relu"] for e in entries) >= 128 and min(e["n_relu"] for e in entries) <= 16
    table = {c.name: c for c in bench_cases.build_cases(MODELS)}
    for entry in entries:
        err = Fraction(entry["max_abs_err_f32"])
        true, false = table[f"{entry['name']}/tol-true"], table[f"{entry['name']}/tol-false"]
        assert true.eps == 2 * err and false.eps == err / 2 and true.inputs == entry["n_inputs"]
        assert set(true.solvers) == {"mathcircuits", "z3", "marabou"}
    # the shipped N - f network is exactly the JSON network minus the target
    case = table["median3_16x16x16/tol-true"]
    net = ExactOnnx.load(BENCH_MODELS / "median3_16x16x16.onnx")
    minus = ExactOnnx.load(case.onnx_minus_min_path(MODELS))
    claim = bench_cases.claim_for(case, MODELS)
    for xs in ([Fraction(1, 3), Fraction(-1), Fraction(1, 2)], [Fraction(0), Fraction(1, 8), Fraction(-5, 7)]):
        point = dict(zip(("x1", "x2", "x3"), xs))
        exact_n = claim.circuit.evaluate(point)[0]
        assert net.evaluate(xs) == [exact_n]
        assert minus.evaluate(xs) == [exact_n - sorted(xs)[1]]


@needs_bench_models
def test_z3_baseline_and_marabou_on_false_three_and_four_input_cases():
    case = bench_cases.find("min3_16/tol-false", MODELS)
    claim = bench_cases.claim_for(case, MODELS)
    out = z3_baseline.solve_target(z3_baseline.load_layers(case.json_path(MODELS)), "min3", case.eps, True, 20)
    assert out["verdict"] == "refuted" and set(out["point"]) == {"x1", "x2", "x3"}
    assert replay(claim, out["point"]) is not None
    from bench import marabou_peer

    if marabou_peer.available():
        four = bench_cases.find("min4_32/tol-false", MODELS)
        run = runner.run_worker(four, "marabou", MODELS, 10)
        assert run.verdict in ("refuted", "unknown", "timeout")
        if run.verdict == "refuted":
            assert set(run.point) == {"x1", "x2", "x3", "x4"}


# -- ACAS Xu group -----------------------------------------------------------------------------------
ACAS = acasxu.DEFAULT_CSV
needs_acas = pytest.mark.skipif(not ACAS.exists(), reason=f"no ACAS Xu instances at {ACAS}")
# Marabou 2.0.0's answer on prop_2 / network 2_1 (floats as it printed them)
MARABOU_2_1 = [0.6399288845, -0.01294181323180253, -0.4551126110473291, 0.45, -0.49367393266322684]


@needs_acas
def test_instances_selection_and_order():
    rows = acasxu.read_instances(ACAS)
    assert len(rows) == 180 and rows[0].key == "prop_1/1_1" and rows[0].timeout_s == 116
    assert all(r.onnx.exists() and r.vnnlib.exists() for r in rows)
    assert [r.key for r in acasxu.select(rows, "prop_2/1_*")] == [f"prop_2/1_{k}" for k in range(1, 10)]
    assert [r.key for r in acasxu.interleave(rows)[:5]] == ["prop_1/1_1", "prop_2/1_1", "prop_3/1_1",
                                                             "prop_4/1_1", "prop_1/1_2"]


@needs_acas
def test_vnnlib_reader_is_exact_and_reports_positions():
    folder = ACAS.parent / "vnnlib"
    for k in range(1, 5):
        prop = vnnlib_exact.read_vnnlib(folder / f"prop_{k}.vnnlib")
        assert (prop.inputs, prop.outputs) == (5, 5)
    prop1 = vnnlib_exact.read_vnnlib(folder / "prop_1.vnnlib")
    atom = prop1.asserts[0].atom
    assert atom.coeffs == (("X_0", Fraction(1)),) and atom.const == -Fraction(679857769, 10 ** 9)
    with pytest.raises(vnnlib_exact.VnnlibError, match="line 2, column 13"):
        vnnlib_exact.parse_vnnlib("(declare-const X_0 Real)\n(assert (<= (* X_0 X_0) 1))")


@needs_acas
def test_exact_onnx_agrees_with_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    path = ACAS.parent / "onnx" / "ACASXU_run2a_3_4_batch_2000.onnx"
    net = ExactOnnx.load(path)
    session = ort.InferenceSession(str(path))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, size=(1, 1, 1, 5)).astype(np.float32)
    exact = net.evaluate([Fraction(float(v)) for v in x.ravel()])
    floats = session.run(None, {session.get_inputs()[0].name: x})[0].ravel()
    assert np.allclose([float(v) for v in exact], floats, rtol=1e-5, atol=1e-5)


@needs_acas
def test_replay_accepts_an_in_box_witness_and_rejects_one_outside():
    inst = next(i for i in acasxu.read_instances(ACAS) if i.key == "prop_2/2_1")
    good = acasxu.replay(inst, MARABOU_2_1)
    assert good["ok"] and good["why"] == ""
    outside = list(MARABOU_2_1)
    outside[3] = 0.45 - 1e-12  # X_3 >= 0.45 fails by a hair: still not a counterexample
    bad = acasxu.replay(inst, outside)
    assert not bad["ok"] and "X_3 >= 0.45 fails by" in bad["why"]
    other = next(i for i in acasxu.read_instances(ACAS) if i.key == "prop_1/2_1")
    assert not acasxu.replay(other, MARABOU_2_1)["ok"]  # outside prop_1's box


def test_acasxu_report_flags_wrong_answers_and_disagreements():
    base = {"property": "prop_2", "timeout_s": 116.0, "wall_s": 2.0, "solve_s": 1.0}
    recs = [
        {**base, "key": "prop_2/2_1", "solver": "marabou", "verdict": "violated", "replay": {"ok": True, "why": ""}},
        {**base, "key": "prop_2/2_1", "solver": "mathcircuits", "verdict": "holds",
         "cert": {"verdict": "accepted", "check_s": 0.5}},
        {**base, "key": "prop_2/2_2", "solver": "marabou", "verdict": "violated",
         "replay": {"ok": False, "why": "X_0 <= 0.5 fails by ~1e-17"}},
        {**base, "key": "prop_2/2_2", "solver": "mathcircuits", "verdict": "timeout"},
    ]
    wrong = acasxu_report.wrong_answers(recs)
    assert len(wrong) == 2
    assert any("mathcircuits: holds, but marabou's counterexample replays" in w for w in wrong)
    assert any("marabou: violated, but its counterexample does not replay (X_0" in w for w in wrong)
    assert acasxu_report.disagreements(recs) == ["prop_2/2_1: marabou violated (replays), mathcircuits holds"]
    rows = acasxu_report.table(recs, ("mathcircuits", "marabou")).splitlines()
    assert "| prop_2 | mathcircuits | 2 | 0 | 0 | 0 | 1 | 0 | 1 |" in rows[2]
    assert "| prop_2 | marabou | 2 | 0 | 1 | 0 | 0 | 0 | 1 |" in rows[3]
    lines = acasxu_report.targets(recs)
    assert lines[0].startswith("- **MISS** every instance decided") and "0/2" in lines[0]


@needs_acas
def test_acasxu_run_resumes_and_never_stores_na(tmp_path, monkeypatch):
    rows = acasxu.select(acasxu.read_instances(ACAS), "prop_2/2_1")
    results = tmp_path / "acas.jsonl"
    done = {"key": "prop_2/2_1", "property": "prop_2", "network": "2_1", "solver": "marabou", "timeout_s": 116.0,
            "verdict": "violated", "point": [str(Fraction(v)) for v in MARABOU_2_1], "replay": {"ok": True}}
    results.write_text(json.dumps(done) + "\n{cut short by an interrupt")
    monkeypatch.setattr(acasxu, "mathcircuits_support",
                        lambda: {"available": False, "certificate": False, "note": "not built yet"})
    monkeypatch.setattr(acasxu, "run_marabou", lambda inst, limit: pytest.fail("a finished job was run again"))
    records = acasxu.run(rows, ("mathcircuits", "marabou"), results)
    assert [r["verdict"] for r in records] == ["n/a", "violated"]
    assert results.read_text().count("\n") == 1  # the n/a answer is not stored: asked again next time


def test_result_file_reader():
    status, values = vnnlib_exact.read_result("sat\n((X_0 0.5)\n(X_1 -1/3)\n(Y_0 (- 2)))\n")
    assert status == "sat" and values == {"X_0": Fraction(1, 2), "X_1": Fraction(-1, 3), "Y_0": Fraction(-2)}
    assert vnnlib_exact.read_result("unsat\n") == ("unsat", {})
