"""``--cross-check`` on prove, claim, check and vnnlib: a second route confirms each verdict, a
contradiction is a failure with both answers shown, and no second route is said plainly."""

from __future__ import annotations

import json

from proofs import cli
from verify import certificate, cross_check
from verify.result import Verdict

MIN_MODEL = {"layers": [{"W": [[1, 0], [-1, 0], [1, -1]], "b": None}, {"W": [[1, -1, -1]], "b": [0]}],
             "activations": ["relu", "linear"], "inputs": ["x1", "x2"], "outputs": ["y"]}
MIN3 = "x1 - relu(x1 - x2) - relu(x1 - relu(x1 - x2) - x3)"  # min(x1, x2, x3): 3 inputs go to branch and bound


def run(capsys, *argv):
    if argv[0] in ("claim", "check", "vnnlib") and "--timeout" not in argv:
        argv = (*argv, "--timeout", "120")  # the first command of a loaded machine also pays for the imports
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_branch_and_bound_proof_is_confirmed_by_the_exact_certificate_check(capsys):
    code, out, err = run(capsys, "claim", MIN3, "--target", "min(x1, x2, x3)", "--domain", "[-1, 1]^3", "--tolerance", "1/2",
                         "--cross-check", "--json")
    facts = json.loads(out)
    assert code == 0 and facts["method"] == "bab", out + err
    check = facts["cross_check"]
    assert check["agree"] is True and check["confirmed_by"] == ["bab", "exact certificate check"]
    assert check["certificate_kind"] == "bab"


def test_a_refutation_is_confirmed_by_an_exact_replay(capsys):
    code, out, _ = run(capsys, "claim", "relu(x1) - relu(x1 - x2)", "--target", "min(x1, x2)",
                       "--domain", "[-1, 1]^2", "--cross-check")
    assert code == 1 and "cross-check: confirmed by" in out and "exact replay" in out


def test_check_on_a_model_file_reports_the_cross_check(capsys, tmp_path):
    model = tmp_path / "m.json"
    model.write_text(json.dumps(MIN_MODEL))
    code, out, _ = run(capsys, "check", str(model), "--target", "min(x1, x2)", "--domain", "[-2, 3]^2",
                       "--tolerance", "1/10", "--cross-check", "--json")
    facts = json.loads(out)
    assert code == 0 and facts["verdict"] == "proved"
    assert facts["cross_check"]["agree"] is not False and facts["cross_check"]["routes"][0] == facts["method"]


def test_a_contradicting_second_route_is_a_failure_with_both_answers(capsys, monkeypatch):
    def rejects(cert, workers=1, timeout_s=None, limits=certificate.Limits()):
        return certificate.CheckReport(False, ("tree/0: the lower bound -1 of phi is not > 0",), 1, 0, 0.0)

    monkeypatch.setattr(certificate, "check", rejects)
    code, out, err = run(capsys, "claim", MIN3, "--target", "min(x1, x2, x3)", "--domain", "[-1, 1]^3", "--tolerance", "1/2",
                         "--cross-check")
    assert code == 4, out + err
    assert "DISAGREEMENT between bab and exact certificate check" in out
    assert "bab says proved" in out and "the lower bound -1 of phi is not > 0" in out
    assert err.startswith("error: two routes disagree")


def test_unknown_and_no_certificate_are_not_confirmed_and_say_why():
    from verify.claim import Claim, Equality
    from verify.domain import Domain, RealInterval
    from verify.result import Result
    from symbolic.circuit import from_layers
    from symbolic.relu import sym

    net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    claim = Claim(net, abs(sym("x")), Domain({"x": RealInterval(-1, 1)}), Equality())
    unknown = cross_check.cross_check(Result(claim, Verdict.UNKNOWN, "z3", 0.0, reason="timeout"))
    assert unknown.agree is None and "nothing to confirm" in unknown.detail
    bare = cross_check.cross_check(Result(claim, Verdict.PROVED, "mystery", 0.0))
    assert bare.agree is None and bare.detail.startswith("no second route:")
    assert bare.line().startswith("not confirmed:")


def test_vnnlib_cross_checks_every_box_of_a_property_that_holds(capsys, tmp_path):
    model = tmp_path / "m.json"
    model.write_text(json.dumps(MIN_MODEL))
    code, out, _ = run(capsys, "vnnlib", str(model), "--input-box", "X_0 in [0, 1], X_1 in [0, 1]",
                       "--input-box", "X_0 in [-1, 0], X_1 in [-1, 0]", "--unsafe", "Y_0 > 2", "--cross-check", "--json")
    facts = json.loads(out)
    assert code == 0 and facts["verdict"] == "holds"
    assert [c["box"] for c in facts["cross_check"]] == [0, 1]
    assert all(c["agree"] is not False for c in facts["cross_check"])


def test_prove_cross_check_and_certificates_folder(capsys, tmp_path):
    code, out, _ = run(capsys, "prove", "minimum", "absolute_value", "wrong_minimum", "--cross-check",
                       "--certificate", str(tmp_path), "--json")
    doc = json.loads(out)
    assert code == 0 and all("cross_check" in t for t in doc["theorems"])
    for path in tmp_path.glob("*.json"):
        assert certificate.check(certificate.load(path)).ok, path


def test_a_z3_refutation_with_symbolic_weights_is_confirmed_by_cvc5_on_its_satisfiable_query(capsys, tmp_path):
    code, out, _ = run(capsys, "prove", "identity_family_needs_opposite_signs", "--cross-check", "--json",
                       "--certificate", str(tmp_path))
    [theorem] = json.loads(out)["theorems"]
    assert code == 0 and theorem["verdict"] == "refuted"
    assert theorem["cross_check"]["confirmed_by"] == ["z3", "cvc5"]
    cert = certificate.load(tmp_path / "identity_family_needs_opposite_signs.json")
    assert cert["kind"] == "smt" and cert["expected"] == "sat" and certificate.check(cert).ok
    report = certificate.check({**cert, "expected": "unsat", "z3": "unsat"})  # the answer flipped: rejected
    assert not report.ok


def test_prove_smtlib_writes_each_theorems_query(capsys, tmp_path):
    import z3

    folder = tmp_path / "queries"
    code, out, _ = run(capsys, "prove", "minimum", "wrong_minimum", "is_even_4bit", "--smtlib", str(folder))
    assert code == 0 and "SMT-LIB queries: 3 of 3 written" in out
    for name, answer in (("minimum", z3.unsat), ("wrong_minimum", z3.sat), ("is_even_4bit", z3.unsat)):
        solver = z3.Solver()
        solver.from_file(str(folder / f"{name}.smt2"))
        assert solver.check() == answer, name
