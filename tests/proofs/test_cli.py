"""The command line: verdicts, exit codes, JSON shape, one-line errors, hostile input, reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proofs import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,code,verdict", [
    (["relu(x1) - relu(-x1) - relu(x1 - x2)", "--target", "min(x1, x2)", "--domain", "R^2"], 0, "proved"),
    (["x1 - relu(x2 - x1)", "--target", "min(x1, x2)"], 1, "refuted"),
    (["relu(x1) - relu(-x1) - relu(x1 - x2)", "--target", "min(x1, x2)",
      "--domain", "x1 in [-1, 1], x2 in (0, oo)"], 0, "proved"),
    (["relu(-x + 8) + relu(x - 8)", "--target", "abs(x - 8)", "--domain", "x in {0..15}"], 0, "proved"),
    (["relu(10 - x) - relu(9 - x)", "--target", "[x < 10]", "--domain", "x in Z"], 0, "proved"),
    (["relu(10 - x) - relu(9 - x)", "--target", "[x < 10]"], 1, "refuted"),
    (["relu(x1 - x2)", "--target", "x1 > x2"], 0, "proved"),
    (["relu(x1)", "--target", "x1 + 1/1000", "--domain", "x1 in [0, 1]", "--tolerance", "1e-3"], 0, "proved"),
    (["relu(x1)", "--target", "x1 + 1/1000", "--domain", "x1 in [0, 1]", "--tolerance", "1e-4"], 1, "refuted"),
    (["relu(w1*x)/w1 + relu(w2*x)/w2", "--target", "x", "--parameters", "w1,w2",
      "--domain", "w1 > 0, w2 < 0"], 0, "proved"),
])
def test_claim_verdicts_and_exit_codes(capsys, argv, code, verdict):
    got, out, err = run(capsys, "claim", *argv, "--json")
    assert got == code, err
    data = json.loads(out)
    assert data["verdict"] == verdict
    for key in ("verdict", "counterexample", "network_value", "target_value", "method", "elapsed_s"):
        assert key in data
    if verdict == "refuted":
        assert all(isinstance(v, str) for v in data["counterexample"].values())
        assert data["network_value"] != data["target_value"] or "--tolerance" in argv
    else:
        assert data["counterexample"] is None


def test_claim_unknown_exit_code_is_3(capsys, monkeypatch):
    from verify import decide as decide_module
    from verify.result import Result, Verdict

    def give_up(claim, config):
        return Result(claim, Verdict.UNKNOWN, "z3", 0.0, reason="z3: timeout")

    monkeypatch.setattr(decide_module, "decide", give_up)
    code, out, _ = run(capsys, "claim", "relu(x)", "--target", "x")
    assert code == 3 and "unknown" in out


HOSTILE = [
    ["__import__('os').system('touch /tmp/mathcircuits_pwned')", "--target", "x"],
    ["relu(x)", "--target", "x.__class__"],
    ["relu(x)", "--target", "x", "--domain", "x in [0, __import__('os')]"],
    ["relu(x)", "--target", "lambda: 1"],
    ["relu(x)", "--target", "x", "--tolerance", "eval('1')"],
    ["relu(x)", "--target", "x", "--inputs", "x; rm -rf /"],
    ["x*y", "--target", "x"],
    ["sin(x)", "--target", "x"],
    ["relu(x)", "--target", "x", "--domain", "x in [2, 1]"],
    ["relu(x)", "--target", "x", "--domain", "q in [0, 1]"],
    ["relu(x)", "--target", "x1 > 0", "--tolerance", "1"],
    ["(" * 5000 + "x" + ")" * 5000, "--target", "x"],
    ["relu(x)"],
]


@pytest.mark.parametrize("argv", HOSTILE, ids=range(len(HOSTILE)))
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    code, out, err = run(capsys, "claim", *argv)
    assert code == 2
    assert err.startswith("mathcircuits: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not Path("/tmp/mathcircuits_pwned").exists()


def test_prove_runs_catalogue_and_writes_report(capsys, tmp_path):
    code, out, _ = run(capsys, "prove", "--report", str(tmp_path / "r"))
    assert code == 0
    assert "all as expected" in out
    for name in ("identity", "is_even_4bit_0_31", "wrong_minimum", "identity_family"):
        assert name in out
    data = json.loads((tmp_path / "r" / "catalogue.json").read_text())
    assert data["all_as_expected"] and len(data["theorems"]) >= 30
    assert "| is_even_4bit_Z |" in (tmp_path / "r" / "index.md").read_text()


def test_prove_selected_json(capsys):
    code, out, _ = run(capsys, "prove", "is_even_4bit_Z", "identity", "--json")
    data = json.loads(out)
    assert code == 0 and [t["name"] for t in data["theorems"]] == ["is_even_4bit_Z", "identity"]
    refuted = data["theorems"][0]
    assert refuted["verdict"] == "refuted" and refuted["counterexample"]["x"]


def test_prove_unknown_theorem_is_bad_input(capsys):
    code, _, err = run(capsys, "prove", "no_such_theorem")
    assert code == 2 and "no_such_theorem" in err


def test_prove_exit_code_is_1_when_a_verdict_differs(capsys, monkeypatch):
    from proofs import catalogue
    from verify.result import Verdict

    theorem = catalogue.select(["identity"])[0]
    flipped = catalogue.Theorem(theorem.name, theorem.source, theorem.claim, Verdict.REFUTED)
    monkeypatch.setattr(catalogue, "select", lambda names: [flipped])
    code, out, _ = run(capsys, "prove")
    assert code == 1 and "NOT as expected" in out


def test_report_into_unwritable_place_is_clear_error(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "prove", "identity", "--report", str(blocker / "sub"))
    assert code == 2 and "cannot write the report" in err


def test_console_script_entry_point_works_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "proofs.cli", "claim", "relu(x)", "--target", "abs(x)"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "refuted" in proc.stdout


def test_prove_does_not_import_torch():
    code = "import sys; from proofs import cli; cli.main(['prove']); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().endswith("False")


SIGMOID_MODEL = {"layers": [{"W": [[1.5]], "b": [0.5]}, {"W": [[2.0]], "b": [0]}],
                 "activations": ["sigmoid", "linear"], "inputs": ["x"], "outputs": ["y"]}


def test_check_on_a_sigmoid_model_with_a_bounded_domain_decides_and_says_why_there_is_no_max_error(capsys, tmp_path):
    import json

    path = tmp_path / "sig.json"
    path.write_text(json.dumps(SIGMOID_MODEL))
    code, out, err = run(capsys, "check", str(path), "--target", "1", "--domain", "[-1, 1]", "--tolerance", "2",
                         "--json")
    facts = json.loads(out)
    assert code == 0 and facts["verdict"] == "proved", out + err  # 0 < 2 sigmoid < 2
    assert facts["max_error"] is None and "ReLU and linear networks only" in facts["max_error_reason"]
    code, _, err = run(capsys, "check", str(path), "--target", "1", "--domain", "[-1, 1]", "--max-error")
    assert code == 2 and err.count("\n") == 1 and "--max-error" in err
