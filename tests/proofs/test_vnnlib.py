"""VNN-LIB in and out: the parser (exact numbers, DNF, boxes, errors with positions, limits), our
--unsafe syntax, the ONNX exporter (exact weights, float32/float64, refusals), the round trip of the
catalogue's claims, result files, and the `mathcircuits vnnlib` command (one property, instance lists)."""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

from networks.circuit_to_onnx import circuit_to_onnx, representable
from networks.onnx_to_circuit import load_onnx
from proofs import catalogue, cli
from proofs.spec_to_vnnlib import claim_to_spec, number_text, result_text, spec_to_vnnlib, with_vnnlib_names
from proofs.vnnlib_to_spec import MAX_DEPTH, parse_result, parse_unsafe, parse_vnnlib
from symbolic import errors
from symbolic.circuit import Activation, Builder, Circuit, from_layers
from verify.claim import Claim
from verify.decide import Config, decide
from verify.domain import Domain, IntegerRange, RealInterval
from verify.output_set import Atom, OutputSet
from verify.result import Verdict

F = Fraction
ACAS = Path(__file__).resolve().parents[3] / "shared" / "vnncomp" / "acasxu"
ROOT = Path(__file__).resolve().parents[2]
DECLARE = "".join(f"(declare-const X_{i} Real)\n" for i in range(2)) + \
    "".join(f"(declare-const Y_{j} Real)\n" for j in range(3))


def atom(op, rhs, **coeffs):
    return Atom(tuple(coeffs.items()), op, rhs)


# -- the parser ---------------------------------------------------------------------------------------
@pytest.mark.skipif(not ACAS.is_dir(), reason="the shared VNN-COMP files are not here")
def test_every_acas_property_parses_exactly():
    from proofs.vnnlib_to_spec import load_vnnlib

    files = sorted((ACAS / "vnnlib").glob("*.vnnlib"))
    assert len(files) == 4
    specs = {f.stem: load_vnnlib(f) for f in files}
    for spec in specs.values():
        assert spec.inputs == tuple(f"X_{i}" for i in range(5)) and spec.outputs == tuple(f"Y_{j}" for j in range(5))
        assert len(spec.cases) == 1 and spec.disjuncts == 1 and spec.empty == 0
    box = specs["prop_1"].cases[0].box
    assert box.of("X_0") == RealInterval(F(6, 10), F(679857769, 10**9))
    assert box.of("X_4") == RealInterval(F(-1, 2), F(-45, 100))
    assert specs["prop_1"].cases[0].unsafe == OutputSet(((atom(">=", F("3.991125645861615"), Y_0=1),),))
    assert str(specs["prop_2"].cases[0].unsafe) == "Y_1 <= Y_0 and Y_2 <= Y_0 and Y_3 <= Y_0 and Y_4 <= Y_0"
    assert str(specs["prop_3"].cases[0].unsafe) == "Y_0 <= Y_1 and Y_0 <= Y_2 and Y_0 <= Y_3 and Y_0 <= Y_4"
    assert specs["prop_4"].cases[0].box.of("X_2") == RealInterval(0, 0)
    assert specs["prop_3"].cases[0].box.of("X_0") == RealInterval(F("-0.303531156"), F("-0.298552812"))


@pytest.mark.parametrize("term,value", [("0.679857769", F(679857769, 10**9)), ("1e-3", F(1, 1000)), ("-0.5", F(-1, 2)),
                                        ("(- 0.5)", F(-1, 2)), ("2.5E+2", F(250)), (".5", F(1, 2)), ("(/ 1 3)", F(1, 3)),
                                        ("(* 2 (- 1 0.25))", F(3, 2)), ("(+ 1 2 3)", F(6)), ("(- 1 2 3)", F(-4))])
def test_numbers_are_exact(term, value):
    spec = parse_vnnlib(DECLARE + f"(assert (<= X_0 {term}))  ; a comment (<= 1 2\n(assert (>= Y_0 0))")
    assert spec.cases[0].box.of("X_0").hi == value


def test_linear_terms_and_dnf_keep_the_written_order():
    spec = parse_vnnlib(DECLARE + """
        (assert (<= -1 X_0 1))  ; a chain: -1 <= X_0 <= 1
        (assert (or (and (<= Y_0 Y_1) (< (- Y_2 (* 0.5 Y_1)) 1e-1)) (> (+ Y_0 (* -2 Y_1) X_1) 0)))
        (assert (or (>= Y_2 0) (<= Y_2 -1)))""")
    [case] = spec.cases
    assert case.box.of("X_0") == RealInterval(-1, 1)
    assert [str(OutputSet((d,))) for d in case.unsafe.disjuncts] == [
        "Y_0 <= Y_1 and Y_2 < (1/2)*Y_1 + 1/10 and Y_2 >= 0", "Y_0 <= Y_1 and Y_2 < (1/2)*Y_1 + 1/10 and Y_2 <= -1",
        "X_1 + Y_0 > 2*Y_1 and Y_2 >= 0", "X_1 + Y_0 > 2*Y_1 and Y_2 <= -1"]
    assert case.disjuncts == (0, 1, 2, 3) and spec.disjuncts == 4


def test_boxes_split_a_union_and_drop_empty_ones():
    spec = parse_vnnlib(DECLARE + """(assert (or
        (and (>= X_0 0) (<= X_0 1) (< X_1 2) (>= Y_0 Y_1))
        (and (>= X_0 2) (<= X_0 1) (>= Y_0 Y_2))
        (and (<= X_0 1) (>= X_0 0) (< X_1 2) (>= Y_0 Y_2))
        (and (> (* -2 X_1) 4) (<= X_0 X_1))))""")
    assert spec.empty == 1 and spec.disjuncts == 4 and len(spec.cases) == 2
    first, second = spec.cases
    assert str(first.box) == "X_0 in [0, 1], X_1 in (-oo, 2)" and first.disjuncts == (0, 2)
    assert str(first.unsafe) == "Y_0 >= Y_1 or Y_0 >= Y_2"
    assert second.box.of("X_1") == RealInterval(None, -2, hi_open=True)
    assert str(second.unsafe) == "X_0 <= X_1"  # an atom over several inputs stays in the output set


@pytest.mark.parametrize("text,where,message", [
    ("(assert (<= X_0 1))", "1:13", "not declared"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 1)", "2:1", "never closed"),
    ("(declare-const X_0 Real)\n  (assert (<= X_0 1)))", "2:22", "unbalanced"),
    ("(declare-const X_0 Real)\n(assert (<= (* X_0 X_0) 1))", "2:13", "not linear"),
    ("(declare-const X_0 Int)", "1:20", "only Real"),
    ("(declare-const Z Real)", "1:16", "X_i (input) or Y_j"),
    ("(declare-const X_0 Real) (declare-const X_0 Real)", "1:41", "declared twice"),
    ("(declare-const X_0 Real)\n (assert (= X_0 1))", "2:10", "unsupported formula '='"),
    ("(declare-const X_0 Real)\n (assert (not (<= X_0 1)))", "2:10", "unsupported formula 'not'"),
    ("(declare-const X_0 Real) (check-sat)", "1:26", "unsupported command"),
    ("(declare-const X_0 Real) (assert (<= X_0 (/ 1 0)))", "1:42", "nonzero constant"),
    ("(declare-const X_0 Real) (assert (<= X_0 1#))", "1:42", "unexpected '1#'"),
    ("(declare-const X_0 Real) (assert (<= X_0 \"1\"))", "1:42", "strings"),
    ("(declare-const X_0 Real) (assert (<= X_0 1e401))", "1:42", "exponent"),
    ("(declare-const X_0 Real) (assert (<= X_0 " + "1" * 401 + "))", "1:42", "digits"),
    ("(declare-const X_0 Real) (assert (<= X_0))", "1:34", "at least two"),
    ("(declare-const X_0 Real) (assert (<= X_0 (exp 1)))", "1:42", "unsupported term"),
    ("(declare-const X_0 Real) (assert (<= X_0 1) (<= X_0 2))", "1:26", "exactly one"),
])
def test_errors_name_line_and_column(text, where, message):
    with pytest.raises(errors.ParseError) as info:
        parse_vnnlib(text, "p.vnnlib")
    assert f"p.vnnlib:{where}:" in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)


def test_limits():
    deep = "(declare-const X_0 Real)(assert " + "(and " * (MAX_DEPTH + 1) + ")" * (MAX_DEPTH + 2)
    with pytest.raises(errors.ParseError, match="nesting deeper"):
        parse_vnnlib(deep)
    wide = "(declare-const X_0 Real)(declare-const Y_0 Real)" + "(assert (or (<= Y_0 1) (<= Y_0 2) (<= Y_0 3)))" * 9
    with pytest.raises(errors.ClaimError, match="disjuncts"):
        parse_vnnlib(wide)  # 3^9 > 10,000 disjuncts
    with pytest.raises(errors.ParseError, match="X_1 is not declared"):
        parse_vnnlib("(declare-const X_0 Real)(declare-const X_2 Real)")


def test_unsafe_syntax_keeps_order_and_reports_columns():
    assert str(parse_unsafe("Y_0 <= Y_1 and Y_0 <= Y_2 or (Y_3 + Y_4)/2 > 1e-3")) == \
        "(Y_0 <= Y_1 and Y_0 <= Y_2) or (1/2)*Y_3 + (1/2)*Y_4 > 1/1000"
    assert str(parse_unsafe("not (Y_0 < 1 or Y_1 >= 2) and 0 <= Y_2 < 1")) == \
        "Y_0 >= 1 and Y_1 < 2 and Y_2 >= 0 and Y_2 < 1"
    assert str(parse_unsafe("Y_0 == 1")) == "Y_0 <= 1 and Y_0 >= 1"
    assert parse_unsafe("Y_0 != 1").disjuncts == ((atom("<", 1, Y_0=1),), (atom(">", 1, Y_0=1),))
    assert str(parse_unsafe("1 < 2")) == "true" and str(parse_unsafe("Y_0 < 1 and false")) == "false"
    for text, column in (("Y_0 * Y_1 <= 1", 1), ("Y_0 <= 1 and relu(Y_1) > 0", 14), ("Y_0 <=", 7), ("Y_0", 1)):
        with pytest.raises(errors.ParseError, match=f"at column {column} "):
            parse_unsafe(text)


# -- numbers and result files ---------------------------------------------------------------------------
def test_numbers_and_result_files_round_trip():
    rng = random.Random(7)
    values = [F(rng.randint(-10**9, 10**9), rng.choice([1, 3, 2**24, 10**6, 7 * 2**5])) for _ in range(200)]
    values += [F(0), F(-1, 2**60), F(10**30 + 1, 5**7)]
    for v in values:
        spec = parse_vnnlib(f"(declare-const X_0 Real)(assert (<= X_0 {number_text(v)}))")
        assert spec.cases[0].box.of("X_0").hi == v
    point = {f"X_{i}": v for i, v in enumerate(values[:5])} | {"Y_0": F(-7, 3)}
    assert parse_result(result_text("sat", point)) == ("sat", point)
    assert parse_result(result_text("unsat")) == ("unsat", {})
    assert parse_result("holds") == ("unsat", {}) and parse_result("timeout\n") == ("timeout", {})
    with pytest.raises(errors.ParseError):
        parse_result("sat\n((X_0 Y_1))")


def test_spec_text_round_trips():
    spec = parse_vnnlib(DECLARE + """(assert (or
        (and (>= X_0 0) (< X_0 1) (> X_1 (/ -1 3)) (or (>= Y_0 Y_1) (and (< (* 3 Y_2) 1) (<= Y_1 -2.5))))
        (and (>= X_0 5) (<= X_0 5) (>= (+ Y_0 X_1) 0))))""")
    again = parse_vnnlib(spec_to_vnnlib(spec, "a comment"))
    assert again.cases == spec.cases
    one = parse_vnnlib(DECLARE + "(assert (<= X_0 1)) (assert (or (<= Y_0 1) (<= Y_1 1)))")
    assert parse_vnnlib(spec_to_vnnlib(one)).cases == one.cases


# -- networks: names and ONNX export ---------------------------------------------------------------------
def test_vnnlib_names_copy_inputs_and_repeated_outputs():
    b = Builder(["a", "b"])
    h = b.relu({"a": 1, "b": -1}, name="Y_0")  # a hidden neuron whose name clashes
    circuit = b.build([h, "a", h])
    named = with_vnnlib_names(circuit)
    assert named.inputs == ("X_0", "X_1") and named.outputs == ("Y_0", "Y_1", "Y_2")
    assert named.evaluate({"X_0": 3, "X_1": 1}) == circuit.evaluate({"a": 3, "b": 1}) == (2, 3, 2)


def _mixed_circuit() -> Circuit:
    """Skip connections, a sigmoid, several outputs, binary weights."""
    b = Builder(["x1", "x2", "x3"])
    h1 = b.relu({"x1": 0.5, "x2": -1.25}, bias=0.125)
    h2 = b.relu({"x3": 3, h1: -0.75})
    s = b.add({h2: 0.5, "x1": 1}, -1, Activation.SIGMOID)
    y1 = b.linear({h1: 2, h2: -1, "x2": 1}, 0.5)
    return b.build([y1, s, h2])


def test_export_is_exact_and_agrees_with_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    circuit = _mixed_circuit()
    export = circuit_to_onnx(circuit)
    assert export.dtype == "float32" and export.rounded == ()
    back = load_onnx(export.model)
    rng = random.Random(3)
    session = ort.InferenceSession(export.model)
    for _ in range(20):
        point = [F(rng.randint(-400, 400), 64) for _ in range(3)]
        assert back.evaluate(dict(zip(back.inputs, point))) == circuit.evaluate(dict(zip(circuit.inputs, point)))
        got = session.run(None, {"X": np.array([[float(v) for v in point]], dtype=np.float32)})[0][0]
        want = circuit.evaluate_float(dict(zip(circuit.inputs, map(float, point))))
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_export_picks_float64_or_refuses_inexact_weights():
    double_only = from_layers([([[F(2**24 + 1)]], [F(1, 10**0) / 2**30])])
    assert circuit_to_onnx(double_only).dtype == "float64"
    assert load_onnx(circuit_to_onnx(double_only).model).evaluate({"x": 1}) == double_only.evaluate({"x": 1})
    with pytest.raises(errors.ModelFormatError, match="float32"):
        circuit_to_onnx(double_only, dtype="float32")
    third = from_layers([([[F(1, 3)], [F(1, 2)]], None), ([[1, 1]], [F(1, 10)])])
    with pytest.raises(errors.ModelFormatError, match=r"2 weight\(s\).*weight of x in h1_1 = 1/3.*bias of y = 1/10"):
        circuit_to_onnx(third)
    rounded = circuit_to_onnx(third, allow_rounding=True)
    assert rounded.dtype == "float64" and len(rounded.rounded) == 2 and "1/3" in rounded.rounded[0]
    assert representable(F(1, 2**149), "float32") and not representable(F(1, 2**150), "float32")
    assert not representable(F(2**1024), "float64")


def test_export_refuses_symbolic_weights_and_unwritable_claims():
    fam = catalogue.select(["identity_family"])[0].claim
    with pytest.raises(errors.ClaimError, match="symbolic"):
        claim_to_spec(fam)
    with pytest.raises(errors.ClaimError, match="cannot be folded"):
        claim_to_spec(catalogue.select(["is_even_4bit_Z"])[0].claim)
    minimum = catalogue.select(["minimum"])[0].claim
    with pytest.raises(errors.ClaimError, match="unbounded integer"):
        claim_to_spec(Claim(minimum.circuit, minimum.target, Domain({"x1": IntegerRange(0, None)})))
    with pytest.raises(errors.ClaimError, match="Unrealizable"):
        claim_to_spec(catalogue.select(["identity_needs_two_neurons"])[0].claim)


# -- the round trip on the catalogue ---------------------------------------------------------------------
def _property_verdict(circuit, spec, timeout_s=5.0):
    results = [decide(c, Config(timeout_s=timeout_s)) for c in spec.claims(circuit)]
    if any(r.verdict is Verdict.REFUTED for r in results):
        return Verdict.REFUTED, next(r for r in results if r.verdict is Verdict.REFUTED)
    return (Verdict.PROVED if all(r.verdict is Verdict.PROVED for r in results) else Verdict.UNKNOWN), None


def test_catalogue_round_trip_gives_the_same_verdicts():
    fitted, skipped = [], []
    for theorem in catalogue.seed_theorems():
        try:
            network, spec = claim_to_spec(theorem.claim)
        except errors.ClaimError:
            skipped.append(theorem.name)
            continue
        export = circuit_to_onnx(network)
        assert export.rounded == ()
        back = with_vnnlib_names(load_onnx(export.model))
        verdict, refuted = _property_verdict(back, parse_vnnlib(spec_to_vnnlib(spec)))
        original = decide(theorem.claim, Config(timeout_s=5))
        assert verdict is original.verdict, theorem.name
        if refuted is not None:  # the re-imported counterexample breaks the original claim too
            point = dict(zip(theorem.claim.circuit.inputs, (refuted.counterexample.point[x] for x in back.inputs)))
            assert theorem.claim.domain.contains(point) and not theorem.claim.holds_at(point)[0], theorem.name
        fitted.append(theorem.name)
    assert len(fitted) >= 46, (fitted, skipped)  # of 56; the rest: templates, symbolic weights, unbounded Z
    assert {"minimum", "wrong_minimum", "is_even_8bit", "sigmoid_step_margin_strict", "identity_examples",
            "step_on_R"} <= set(fitted)
    assert not {"identity_family", "minimum_needs_three_neurons", "is_even_4bit_Z", "step_on_Z"} & set(fitted)


def test_predicate_and_tolerance_claims_fold_as_documented():
    net, spec = claim_to_spec(catalogue.select(["greaterness_detector"])[0].claim)
    assert net.outputs == ("Y_0",) and len(spec.cases) == 1
    assert str(spec.cases[0].unsafe) == "(Y_0 > 0 and X_0 <= X_1) or (Y_0 <= 0 and X_0 > X_1)"
    claim = Claim(from_layers([([[1]], None)], activations=[Activation.RELU]), sp.Symbol("x"),
                  kind=catalogue.Tolerance(F(1, 1000)))
    net, spec = claim_to_spec(claim)
    assert str(spec.cases[0].unsafe) == "Y_0 < -1/1000 or Y_0 > 1/1000"
    net, spec = claim_to_spec(catalogue.select(["step_on_R"])[0].claim)  # a piecewise target: one output per piece
    assert net.outputs == ("Y_0", "Y_1") and str(spec.cases[0].unsafe) == \
        "(X_0 < 10 and Y_0 < 0) or (X_0 < 10 and Y_0 > 0) or (X_0 >= 10 and Y_1 < 0) or (X_0 >= 10 and Y_1 > 0)"
    assert net.evaluate({"X_0": F(19, 2)}) == (F(-1, 2), F(1, 2))  # N = 1/2 at 9.5: N - 1 and N - 0


# -- the command --------------------------------------------------------------------------------------------
def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def small(tmp_path):
    """y1 = |x1|, y2 = x1, y3 = R(x2) as an ONNX file."""
    net = from_layers([([[1, 0], [-1, 0], [0, 1]], None), ([[1, 1, 0], [1, -1, 0], [0, 0, 1]], None)])
    path = tmp_path / "small.onnx"
    path.write_bytes(circuit_to_onnx(net).model)
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_command_violated_writes_an_exact_result_file(capsys, small, tmp_path):
    prop = _write(tmp_path / "p.vnnlib", DECLARE.replace("(declare-const Y_2 Real)\n", "(declare-const Y_2 Real)\n") +
                  "(assert (<= X_0 1)) (assert (>= X_0 -1)) (assert (<= X_1 1)) (assert (>= X_1 0))\n"
                  "(assert (or (< Y_0 Y_1) (and (> Y_2 0.5) (>= Y_0 0.75))))")
    code, out, err = run(capsys, "vnnlib", small, prop, "--result", tmp_path / "r.txt", "--json")
    assert code == 1, err
    facts = json.loads(out)
    assert facts["verdict"] == "violated" and facts["result"] == "sat" and facts["reached_disjunct"] == 1
    status, values = parse_result((tmp_path / "r.txt").read_text())
    assert status == "sat" and list(values) == ["X_0", "X_1", "Y_0", "Y_1", "Y_2"]
    net = with_vnnlib_names(load_onnx(small.read_bytes()))
    assert net.evaluate({k: values[k] for k in ("X_0", "X_1")}) == (values["Y_0"], values["Y_1"], values["Y_2"])
    assert values["Y_2"] > F(1, 2) and values["Y_0"] >= F(3, 4) and -1 <= values["X_0"] <= 1 and 0 <= values["X_1"] <= 1
    assert {k: str(v) for k, v in values.items()} == {**facts["counterexample"]["inputs"], **facts["counterexample"]["outputs"]}


def test_command_holds_with_our_syntax_and_a_union_of_boxes(capsys, small, tmp_path):
    argv = ["vnnlib", small, "--input-box", "X_0 in [-1, 1], X_1 in [0, 1/2]", "--input-box", "X_0 in [2, 3], X_1 in [0, 1]",
            "--unsafe", "Y_0 < Y_1 or Y_2 > 1 and Y_0 >= 1/2", "--result", tmp_path / "r.txt"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "holds (unsat)" in out and (tmp_path / "r.txt").read_text() == "unsat\n"
    code, out, _ = run(capsys, *argv[:-3], "Y_2 >= 1 and X_0 >= 2", "--json")
    assert code == 1 and json.loads(out)["counterexample"]["inputs"]["X_0"] in ("2", "3")
    assert [b["verdict"] for b in json.loads(out)["boxes"]] == ["proved", "refuted"]


def test_command_unknown_and_report(capsys, small, tmp_path, monkeypatch):
    from verify import decide as decide_module
    from verify.result import Result

    monkeypatch.setattr(decide_module, "decide", lambda claim, config: Result(claim, Verdict.UNKNOWN, "z3", 0.1,
                                                                               reason="z3: timeout"))
    code, out, err = run(capsys, "vnnlib", small, "--unsafe", "Y_0 < 0", "--result", tmp_path / "r.txt",
                         "--report", tmp_path / "rep")
    assert code == 3 and "unknown (timeout)" in out and (tmp_path / "r.txt").read_text() == "timeout\n"
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    for page in [tmp_path / "rep" / "catalogue.json", *(tmp_path / "rep" / "theorems").glob("*.json")]:
        jsonschema.validate(json.loads(page.read_text()), schema)


def test_report_of_a_violated_property_validates(capsys, small, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    code, _, err = run(capsys, "vnnlib", small, "--unsafe", "Y_2 > 1 and Y_1 < 0", "--report", tmp_path / "rep")
    assert code == 1, err
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    [page] = (tmp_path / "rep" / "theorems").glob("*.json")
    facts = json.loads(page.read_text())
    jsonschema.validate(facts, schema)
    assert facts["kind"] == "unreachable" and facts["counterexample"]["target_value"] == "true"


@pytest.mark.parametrize("argv,message", [
    (["vnnlib"], "give NETWORK"),
    (["vnnlib", "{small}", "{small}", "--unsafe", "Y_0 < 0"], "not both"),
    (["vnnlib", "{small}", "--input-box", "X_0 in [0, 1]"], "not both"),
    (["vnnlib", "{small}", "--unsafe", "Y_7 < 0"], "Y_7"),
    (["vnnlib", "{small}", "--unsafe", "Y_0 <"], "column"),
    (["vnnlib", "{small}", "--unsafe", "Y_0 < 0", "--input-box", "X_9 in [0, 1]"], "X_9"),
    (["vnnlib", "{small}", "--unsafe", "Y_0 < 0", "--timeout", "0"], "timeout"),
    (["vnnlib", "--instances", "{small}", "--unsafe", "Y_0 < 0"], "does not take"),
    (["vnnlib", "{small}", "--unsafe", "Y_0 < 0", "--out", "{tmp}/o.jsonl"], "--instances"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, small, tmp_path, argv, message):
    code, out, err = run(capsys, *(a.format(small=small, tmp=tmp_path) for a in argv))
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.skipif(not ACAS.is_dir(), reason="the shared VNN-COMP files are not here")
def test_acas_instance_end_to_end(capsys, tmp_path):
    code, out, err = run(capsys, "vnnlib", ACAS / "onnx" / "ACASXU_run2a_1_1_batch_2000.onnx",
                         ACAS / "vnnlib" / "prop_3.vnnlib", "--timeout", "0.2", "--result", tmp_path / "r.txt", "--json")
    facts = json.loads(out)
    assert (code, facts["verdict"]) in ((3, "unknown"), (0, "holds")), err  # prop 3 holds on N_1_1 (VNN-COMP)
    assert facts["neurons"] == 300 and facts["inputs"] == facts["outputs"] == 5
    assert (tmp_path / "r.txt").read_text() in ("timeout\n", "unknown\n", "unsat\n")


def test_instances_run_resume_and_summary(capsys, small, tmp_path):
    _write(tmp_path / "holds.vnnlib", DECLARE + "(assert (<= X_0 1)) (assert (>= X_0 -1)) (assert (< Y_0 Y_1))")
    _write(tmp_path / "violated.vnnlib", DECLARE + "(assert (<= X_0 1)) (assert (>= X_0 -1)) (assert (> Y_0 Y_1))")
    _write(tmp_path / "bad.vnnlib", DECLARE + "(assert (<= X_0 1)")
    _write(tmp_path / "list.csv", "small.onnx,holds.vnnlib,5\nsmall.onnx,violated.vnnlib,5\n\nsmall.onnx,bad.vnnlib,5\n")
    out = tmp_path / "results.jsonl"
    code, text, err = run(capsys, "vnnlib", "--instances", tmp_path / "list.csv", "--out", out)
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["vnnlib"], r["verdict"], r["result"]) for r in records] == [
        ("holds.vnnlib", "holds", "unsat"), ("violated.vnnlib", "violated", "sat"), ("bad.vnnlib", "error", "error")]
    assert records[1]["counterexample"]["inputs"] and "never closed" in records[2]["error"]
    assert "total" in text and text.splitlines()[-1].split()[1:6] == ["3", "1", "1", "0", "1"]
    with open(out, "ab") as handle:  # a torn line (killed while writing) is cut and that instance... already done
        handle.write(b'{"onnx": "small.onnx"')
    code, text, err = run(capsys, "vnnlib", "--instances", tmp_path / "list.csv", "--out", out, "--json")
    assert code == 0 and json.loads(text)["total"]["instances"] == 3
    assert len(out.read_text().splitlines()) == 3 and out.read_text().endswith("\n")
    _write(tmp_path / "broken.csv", "small.onnx,holds.vnnlib\n")
    code, _, err = run(capsys, "vnnlib", "--instances", tmp_path / "broken.csv")
    assert code == 2 and "broken.csv:1" in err
    _write(tmp_path / "missing.csv", "small.onnx,holds.vnnlib,5\nnone.onnx,holds.vnnlib,5\n")
    code, _, err = run(capsys, "vnnlib", "--instances", tmp_path / "missing.csv")
    assert code == 2 and "missing.csv:2" in err and "none.onnx" in err


def test_export_catalogue_then_run_it_as_an_instance_list(capsys, tmp_path):
    folder = tmp_path / "exported"
    names = ["minimum", "wrong_minimum", "is_even_4bit", "identity_family"]
    code, out, err = run(capsys, "vnnlib", "--export-catalogue", folder, *(a for n in names for a in ("--theorem", n)),
                         "--json")
    assert code == 0, err
    facts = json.loads(out)
    assert facts["written"] == names[:3] and "symbolic" in facts["skipped"]["identity_family"]
    assert (folder / "instances.csv").read_text().splitlines()[0] == "minimum.onnx,minimum.vnnlib,60"
    code, out, err = run(capsys, "vnnlib", "--instances", folder / "instances.csv", "--out", folder / "r.jsonl")
    verdicts = {json.loads(line)["vnnlib"]: json.loads(line)["verdict"] for line in (folder / "r.jsonl").open()}
    assert code == 0 and verdicts == {"minimum.vnnlib": "holds", "wrong_minimum.vnnlib": "violated",
                                      "is_even_4bit.vnnlib": "holds"}


def test_sigmoid_outputs_in_a_result_file_are_marked_inexact(capsys, tmp_path):
    b = Builder(["x"])
    net = b.build([b.add({"x": 1}, 0, Activation.SIGMOID, name="s")])
    path = tmp_path / "sig.onnx"
    path.write_bytes(circuit_to_onnx(net).model)
    code, out, err = run(capsys, "vnnlib", path, "--input-box", "X_0 in {2}", "--unsafe", "Y_0 > 0.88",
                         "--result", tmp_path / "r.txt")
    assert code == 1, err
    text = (tmp_path / "r.txt").read_text()
    assert "; Y_0: transcendental (sigmoid), rounded to 30 digits" in text and "(X_0 2)" in text
    status, values = parse_result(text)
    assert status == "sat" and abs(values["Y_0"] - F("0.880797077977882444059729141302")) < F(1, 10**29)


def test_catalogue_rows_and_reports_take_unreachable_claims(tmp_path):
    from proofs import report
    from verify.claim import unreachable_claim

    net = with_vnnlib_names(from_layers([([[1], [-1]], None), ([[1, 1], [1, -1]], None)]))  # |x|, x
    box = Domain({"X_0": RealInterval(-1, 1)})
    rows = []
    for name, unsafe, expected in (("abs_never_below", "Y_0 < Y_1", Verdict.PROVED),
                                   ("abs_reaches_one", "Y_0 >= 1 and X_0 < 0", Verdict.REFUTED)):
        theorem = catalogue.Theorem(name, "test", unreachable_claim(net, parse_unsafe(unsafe), box), expected)
        result, facts = theorem.run_with_facts(Config(timeout_s=5))
        assert result.verdict is expected
        rows.append((theorem, result, facts))
    doc = report.catalogue_json(rows, 0.1)
    assert doc["all_as_expected"] and doc["theorems"][1]["reached_disjunct"] == 0
    assert doc["theorems"][1]["outputs"] == {"Y_0": "1", "Y_1": "-1"}
    paths = report.write_reports(rows, 0.1, tmp_path / "rep")
    assert paths[0].name == "index.html" and "never reaches" in (tmp_path / "rep" / "index.md").read_text()
