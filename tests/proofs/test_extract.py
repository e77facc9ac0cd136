"""extract: a small exact circuit inside a wide network, both proofs, the neuron map (issue 14)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

from proofs.extract import extract
from proofs.extract_features import family_key
from proofs.extract_proofs import compare_proofs
from symbolic.circuit import from_layers
from symbolic.relu import sym
from verify.claim import Claim
from verify.domain import Domain, RealInterval
from verify.simplification import simplify
from verify.worst_case import max_error

BENCH = Path(__file__).resolve().parents[3] / "shared" / "bench" / "models"
BOX = Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(-1, 1)})
MIN = sp.Min(sym("x1"), sym("x2"))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proofs.cli", *args], capture_output=True, text=True, timeout=300)


def _wide_min(seed: int, copies: int = 3):
    """min(x1, x2) = x1 - R(x1 - x2) spread over ``copies`` noisy copies of each neuron, plus noise neurons."""
    rng = random.Random(seed)
    noise = lambda: Fraction(rng.randint(-20, 20), 1000)  # noqa: E731
    rows, out = [], []
    for direction, weight in (([1, 0], 1), ([-1, 0], -1), ([1, -1], -1)):
        for _ in range(copies):
            rows.append([d + noise() for d in direction])
            out.append(Fraction(weight, copies) + noise() / 10)
    rows.append([Fraction(1, 2), Fraction(1, 2)])  # dead on the box (bias -2)
    out.append(Fraction(3))
    return from_layers([(rows, [0] * (len(rows) - 1) + [-2]), ([out], None)], inputs=["x1", "x2"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_step_bound_is_a_true_bound(seed):
    net = _wide_min(seed)
    for budget in (Fraction(1, 100), Fraction(1, 10), Fraction(1)):
        s = simplify(net, BOX, budget)
        assert s.bound <= budget
        worst = max_error(net, s.circuit, BOX)
        assert worst.value is not None and worst.value <= s.bound  # proved bound, checked exactly


@pytest.mark.parametrize("seed", [0, 1])
def test_extract_finds_min_and_the_exact_distance(seed):
    net = _wide_min(seed)
    ex = extract(Claim(net, MIN, BOX))
    assert ex.found and ex.result.verdict.value == "proved"
    assert len(ex.circuit.neurons) <= 3
    # delta is exactly N's own worst-case error, since C = f on the box
    assert ex.distance.value == max_error(net, MIN, BOX).value
    assert ex.proof.verdict.value == "proved"
    assert {r.neuron for r in ex.features} == {a.name for a in net.neurons if a.name != net.output}
    assert any(r.feature == "dead on the domain" for r in ex.features)
    assert abs(sum(ex.shares.values()) - 1) < 1e-9


def test_family_key_ignores_symmetric_input_order():
    a = from_layers([([[1, -1]], None), ([[-1]], [0])], inputs=["x1", "x2"])
    mirrored = from_layers([([[-1, 1]], None), ([[-1]], [0])], inputs=["x1", "x2"])
    assert family_key(a, MIN) == family_key(mirrored, MIN)
    assert family_key(a, sym("x1") - sym("x2")) != family_key(mirrored, sym("x1") - sym("x2"))


def test_proof_sizes_count_each_route():
    ex = extract(Claim(_wide_min(0), MIN, BOX))
    sizes = compare_proofs(ex)
    assert sizes["direct"]["verdict"] == "proved" and sizes["direct"]["unit"] == "cells"
    assert sizes["direct"]["count"] > 0
    assert [p["statement"].split(" <=")[0] for p in sizes["through_circuit"]] == ["|N - C|", "C = f"]


@pytest.mark.skipif(not BENCH.exists(), reason="the shared bench models are not here")
@pytest.mark.parametrize("name", ["mlp_w8", "mlp_8x8"])
def test_cli_extract_bench_model(name, tmp_path):
    done = _run("extract", str(BENCH / f"{name}.onnx"), "--target", "min(x1, x2)", "--json",
                "--report", str(tmp_path / "rep"), "--certificates", str(tmp_path / "cert"))
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["found"] and facts["closed_form"] == "Min(x1, x2)" and facts["distance_proof"] == "proved"
    from networks.model_files import load_model

    net = load_model(BENCH / f"{name}.onnx")
    assert Fraction(facts["distance"]) == max_error(net, MIN, BOX).value  # the file's weights, exactly
    for kind in ("circuit", "distance"):
        check = _run("certify", facts["certificates"][kind])
        assert check.returncode == 0, check.stdout + check.stderr
    assert (tmp_path / "rep" / "extract.html").read_text().count("<svg") == 2


def test_cli_extract_says_when_nothing_is_found(tmp_path):
    flat = from_layers([([[1, 0, 0], [0, 1, 0], [0, 0, 1]], None), ([[Fraction(1, 3)] * 3], None)],
                       inputs=["x1", "x2", "x3"])
    from networks.json_to_circuit import dump

    path = tmp_path / "flat.json"
    dump(flat, path)
    done = _run("extract", str(path), "--target", "min(x1, x2, x3)", "--timeout", "60")
    assert done.returncode == 3, done.stderr
    assert "none found" in done.stdout and "attempts" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--domain", "R^2"], "bounded"),
    (["--target", "x1 > x2"], "not a condition"),
])
def test_cli_extract_bad_input_is_one_line_and_exit_2(args, message):
    model = BENCH / "hand_min.json"
    if not model.exists():
        pytest.skip("the shared bench models are not here")
    base = ["extract", str(model), "--target", "min(x1, x2)"]
    done = _run(*base, *args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not BENCH.exists(), reason="the shared bench models are not here")
def test_explain_drop_on_a_wide_network_gives_the_exact_deviation():
    """Issue 14 part 4: --drop on a 64-neuron network, through the engine, with the deviation's closed form."""
    from networks.model_files import load_model
    from proofs.analysis import ablate

    done = _run("explain", str(BENCH / "mlp_w64.onnx"), "--drop", "h1_3", "--domain", "[-1, 1]^2", "--json")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["deviation_neurons"] == 1 and facts["deviation_verdict"] == "proved"
    net = load_model(BENCH / "mlp_w64.onnx")
    assert Fraction(facts["max_deviation"]) == max_error(net, ablate(net, "h1_3"), BOX).value


def test_deviation_of_an_edit_in_a_deep_network():
    from proofs.analysis import edit
    from proofs.edit_deviation import deviation

    net = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, 0, 0], [0, 1, 1]], None), ([[1, -1]], None)],
                      inputs=["x1", "x2"])
    changed = edit(net, "h2_2", "h1_3", 0)
    d = deviation(net, changed, BOX)
    assert d.proof.verdict.value == "proved"
    assert d.worst.value == max_error(net, changed, BOX).value
    assert str(d.closed_form).count("R(") <= 4  # only the edited neuron's cone is left
