"""``--certificate FILE`` on claim, check and vnnlib; counterexample and bundle certificates, tampered."""

from __future__ import annotations

import copy
import json

import pytest

from proofs import cli
from verify import certificate
from symbolic.errors import CertificateError

MIN_MODEL = {"layers": [{"W": [[1, 0], [-1, 0], [1, -1]], "b": None}, {"W": [[1, -1, -1]], "b": [0]}],
             "activations": ["relu", "linear"], "inputs": ["x1", "x2"], "outputs": ["y"]}


def run(capsys, *argv):
    if argv[0] in ("claim", "check", "vnnlib") and "--timeout" not in argv and "--instances" not in argv:
        argv = (*argv, "--timeout", "120")  # the first command of a loaded machine also pays for the imports
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def written(path) -> dict:
    return json.loads(path.read_text())


def test_a_regions_proof_writes_its_cells(capsys, tmp_path):
    path = tmp_path / "c.json"
    code, out, err = run(capsys, "claim", "x1 - relu(x1 - x2)", "--target", "min(x1, x2)",
                         "--domain", "[-1, 1]^2", "--certificate", str(path))
    assert code == 0 and "proved (regions" in out, out + err
    assert f"certificate: {path} (kind regions" in out
    data = written(path)
    assert data["kind"] == "regions" and certificate.check(data).ok
    code, out, _ = run(capsys, "certify", str(path))
    assert code == 0 and "certificate checked" in out


def test_a_refutation_writes_its_point_and_certify_replays_it(capsys, tmp_path):
    path = tmp_path / "c.json"
    code, out, _ = run(capsys, "claim", "relu(x1) - relu(x1 - x2)", "--target", "min(x1, x2)",
                       "--domain", "[-1, 1]^2", "--certificate", str(path), "--json")
    facts = json.loads(out)
    assert code == 1 and facts["certificate"]["kind"] == "counterexample"
    data = written(path)
    assert data["point"] == facts["counterexample"]
    code, out, _ = run(capsys, "certify", str(path))
    assert code == 0 and "counterexample checked" in out and "refutes:" in out


def test_a_z3_proof_on_an_unbounded_domain_writes_its_smt_query(capsys, tmp_path):
    path = tmp_path / "c.json"
    code, out, _ = run(capsys, "claim", "x1 - relu(x1 - x2)", "--target", "min(x1, x2)", "--domain", "R^2",
                       "--certificate", str(path))
    assert code == 0 and "proved (z3" in out and f"certificate: {path} (kind smt" in out
    data = written(path)
    assert data["expected"] == data["z3"] == "unsat" and "(check-sat)" in data["smtlib"]
    code, out, _ = run(capsys, "certify", str(path))  # cvc5 re-decides the query
    assert code == 0 and "cvc5 re-decided the SMT-LIB query: unsat, as expected" in out


def test_check_writes_a_certificate_that_matches_the_model_and_no_other_claim(capsys, tmp_path):
    model, path = tmp_path / "min.json", tmp_path / "c.json"
    model.write_text(json.dumps(MIN_MODEL))
    claim = ["--target", "min(x1, x2)", "--domain", "[-1, 1]^2", "--tolerance", "1/100"]
    code, out, err = run(capsys, "check", str(model), *claim, "--certificate", str(path))
    assert code == 0 and "kind regions" in out, out + err  # proved by regions: its cells
    code, out, _ = run(capsys, "certify", str(path), "--model", str(model), *claim)
    assert code == 0 and "equal to the network of" in out
    code, out, _ = run(capsys, "certify", str(path), "--model", str(model), *claim[:-1], "1/1000")
    assert code == 1 and "unsafe set" in out


def test_vnnlib_bundles_one_proof_per_box_and_certify_matches_each(capsys, tmp_path):
    from networks.circuit_to_onnx import circuit_to_onnx
    from networks.json_to_circuit import loads

    model = tmp_path / "min.onnx"
    model.write_bytes(circuit_to_onnx(loads(json.dumps(MIN_MODEL))).model)
    prop = tmp_path / "p.vnnlib"  # two boxes: N = min(x1, x2) <= 1 never reaches Y_0 >= 3/2
    prop.write_text("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
                    "(assert (or (and (>= X_0 -1) (<= X_0 0) (>= X_1 0) (<= X_1 1))\n"
                    "            (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1))))\n"
                    "(assert (>= Y_0 1.5))\n")
    path = tmp_path / "c.json"
    code, out, err = run(capsys, "vnnlib", str(model), str(prop), "--certificate", str(path))
    assert code == 0, out + err
    data = written(path)
    assert data["kind"] == "all" and len(data["parts"]) == 2 and certificate.check(data).ok
    code, out, _ = run(capsys, "certify", str(path), "--model", str(model), "--vnnlib", str(prop))
    assert code == 0, out
    data["parts"].reverse()  # each part must be about its own box
    path.write_text(json.dumps(data))
    code, out, _ = run(capsys, "certify", str(path), "--model", str(model), "--vnnlib", str(prop))
    assert code == 1 and "part 0" in out
    prop.write_text(prop.read_text().replace("1.5", "0.5"))  # now violated: the point of one box
    code, out, _ = run(capsys, "vnnlib", str(model), str(prop), "--certificate", str(path))
    assert code == 1 and written(path)["kind"] == "counterexample"
    code, out, _ = run(capsys, "certify", str(path), "--model", str(model), "--vnnlib", str(prop))
    assert code == 0, out


def test_certificate_needs_a_writable_file_and_is_not_taken_with_instances(capsys, tmp_path):
    code, _, err = run(capsys, "claim", "x", "--target", "x", "--certificate", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    code, _, err = run(capsys, "vnnlib", "--instances", "x.csv", "--certificate", str(tmp_path / "c.json"))
    assert code == 2 and "--certificate" in err


# -- the counterexample and bundle kinds, tampered -----------------------------------------------------
def point_certificate() -> dict:
    from fractions import Fraction

    import sympy as sp

    from networks.json_to_circuit import loads
    from verify.claim import Claim, Tolerance
    from verify.domain import Domain, RealInterval
    from verify.result import Result, Verdict, confirmed
    from verify.result_to_certificate import certificate_of

    net = loads(json.dumps(MIN_MODEL))
    x1, x2 = sp.symbols("x1 x2")
    domain = Domain({"x1": RealInterval(Fraction(-1), Fraction(1), hi_open=True), "x2": RealInterval(Fraction(-1), Fraction(1))})
    claim = Claim(net, sp.Max(x1, x2), domain, Tolerance(Fraction(1, 4)))
    cex = confirmed(claim, {"x1": Fraction(1, 2), "x2": Fraction(-1, 2)}, "test")
    return certificate_of(Result(claim, Verdict.REFUTED, "test", 0.0, cex))


def mutations(cert: dict):
    """Single-field changes that each make the point no counterexample (N = min, f = max, the point
    (1/2, -1/2) has N - f = -1 and the claim is |N - f| <= 1/4 with x1 in [-1, 1))."""
    for name, value in (("x1", "1"), ("x1", "-2"), ("x2", "1/2"), ("x2", "3/2")):
        c = copy.deepcopy(cert)   # the open end; outside; N = f there; outside
        c["point"][name] = value
        yield f"point.{name}={value}", c
    c = copy.deepcopy(cert)
    c["domain"]["x1"]["interval"][1] = "1/4"
    yield "domain shrunk", c
    c = copy.deepcopy(cert)
    c["domain"]["x1"] = {"values": ["0", "1"]}
    yield "domain a finite set", c
    c = copy.deepcopy(cert)
    for disjunct in c["unsafe"]:
        disjunct[0]["rhs"] = "100"
    yield "unsafe set moved", c
    c = copy.deepcopy(cert)
    c["network"]["assignments"][-1]["bias"] = "1"   # the difference output: N - f + 1 = 0 there
    yield "a bias", c
    c = copy.deepcopy(cert)
    terms = c["network"]["assignments"][-1]["terms"]
    terms[0][1] = str(-int(terms[0][1].split("/")[0]) * 1) + ("/" + terms[0][1].split("/")[1] if "/" in terms[0][1] else "")
    yield "a weight's sign", c


def test_a_counterexample_certificate_checks_and_every_mutation_is_rejected():
    cert = point_certificate()
    assert certificate.check(cert).ok
    for what, tampered in mutations(cert):
        assert not certificate.check(tampered).ok, what


def test_a_counterexample_certificate_is_validated_strictly():
    cert = point_certificate()
    for change in (lambda c: c["point"].pop("x1"), lambda c: c.update(reached=5),
                   lambda c: c["domain"].update(x1={"interval": ["1", "-1"]}),
                   lambda c: c["domain"].update(x1={"integers": ["1/2", "3"]}),
                   lambda c: c["domain"].update(x1={"colour": "red"}), lambda c: c.update(extra=1)):
        tampered = copy.deepcopy(cert)
        change(tampered)
        with pytest.raises(CertificateError):
            certificate.check(tampered)


def test_a_bundle_needs_every_part():
    cert = point_certificate()
    bad = copy.deepcopy(cert)
    bad["point"]["x1"] = "-2"
    bundle = {"format": certificate.FORMAT, "version": 1, "kind": "all", "parts": [cert, cert]}
    report = certificate.check(bundle)
    assert report.ok and report.parts == 2
    bundle["parts"][1] = bad
    report = certificate.check(bundle)
    assert not report.ok and report.problems[0].startswith("part 1:")
    for parts in ([], [bundle]):
        with pytest.raises(CertificateError):
            certificate.check({**bundle, "parts": parts})
