"""``mathcircuits equiv``: verdicts and exit codes on model files and expressions, exact replayed
counterexamples, certified proofs on 3 inputs, unknown within the budget, and one-line errors."""

from __future__ import annotations

import json
from fractions import Fraction as F
from pathlib import Path

import pytest

from networks import json_to_circuit
from networks.model_files import load_model
from proofs import cli
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_rounded import round_weights
from tests.verify.test_equivalence import perturbed

REPO = Path(__file__).resolve().parents[2]
TRAINED = REPO / "networks" / "trained" / "minimum_seed0.json"
MIN3 = REPO / "bench" / "models" / "min3_16.json"
MIN3_64 = REPO / "bench" / "models" / "min3_64x64.json"
BOX2 = ["--domain", "[-1, 1]^2"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert err == "", err
    return code, json.loads(out)


@pytest.fixture(scope="module")
def rounded(tmp_path_factory) -> Path:
    """The 2-input trained model rounded as ``check --round`` rounds it (denominators <= 16)."""
    path = tmp_path_factory.mktemp("equiv") / "rounded.json"
    json_to_circuit.dump(round_weights(canonicalize(load_model(TRAINED)), 16), path)
    return path


def test_a_model_equals_itself_and_the_text_says_so(capsys):
    code, out, err = run(capsys, "equiv", TRAINED, TRAINED, *BOX2)
    assert code == 0, err
    assert "claim:   N1(x1, x2) = N2(x1, x2)" in out and "verdict: proved" in out
    assert "max |N1 - N2| = 0" in out


def test_a_rounding_holds_at_its_exact_distance_and_fails_just_below(capsys, rounded):
    code, facts = run_json(capsys, "equiv", TRAINED, rounded, *BOX2)
    assert code == 1 and facts["verdict"] == "refuted"
    distance = F(facts["max_distance"])
    assert distance > 0 and facts["max_distance_method"] == "regions"
    code, facts = run_json(capsys, "equiv", TRAINED, rounded, *BOX2, "--tolerance", distance)
    assert code == 0 and facts["verdict"] == "proved" and facts["method"] == "regions"
    below = distance * F(999_999, 1_000_000)
    code, facts = run_json(capsys, "equiv", TRAINED, rounded, *BOX2, "--tolerance", below)
    assert code == 1 and facts["tolerance"] == str(below)
    point = {k: F(v) for k, v in facts["counterexample"].items()}
    assert all(-1 <= v <= 1 for v in point.values())
    one, two = load_model(TRAINED).evaluate(point)[0], load_model(rounded).evaluate(point)[0]
    assert (F(facts["n1_value"]), F(facts["n2_value"]), F(facts["difference_value"])) == (one, two, one - two)
    assert abs(one - two) > below


def test_the_text_output_of_a_refutation_shows_both_networks_at_the_point(capsys, rounded):
    code, out, _ = run(capsys, "equiv", TRAINED, rounded, *BOX2, "--tolerance", "1/1000000")
    assert code == 1
    assert "counterexample: x1 = " in out and "(replayed exactly)" in out
    assert "\n  N1 = " in out and "\n  N2 = " in out and "\n  N1 - N2 = " in out


@pytest.mark.parametrize("first,second,domain,extra,code", [
    ("relu(x1) - relu(-x1)", "x1", "R", [], 0),
    ("relu(x1) - relu(-x1)", "abs(x1)", "[-1, 1]", ["--tolerance", "2"], 0),
    ("relu(x1) - relu(-x1)", "abs(x1)", "[-1, 1]", ["--tolerance", "1.99"], 1),
    ("relu(a - b) + b", "max(a, b)", "[-1, 1]^2", [], 0),
    ("relu(x1 - x2) + x2", "max(u, v)", "[-1, 1]^2", [], 0),            # no name shared: by position
])
def test_network_expressions(capsys, first, second, domain, extra, code):
    got, facts = run_json(capsys, "equiv", first, second, "--domain", domain, *extra)
    assert got == code and facts["verdict"] == ("proved" if code == 0 else "refuted")


def test_a_model_file_against_an_expression_reads_the_files_inputs(capsys):
    code, facts = run_json(capsys, "equiv", TRAINED, "min(x1, x2)", *BOX2, "--tolerance", "1")
    assert code == 0 and facts["n2"]["kind"] == "expression" and facts["n2"]["inputs"] == ["x1", "x2"]
    code, facts = run_json(capsys, "equiv", TRAINED, "min(a, b)", *BOX2, "--tolerance", "1", "--inputs", "a,b")
    assert code == 0 and facts["inputs"] == ["a", "b"]


@pytest.mark.skipif(not MIN3.exists(), reason="bench/models/min3_16.json is missing")
def test_a_perturbed_3_input_model_is_certified_by_branch_and_bound_and_refuted_below(capsys, tmp_path):
    net = load_model(MIN3)
    copy, change = perturbed(net, "h1_1")
    path = tmp_path / "min3_16_perturbed.json"
    json_to_circuit.dump(copy, path)
    effect = abs(change * net.assignments[-1].coefficient("h1_1"))  # |v| |change|, attained on the box
    code, facts = run_json(capsys, "equiv", MIN3, path, "--domain", "[-1, 1]^3", "--tolerance", effect)
    assert code == 0 and facts["method"] == "bab" and facts["certificate"] is True
    assert facts["max_distance"] is None and "more than 2 inputs" in facts["max_distance_note"]
    code, facts = run_json(capsys, "equiv", MIN3, path, "--domain", "[-1, 1]^3", "--tolerance", effect / 2)
    assert code == 1 and facts["counterexample"] is not None


@pytest.mark.skipif(not MIN3_64.exists(), reason="bench/models/min3_64x64.json is missing")
def test_a_query_beyond_the_budget_is_unknown_with_exit_3_within_the_timeout(capsys, tmp_path):
    import time

    net = load_model(MIN3_64)
    copy, _ = perturbed(net, "h1_1")
    path = tmp_path / "perturbed.json"
    json_to_circuit.dump(copy, path)
    start = time.monotonic()
    code, out, err = run(capsys, "equiv", MIN3_64, path, "--domain", "[-1, 1]^3", "--tolerance", "3e-4",
                         "--timeout", "3")
    assert code == 3, err
    # the budget runs out in the search (a verdict with its reason) or, on a loaded machine, while
    # the difference circuit is still being built (one "unknown: timeout" line on stderr)
    assert ("verdict: unknown" in out and "reason: " in out) or "unknown: timeout" in err, out + err
    assert time.monotonic() - start < 3 * 1.1 + 1  # the budget covers loading both models too


def test_a_report_is_written(capsys, tmp_path, rounded):
    code, out, err = run(capsys, "equiv", TRAINED, rounded, *BOX2, "--report", tmp_path / "r")
    assert code == 1, err
    assert (tmp_path / "r" / "index.html").exists()
    page = json.loads(next((tmp_path / "r" / "theorems").glob("*.json")).read_text())
    assert page["trained"]["equivalence"] == "N1(x1, x2) = N2(x1, x2)"


@pytest.mark.parametrize("argv,message", [
    ([TRAINED, MIN3, "--domain", "[-1, 1]^2"], "the first network reads 2 inputs (x1, x2), the second 3"),
    (["relu(x1)", "relu(x2) + x3", "--domain", "[-1, 1]^3"], "the first network reads"),
    (["relu(x1)", "relu(x1)", "--domain", "[-1, 1]", "--tolerance", "-1"], "expected a number >= 0"),
    (["relu(x1)", "x1 > 0", "--domain", "[-1, 1]"], "is a condition, not a network"),
    (["relu(x1)", "x1 * x1", "--domain", "[-1, 1]"], "cannot be written as ReLU neurons"),
    (["missing.json", "relu(x1)", "--domain", "[-1, 1]"], "argument MODEL1: no such file: missing.json"),
    (["relu(x1)", "relu(x1)"], "the following arguments are required: --domain"),
    ([TRAINED, "min(x1, z)", "--domain", "[-1, 1]^2"], "z, which is not among the inputs"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "equiv", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_several_outputs_are_refused_with_exit_2(capsys, tmp_path):
    from symbolic.circuit import from_layers

    path = tmp_path / "two_outputs.json"
    json_to_circuit.dump(from_layers([([[1, 0], [0, 1]], None)]), path)
    code, _, err = run(capsys, "equiv", path, "relu(x1)", "--domain", "[-1, 1]^2")
    assert code == 2 and "the first network has 2 outputs (y1, y2)" in err


def test_help_describes_every_argument_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["equiv", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for word in ("MODEL1", "MODEL2", "--domain", "--tolerance", "--inputs", "--timeout", "--json", "--report",
                 "--max-model-bytes", "0 proved", "1 refuted", "3 unknown", "2 bad input"):
        assert word in text
