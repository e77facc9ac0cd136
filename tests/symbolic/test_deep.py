"""No recursion proportional to depth: deep circuits and deep formulas are decided or refused cleanly."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

from symbolic import errors
from symbolic.circuit import MAX_INLINE_DEPTH, Activation, Assignment, Circuit, from_layers
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_closed_form import closed_form, to_min_max
from symbolic.circuit_to_rounded import round_weights
from symbolic.evaluate import evaluate_expr
from symbolic.relu import ReLU, sym
from verify.circuit_to_z3 import Encoder
from verify.domain import Domain

X = sym("x")
ROOT = Path(__file__).resolve().parents[2]

#: Runs in a fresh interpreter under a 3 GB address-space limit and prints one JSON line.
DEEP_CHAIN = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
sys.setrecursionlimit(1000)
import sympy as sp
from symbolic import errors
from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.circuit_to_closed_form import closed_form
from symbolic.relu import ReLU, sym
from verify.claim import Claim
from verify.decide import Config, decide
from verify.domain import Domain, RealInterval
depth = int(sys.argv[1])
start = time.monotonic()
prev, assignments = "x", []
for i in range(depth):
    assignments.append(Assignment(f"h{i}", ((prev, 1),), 0))
    prev = f"h{i}"
chain = Circuit(("x",), (*assignments, Assignment("y", ((prev, 1),), 0, Activation.LINEAR)), ("y",))
built = time.monotonic() - start
extra = {"engine": False} if "engine" in Config.__dataclass_fields__ else {}
x = sym("x")
out = {"built_s": round(built, 2)}
t = time.monotonic()
result = decide(Claim(chain, ReLU(x)), Config(timeout_s=30, **extra))
out["proved_on_R"] = [result.verdict.value, result.method, round(time.monotonic() - t, 2)]
try:
    closed_form(chain)
except errors.LimitError as exc:
    out["closed_form"] = str(exc)
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps(out))
"""


def chain(depth: int, alternate: bool = False) -> Circuit:
    """``depth`` chained ReLUs; ``alternate`` flips signs so that sympy cannot collapse the nest."""
    prev, assignments = "x", []
    for i in range(depth):
        weight, bias = (-1, 1) if alternate and i % 2 else (1, Fraction(-1, 2) if alternate else 0)
        assignments.append(Assignment(f"h{i}", ((prev, weight),), bias))
        prev = f"h{i}"
    return Circuit(("x",), (*assignments, Assignment("y", ((prev, 1),), 0, Activation.LINEAR)), ("y",))


def test_a_100000_deep_chain_is_decided_in_bounded_time_and_memory():
    """Built directly (no loader), a 100,000-deep chain is proved on R by z3 (its stable ReLUs
    fold into one affine form) in a fresh process under a 3 GB limit, and its closed form is
    refused naming the limit."""
    run = subprocess.run([sys.executable, "-c", DEEP_CHAIN, "100000"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert out["proved_on_R"][:2] == ["proved", "z3"] and out["proved_on_R"][2] < 30
    assert "nests 100000 activations; the limit is 50" in out["closed_form"]
    assert out["max_rss_mb"] < 2048


def test_a_deep_chain_is_refuted_with_an_exact_replay():
    from verify.claim import Claim
    from verify.decide import Config, decide

    extra = {"engine": False} if "engine" in Config.__dataclass_fields__ else {}
    result = decide(Claim(chain(20_000), X), Config(timeout_s=60, **extra))
    assert result.verdict.value == "refuted" and result.counterexample.point["x"] < 0


def test_inlining_beyond_the_limit_is_refused_with_the_limit_named():
    deep = chain(MAX_INLINE_DEPTH + 1, alternate=True)
    for inline in (deep.to_expr, deep.expressions, lambda: closed_form(deep), lambda: closed_form(deep, minmax=True)):
        with pytest.raises(errors.LimitError, match=r"nests 51 activations; the limit is 50 \(symbolic.circuit.MAX_INLINE_DEPTH\)"):
            inline()
    wide = from_layers([([[1]] * 20, None), *[([[1] * 20] * 20, None)] * 4, ([[1] * 20], None)])  # 20^5 paths
    with pytest.raises(errors.LimitError, match="MAX_INLINE_SIZE"):
        wide.check_inlinable()


def test_inlining_at_the_limit_works_and_prints():
    formula = chain(MAX_INLINE_DEPTH, alternate=True).to_expr()
    assert evaluate_expr(formula, {"x": Fraction(3)}) == chain(MAX_INLINE_DEPTH, alternate=True).evaluate({"x": 3})[0]
    assert str(formula).count("R(") == MAX_INLINE_DEPTH


def test_deep_formulas_are_evaluated_and_encoded_without_recursion():
    """A 5,000-deep nest (built unevaluated) is evaluated exactly and encoded for z3."""
    nest = X
    for i in range(5000):
        nest = sp.Abs(X - nest, evaluate=False) if i % 2 else ReLU(nest - 1, evaluate=False)
    value = evaluate_expr(nest, {"x": Fraction(1, 3)})
    assert isinstance(value, Fraction)
    enc = Encoder(Domain(), ["x"])
    assert enc.expr(nest) is not None


def test_minmax_rewriting_is_bounded():
    """Random 1-input networks of 7 neurons: closed_form(minmax=True) took 8-70 s before memoising
    the rewrites and building Min/Max without sympy's pairwise comparisons."""
    for seed, shape in ((1, (4, 3)), (2, (2, 5)), (2, (3, 2, 2))):
        rng = random.Random(seed)
        layers, width = [], 1
        for h in shape:
            layers.append(([[sp.Rational(rng.randint(-9, 9), rng.randint(1, 4)) for _ in range(width)] for _ in range(h)],
                           [sp.Rational(rng.randint(-9, 9), rng.randint(1, 4)) for _ in range(h)]))
            width = h
        layers.append(([[sp.Rational(rng.randint(-9, 9), rng.randint(1, 4)) for _ in range(width)]], None))
        net = from_layers(layers)
        start = time.monotonic()
        form = closed_form(net, minmax=True)
        assert time.monotonic() - start < 8
        for x in (-3, Fraction(-1, 2), 0, Fraction(7, 3), 5):
            assert evaluate_expr(form, {"x": Fraction(x)}) == net.evaluate({"x": x})[0]


def test_min_max_rewrites_keep_the_function():
    x1, x2 = sym("x1"), sym("x2")
    assert to_min_max(x1 - ReLU(x1 - x2)) == sp.Min(x1, x2)
    assert to_min_max(x1 + ReLU(x2 - x1) + 1) == sp.Max(x1 + 1, x2 + 1)


@pytest.mark.parametrize("name", ["h1_1", "h2_1", "hh1_1", "y"])
def test_generated_names_avoid_the_inputs(name):
    """A model whose input is named like a generated hidden neuron (or the output) still loads,
    canonicalises and rounds (check --round and simplify said exit 2)."""
    net = from_layers([([[1], [-1]], None), ([[Fraction(1, 2) + Fraction(1, 1000), -1]], None)], inputs=[name])
    assert net.evaluate({name: -2}) == (Fraction(-2),)
    canonical = canonicalize(net)
    assert canonical.inputs == (name,) and canonical.evaluate({name: 3}) == net.evaluate({name: 3})
    assert round_weights(net, 2).evaluate({name: 4}) == (Fraction(2),)


def test_renaming_inputs_onto_generated_names_moves_the_neurons():
    """``--inputs h1_1`` on a dense model: the hidden neuron h1_1 moves to h1_1_1 (was exit 2)."""
    from networks.json_to_circuit import loads

    net = loads('{"layers": [{"W": [[1], [-1]]}, {"W": [[1, 1]]}]}', input_names=["h1_1"])
    assert net.inputs == ("h1_1",) and net.evaluate({"h1_1": -3}) == (Fraction(3),)
    assert [a.name for a in net.assignments] == ["h1_1_1", "h1_2", "y"]
