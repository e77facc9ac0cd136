"""``mathcircuits certify``: exit codes, a self-contained check, and the match with a model and claim."""

from __future__ import annotations

import argparse
import copy
import json
from fractions import Fraction as F

import pytest

from proofs import cli, cli_certify
from tests.verify.test_certificate import generate, random_claim
from verify.claim_to_problem import claim_to_problem

MIN_MODEL = {"layers": [{"W": [[1, 0], [-1, 0], [1, -1]], "b": None}, {"W": [[1, -1, -1]], "b": [0]}],
             "activations": ["relu", "linear"], "inputs": ["x1", "x2"], "outputs": ["y"]}
CLAIM = ["--target", "min(x1, x2)", "--domain", "[-1, 1]^2", "--tolerance", "1/4"]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def problem_certificate(problem) -> dict:
    """What the engine would write for ``problem``: its network, box and unsafe set, and a split
    tree from the test generator (built independently of the engine's search)."""
    network = {"inputs": list(problem.circuit.inputs), "outputs": list(problem.circuit.outputs),
               "assignments": [{"name": a.name, "terms": [[s, str(F(int(c.p), int(c.q)))] for s, c in a.terms],
                                "bias": str(F(int(a.bias.p), int(a.bias.q))), "activation": a.activation.value}
                               for a in problem.circuit.assignments]}
    box = {n: (F(lo), F(hi)) for n, (lo, hi) in zip(problem.inputs, problem.box)}
    unsafe = [[{"coeffs": {v: str(F(c)) for v, c in a.coeffs}, "op": a.op, "rhs": str(F(a.rhs))} for a in atoms]
              for atoms in problem.unsafe]
    c = generate(network, box, unsafe)
    c["source"] = {"statement": "test", "model": None, "model_sha256": None}
    return c


@pytest.fixture(scope="module")
def model_case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("certify")
    model = folder / "min.json"
    model.write_text(json.dumps(MIN_MODEL))
    args = argparse.Namespace(model=str(model), target="min(x1, x2)", domain="[-1, 1]^2", tolerance=F(1, 4),
                              vnnlib=None, inputs=None, max_model_bytes=None)
    (claim,) = cli_certify._claims(args)
    certificate = folder / "min.cert.json"
    data = problem_certificate(claim_to_problem(claim))
    certificate.write_text(json.dumps(data))
    return folder, model, certificate, data


def test_a_self_contained_certificate_checks_and_says_where_the_network_came_from(capsys, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(generate(*random_claim(2), relu_first=True)))
    code, out, err = run(capsys, "certify", str(path))
    assert code == 0, err
    assert "certificate checked" in out and "taken from the certificate itself" in out
    code, out, _ = run(capsys, "certify", str(path), "--json", "--workers", "2")
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["network_from"] == "certificate" and data["leaves"] > 1


def test_a_rejected_certificate_lists_its_problems_and_exits_1(capsys, tmp_path):
    c = generate(*random_claim(2))
    c["unsafe"][0][0]["rhs"] = "0"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(c))
    code, out, _ = run(capsys, "certify", str(path))
    assert code == 1 and "REJECTED" in out and "  - tree" in out


@pytest.mark.parametrize("text", ["{", "[]", '{"format": "mathcircuits-certificate", "version": 1, "kind": "bab"}',
                                  '{"format": "other"}', '{"a": NaN}'])
def test_malformed_files_exit_2_with_one_line(capsys, tmp_path, text):
    path = tmp_path / "c.json"
    path.write_text(text)
    code, out, err = run(capsys, "certify", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err


def test_unreadable_paths_exit_2(capsys, tmp_path):
    for path in (tmp_path / "missing.json", tmp_path):
        code, _, err = run(capsys, "certify", str(path))
        assert code == 2 and err.count("\n") == 1


def test_a_deadline_gives_exit_3(capsys, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(generate(*random_claim(1))))
    code, out, _ = run(capsys, "certify", str(path), "--timeout", "0.001")
    assert code == 3 and "timed out" in out


def test_the_certificate_matches_the_model_and_claim(capsys, model_case):
    _, model, certificate, _ = model_case
    code, out, err = run(capsys, "certify", str(certificate), "--model", str(model), *CLAIM)
    assert code == 0, out + err
    assert f"equal to the network of {model}" in out and "certificate checked" in out


@pytest.mark.parametrize("change,message", [
    (["--tolerance", "1/8"], "unsafe set is not the claim's"),
    (["--domain", "[-2, 1]^2"], "does not contain the domain"),
    (["--domain", "x1 in [-1, 1]"], "unbounded"),
    (["--target", "max(x1, x2)"], "weight of"),
])
def test_another_claim_is_rejected(capsys, model_case, change, message):
    _, model, certificate, _ = model_case
    options = dict(zip(CLAIM[::2], CLAIM[1::2]))
    options.update(zip(change[::2], change[1::2]))
    code, out, _ = run(capsys, "certify", str(certificate), "--model", str(model),
                       *[x for kv in options.items() for x in kv])
    assert code == 1 and "not about this model" in out and message in out


def test_another_model_is_rejected(capsys, model_case):
    folder, _, certificate, _ = model_case
    other = copy.deepcopy(MIN_MODEL)
    other["layers"][1]["W"][0][2] = -2
    path = folder / "other.json"
    path.write_text(json.dumps(other))
    code, out, _ = run(capsys, "certify", str(certificate), "--model", str(path), *CLAIM)
    assert code == 1 and "weight of h1_3 is -1 in the certificate but -2 in the model" in out


def test_a_wrong_fold_is_caught_by_the_spot_check(capsys, model_case):
    """Were the folded target wrong in the same way in the certificate and in the compile step, the
    exact values at the box's corners would still show it."""
    folder, model, _, data = model_case
    claim = cli_certify._claims(argparse.Namespace(model=str(model), target="min(x1, x2)", domain="[-1, 1]^2",
                                                   tolerance=F(1, 4), vnnlib=None, inputs=None,
                                                   max_model_bytes=None))[0]
    from verify import certificate

    network = certificate.parse_network(data["network"], certificate.Limits())
    box = certificate.parse_box(data["box"], network, certificate.Limits())
    assert cli_certify._spot_check(claim, network, box) == []
    wrong = copy.deepcopy(data)
    wrong["network"]["assignments"][-1]["bias"] = "1/8"
    network = certificate.parse_network(wrong["network"], certificate.Limits())
    assert "N - f = 0" in cli_certify._spot_check(claim, network, box)[0]


def test_claim_options_need_a_model_and_a_model_needs_a_claim(capsys, model_case):
    _, model, certificate, _ = model_case
    for argv in (["--target", "x1"], ["--model", str(model)], ["--model", str(model), "--target", "x1",
                                                               "--vnnlib", "p.vnnlib"]):
        code, _, err = run(capsys, "certify", str(certificate), *argv)
        assert code == 2 and err.count("\n") == 1


def test_a_vnnlib_property_matches(capsys, tmp_path):
    from networks.circuit_to_onnx import circuit_to_onnx
    from networks.json_to_circuit import loads
    from proofs.cli_vnnlib import load_network
    from proofs.vnnlib_to_spec import load_vnnlib

    model = tmp_path / "min.onnx"
    model.write_bytes(circuit_to_onnx(loads(json.dumps(MIN_MODEL))).model)
    prop = tmp_path / "p.vnnlib"
    prop.write_text("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
                    "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n"
                    "(assert (>= Y_0 1.5))\n")
    (claim,) = load_vnnlib(prop).claims(load_network(str(model)))
    path = tmp_path / "c.json"
    path.write_text(json.dumps(problem_certificate(claim_to_problem(claim))))
    code, out, err = run(capsys, "certify", str(path), "--model", str(model), "--vnnlib", str(prop))
    assert code == 0, out + err
    prop.write_text(prop.read_text().replace("1.5", "1.25"))
    code, out, _ = run(capsys, "certify", str(path), "--model", str(model), "--vnnlib", str(prop))
    assert code == 1 and "unsafe set" in out
