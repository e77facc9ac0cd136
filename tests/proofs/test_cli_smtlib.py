"""``--smtlib FILE`` on claim, check and vnnlib: cvc5 and z3 decide the file as the command did (about 4 s)."""

from __future__ import annotations

import json

import z3

from proofs import cli, cli_smtlib
from verify import certificate_smt

MIN_MODEL = {"layers": [{"W": [[1, 0], [-1, 0], [1, -1]], "b": None}, {"W": [[1, -1, -1]], "b": [0]}],
             "activations": ["relu", "linear"], "inputs": ["x1", "x2"], "outputs": ["y"]}


def run(capsys, *argv):
    if "--timeout" not in argv and "--instances" not in argv:
        argv = (*argv, "--timeout", "120")  # the first command of a loaded machine also pays for the imports
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def answers(path) -> tuple[str, str]:
    """cvc5's and z3's answers on the file, each reading it on its own."""
    text = path.read_text()
    canonical = certificate_smt.canonical(text)
    logic = canonical[len("(set-logic "):canonical.index(")")]
    cvc5, problem, _ = certificate_smt.run_cvc5(canonical, logic, None)
    assert not problem, problem
    solver = z3.Solver()
    solver.from_string(text)
    return cvc5, str(solver.check())


def test_claim_writes_the_query_whatever_method_decided(capsys, tmp_path):
    path = tmp_path / "q.smt2"
    cases = [  # (network, options, exit code, method)
        ("relu(x) - relu(-x)", ["--target", "x"], 0, "z3"),
        ("x1 - relu(x1 - x2)", ["--target", "min(x1, x2)", "--domain", "[-1, 1]^2"], 0, "regions"),
        ("relu(x1) - relu(x1 - x2)", ["--target", "min(x1, x2)", "--domain", "[-1, 1]^2"], 1, "regions"),
        ("relu(x)", ["--target", "x", "--domain", "x in {-2..2}"], 1, "exhaustive"),
        ("relu(x1 - x2)", ["--target", "x1 > x2"], 0, "z3"),
        ("relu(x) - relu(-x)", ["--target", "x + 1/10", "--tolerance", "1/20"], 1, "falsification"),
    ]
    for network, options, code, method in cases:
        path.unlink(missing_ok=True)
        got, out, err = run(capsys, "claim", network, *options, "--smtlib", str(path))
        assert got == code and f"({method}" in out, out + err
        assert f"smtlib: {path} (" in out and "unsat = the claim holds" in out
        expected = "unsat" if code == 0 else "sat"
        assert answers(path) == (expected, expected), (network, options)


def test_check_and_json_report_the_file(capsys, tmp_path):
    model, path = tmp_path / "min.json", tmp_path / "q.smt2"
    model.write_text(json.dumps(MIN_MODEL))
    code, out, err = run(capsys, "check", str(model), "--target", "min(x1, x2)", "--domain", "R^2",
                         "--smtlib", str(path), "--json")
    facts = json.loads(out)
    assert code == 0 and facts["smtlib"] == {"files": [str(path)], "bytes": [path.stat().st_size],
                                             "logics": ["QF_LRA"]}, out + err
    assert answers(path) == ("unsat", "unsat")


def test_vnnlib_writes_one_query_per_box(capsys, tmp_path):
    model, path = tmp_path / "min.json", tmp_path / "q.smt2"
    model.write_text(json.dumps(MIN_MODEL))
    boxes = ["--input-box", "X_0 in [-1, 0], X_1 in [0, 1]", "--input-box", "X_0 in [0, 1], X_1 in [0, 1]"]
    code, out, err = run(capsys, "vnnlib", str(model), *boxes, "--unsafe", "Y_0 >= 3/2", "--smtlib", str(path))
    assert code == 0, out + err
    files = cli_smtlib.paths(path, 2)
    assert [f.name for f in files] == ["q.box0.smt2", "q.box1.smt2"] and not path.exists()
    assert all(answers(f) == ("unsat", "unsat") for f in files)
    code, out, _ = run(capsys, "vnnlib", str(model), *boxes, "--unsafe", "Y_0 >= 1/2", "--smtlib", str(path))
    assert code == 1 and "smtlib:" in out  # violated in the second box only
    assert [answers(f)[0] for f in files] == ["unsat", "sat"]


def test_a_claim_z3_cannot_encode_writes_nothing_and_keeps_its_verdict(capsys, tmp_path):
    path = tmp_path / "q.smt2"
    code, out, _ = run(capsys, "claim", "relu(x)", "--target", "x*x", "--domain", "x in {0, 1, 2}",
                       "--smtlib", str(path))  # decided point by point; z3 takes no powers of inputs
    assert code == 1 and "smtlib: not written: z3 cannot encode this claim" in out and not path.exists()


def test_smtlib_needs_a_writable_file_and_is_not_taken_with_instances(capsys, tmp_path):
    code, _, err = run(capsys, "claim", "x", "--target", "x", "--smtlib", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    code, _, err = run(capsys, "vnnlib", "--instances", "x.csv", "--smtlib", str(tmp_path / "q.smt2"))
    assert code == 2 and "--smtlib" in err
