"""``"kind": "regions"`` certificates: proofs by region enumeration are certified and check; every
single-field change of the proof (a point, a cell, a pattern bit, a vertex index) is rejected, and a
change of the statement (network, box, unsafe set) is accepted only when the toolkit proves the
changed statement; the soundness corner cases of the format are rejected."""

from __future__ import annotations

import copy
import json
from fractions import Fraction as F
from pathlib import Path

import pytest
import sympy as sp

from networks.library import make_absolute_value, make_minimum
from networks.model_files import load_model
from proofs import cli
from symbolic import errors
from symbolic.errors import CertificateError
from symbolic.relu import sym
from tests.verify.certificate_tampering import circuit_of, get, mutations, retyped
from verify import certificate, certificate_regions
from verify.claim import Claim, Equality, Tolerance
from verify.regions import enumerate_regions, form_value, to_fraction
from verify.decide import decide
from verify.domain import Domain, RealInterval
from verify.result import Verdict
from verify.result_to_certificate import certificate_of

BENCH = Path("/work/shared/bench/models")
MIN = sp.Min(sym("x1"), sym("x2"))
SQUARE = Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(-1, 1)})


def accepted(cert) -> bool:
    try:
        return certificate.check(cert).ok
    except CertificateError:
        return False


def regions_certificate(claim) -> dict:
    result = decide(claim)
    assert result.verdict is Verdict.PROVED and result.method == "regions", result
    return json.loads(json.dumps(certificate_of(result)))


_TRUTH: dict[str, bool] = {}


def statement_holds(cert) -> bool:
    """Whether the certificate's network never reaches its unsafe set on its box, by the toolkit's own
    region enumeration (verify.regions, gmpy2 rationals): on each of its cells every disjunct has an
    atom that fails at every vertex (exact for one-atom disjuncts). False if it cannot read it."""
    key = json.dumps([cert.get("network"), cert.get("box"), cert.get("unsafe")], sort_keys=True)
    if key not in _TRUTH:
        try:
            circuit = circuit_of(cert["network"])
            box = {n: (F(lo), F(hi)) for n, (lo, hi) in cert["box"].items()}
            cells = enumerate_regions(circuit, box)
            _TRUTH[key] = bool(cells) and all(
                any(all(not _holds(atom, _values(circuit, cell, v)) for v in cell.vertices) for atom in disjunct)
                for cell in cells for disjunct in cert["unsafe"])
        except (errors.MathCircuitsError, ValueError, KeyError, TypeError, ZeroDivisionError):
            _TRUTH[key] = False
    return _TRUTH[key]


def _holds(atom, values) -> bool:
    lhs = sum((F(c) * values[n] for n, c in atom["coeffs"].items()), F(0))
    return {"<": lhs < F(atom["rhs"]), "<=": lhs <= F(atom["rhs"]), ">": lhs > F(atom["rhs"]),
            ">=": lhs >= F(atom["rhs"])}[atom["op"]]


def _values(circuit, cell, vertex) -> dict:
    out = {n: to_fraction(x) for n, x in zip(circuit.inputs, vertex)}
    out.update({n: to_fraction(form_value(cell.forms[n], vertex)) for n in circuit.outputs})
    return out


@pytest.fixture(scope="module")
def hand_min():
    return regions_certificate(Claim(make_minimum(), MIN, SQUARE, Equality()))


@pytest.fixture(scope="module")
def one_input():
    return regions_certificate(Claim(make_absolute_value(), sp.Abs(sym("x")), Domain({"x": RealInterval(-1, 2)})))


@pytest.fixture(scope="module")
def trained():
    """A trained 2-input model: a bench model when ../shared is there, else one of the repository."""
    path = BENCH / "mlp_w4.json" if (BENCH / "mlp_w4.json").exists() else Path("networks/trained/minimum_seed0.json")
    return regions_certificate(Claim(load_model(path), MIN, SQUARE, Tolerance(F(1, 10))))


def test_proofs_by_regions_carry_a_certificate_that_checks(hand_min, one_input, trained):
    for cert in (hand_min, one_input, trained):
        report = certificate.check(cert)
        assert report.ok and report.kind == "regions" and report.leaves == len(cert["cells"]) >= 2, report.problems
        assert "cells" in report.summary()
    assert len(one_input["points"][0]) == 1 and all(len(c["vertices"]) == 2 for c in one_input["cells"])


@pytest.mark.parametrize("name", ["hand_min", "mlp_w8", "mlp_8x8"])
def test_bench_models(name):
    if not (BENCH / f"{name}.json").exists():
        pytest.skip("../shared/bench is not there")
    cert = regions_certificate(Claim(load_model(BENCH / f"{name}.json"), MIN, SQUARE, Tolerance(F(1, 10))))
    assert certificate.check(cert).ok


NEUTRAL = ("cells: swap [0] and [1]", "points: duplicate [0]")  # reorder cells; an unused extra point


@pytest.mark.parametrize("which", ["hand_min", "one_input", "trained"])
def test_every_change_of_the_proof_is_rejected(which, request):
    cert = request.getfixturevalue(which)
    total = 0
    for what, changed in mutations({k: cert[k] for k in ("format", "version", "kind", "points", "cells")}):
        full = {**cert, "points": changed.get("points"), "cells": changed.get("cells")}
        full = {k: v for k, v in full.items() if v is not None}
        total += 1
        assert accepted(full) == (what in NEUTRAL), what
    assert total > 50


@pytest.mark.parametrize("which", ["hand_min", "one_input"])
def test_a_change_of_the_statement_is_accepted_only_when_the_toolkit_proves_it(which, request):
    cert = request.getfixturevalue(which)
    total = rejected = 0
    for what, changed in mutations({k: v for k, v in cert.items() if k not in ("points", "cells")}):
        changed.update(points=cert["points"], cells=cert["cells"])
        total += 1
        if accepted(changed):
            assert statement_holds(changed), what
        else:
            rejected += 1
    assert total > 100 and rejected > 0.8 * total


def test_the_named_tampers_are_rejected(trained, hand_min):
    tampered = []
    c = copy.deepcopy(trained)
    c["unsafe"][0][0]["rhs"] = "1/100"       # eps lowered below the model's worst error (0.0286 for mlp_w4)
    c["unsafe"][1][0]["rhs"] = "1/100"
    tampered.append(c)
    c = copy.deepcopy(hand_min); del c["cells"][2]; tampered.append(c)                  # a cell dropped
    c = copy.deepcopy(hand_min); c["points"][4][0] = str(F(c["points"][4][0]) + F(1, 10**9)); tampered.append(c)
    c = copy.deepcopy(hand_min); p = c["cells"][0]["pattern"]
    c["cells"][0]["pattern"] = ("1" if p[0] == "0" else "0") + p[1:]; tampered.append(c)  # a sign flipped
    c = copy.deepcopy(hand_min); c["box"]["x1"][1] = "2"; tampered.append(c)            # the box widened
    c = copy.deepcopy(hand_min); c["cells"].append(copy.deepcopy(c["cells"][0])); tampered.append(c)
    for c in tampered:
        assert not accepted(c)
    assert not statement_holds(tampered[0]) and statement_holds(trained)


# -- the soundness corner cases, by hand --------------------------------------------------------------
def net(assignments, inputs=("x",), outputs=("d",)):
    return {"inputs": list(inputs), "outputs": list(outputs),
            "assignments": [{"name": n, "terms": [[s, w] for s, w in terms], "bias": b, "activation": a}
                            for n, terms, b, a in assignments]}


def regions(network, box, unsafe, points, cells):
    return copy.deepcopy({"format": certificate.FORMAT, "version": 1, "kind": "regions", "network": network,
                          "box": box, "unsafe": unsafe, "points": points,
                          "cells": [{"pattern": p, "vertices": v} for p, v in cells]})


def test_a_pre_activation_that_is_zero_on_a_cell_must_be_written_inactive():
    # h = relu(0) is 0 everywhere: both patterns hold on [0, 1], so two copies of it would count its
    # length twice and leave (1, 2] -- where d = x > 3/2 -- uncovered
    network = net([("h", [], "0", "relu"), ("d", [("x", "1")], "0", "linear")])
    unsafe = [[{"coeffs": {"d": "1"}, "op": ">", "rhs": "3/2"}]]
    twice = regions(network, {"x": ["0", "2"]}, unsafe, [["0"], ["1"]], [("0", [0, 1]), ("1", [0, 1])])
    report = certificate.check(twice)
    assert not report.ok and "is 0 at every vertex (write it inactive)" in report.problems[0]
    honest = regions(network, {"x": ["0", "1"]}, unsafe, [["0"], ["1"]], [("0", [0, 1])])
    assert accepted(honest)


SQUARE_NET = net([("d", [("x1", "0"), ("x2", "0")], "0", "linear")], inputs=("x1", "x2"))
NEVER = [[{"coeffs": {"d": "1"}, "op": ">", "rhs": "1"}]]
BOX = {"x1": ["0", "2"], "x2": ["0", "2"]}


@pytest.mark.parametrize("points, vertices, message", [
    ([["0", "0"], ["2", "0"], ["2", "2"], ["0", "2"]], [0, 3, 2, 1], "strict left turn"),         # clockwise
    ([["0", "0"], ["1", "0"], ["2", "0"], ["2", "2"], ["0", "2"]], [0, 1, 2, 3, 4], "strict left turn"),  # collinear
    ([["0", "0"], ["2", "0"], ["2", "2"], ["0", "2"]], [0, 1, 2, 2, 3], "strict left turn"),     # repeated vertex
    ([["0", "0"], ["2", "0"], ["3", "2"], ["0", "2"]], [0, 1, 2, 3], "outside the box"),
    ([["0", "0"], ["2", "0"], ["1", "1"]], [0, 1, 2], "total area 1"),                        # a hole left
])
def test_bad_polygons(points, vertices, message):
    report = certificate.check(regions(SQUARE_NET, BOX, NEVER, points, [("", vertices)]))
    assert not report.ok and any(message in p for p in report.problems), report.problems


def test_a_polygon_that_winds_twice_is_rejected():
    # a pentagram: every turn is a left turn, but it goes twice around its centre
    points = [["2", "1"], ["0", "3/2"], ["3/2", "0"], ["3/2", "2"], ["0", "1/2"]]
    report = certificate.check(regions(SQUARE_NET, BOX, NEVER, points, [("", [0, 1, 2, 3, 4])]))
    assert not report.ok and "winds 2 times" in report.problems[0], report.problems


def test_an_unsafe_cell_and_a_second_square_with_the_same_pattern():
    points = [["0", "0"], ["2", "0"], ["2", "2"], ["0", "2"]]
    reached = [[{"coeffs": {"d": "1"}, "op": ">=", "rhs": "0"}]]
    report = certificate.check(regions(SQUARE_NET, BOX, reached, points, [("", [0, 1, 2, 3])]))
    assert not report.ok and "disjunct 0" in report.problems[0]
    report = certificate.check(regions(SQUARE_NET, BOX, NEVER, points, [("", [0, 1, 2, 3]), ("", [1, 2, 3, 0])]))
    assert not report.ok and "the same pattern as cells[0]" in report.problems[0]
    assert accepted(regions(SQUARE_NET, BOX, NEVER, points, [("", [1, 2, 3, 0])]))


@pytest.mark.parametrize("change, message", [
    (lambda c: c["network"].update(inputs=["x1", "x2", "x3"]), "not defined|1 or 2 inputs|is not an input"),
    (lambda c: c["box"].update(x1=["1", "1"]), "lo < hi"),
    (lambda c: c["cells"][0].update(pattern="1"), "expected 0 characters"),
    (lambda c: c["cells"][0].update(vertices=[0, 1]), "3 to"),
    (lambda c: c["cells"][0].update(vertices=[0, 1, 7]), "not an index"),
    (lambda c: c["cells"][0].update(vertices=[0, 1, True]), "not an index"),
    (lambda c: c.update(cells=[]), "at least one cell"),
    (lambda c: c["points"].append(["1"]), "expected 2 items"),
    (lambda c: c["points"].append(["1", "0.5"]), "not a rational"),
    (lambda c: c.pop("points"), "missing field 'points'"),
    (lambda c: c["cells"][0].update(extra=1), "unknown field 'extra'"),
])
def test_malformed_certificates_are_refused(change, message):
    cert = regions(SQUARE_NET, BOX, NEVER, [["0", "0"], ["2", "0"], ["2", "2"], ["0", "2"]], [("", [0, 1, 2, 3])])
    assert accepted(cert)
    change(cert)
    with pytest.raises(CertificateError, match=message):
        certificate.check(cert)


def test_the_deadline_stops_the_check(trained):
    report = certificate.check(trained, timeout_s=0)
    assert report.timed_out and not report.ok and "timed out after 0 of" in report.problems[0]
    assert certificate_regions.MAX_VERTICES >= 3


# -- the command line: check writes it, certify checks it, also against the model -------------------------
def test_check_writes_a_regions_certificate_that_certify_matches_with_the_model(capsys, tmp_path):
    model, path = tmp_path / "min.json", tmp_path / "c.json"
    model.write_text(json.dumps({"layers": [{"W": [[1, 0], [-1, 0], [1, -1]], "b": None}, {"W": [[1, -1, -1]], "b": [0]}],
                                 "activations": ["relu", "linear"], "inputs": ["x1", "x2"], "outputs": ["y"]}))
    claim = ["--target", "min(x1, x2)", "--domain", "[-1, 1]^2", "--tolerance", "1/100"]
    assert cli.main(["check", str(model), *claim, "--certificate", str(path), "--timeout", "60"]) == 0
    assert "(kind regions" in capsys.readouterr().out
    assert cli.main(["certify", str(path)]) == 0
    assert "certificate checked: 4 cells" in capsys.readouterr().out
    assert cli.main(["certify", str(path), "--model", str(model), *claim]) == 0
    assert "equal to the network of" in capsys.readouterr().out
    data = json.loads(path.read_text())
    data["cells"].pop()
    path.write_text(json.dumps(data))
    assert cli.main(["certify", str(path)]) == 1
    assert "total area" in capsys.readouterr().out
    assert get(data, "box.x1") == ["-1", "1"]


def test_values_of_the_wrong_type_never_crash_the_checker(hand_min, one_input):
    for cert in (hand_min, one_input):
        for what, changed in retyped(cert):
            try:
                assert not certificate.check(changed).ok or statement_holds(changed), what
            except CertificateError:
                pass
