"""Each activation's one definition (symbolic/activation.py): exact, float, interval and z3 agree."""

from __future__ import annotations

import pathlib
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
import z3

from symbolic.activation import RELU_AND_LINEAR, Activation
from symbolic.interval import compare
from symbolic.relu import sym

POINTS = sorted({Fraction(k, d) for k in range(-40, 41, 3) for d in (1, 2, 7, 16)}
                | {Fraction(0), Fraction(-700), Fraction(600), Fraction(1, 10**9), Fraction(-1, 10**9)})


def _below(value, bound: Fraction) -> bool:
    """``value <= bound`` exactly (a Fraction, or an exact sympy number compared rigorously)."""
    return value <= bound if isinstance(value, Fraction) else compare(value, bound) <= 0


def _above(value, bound: Fraction) -> bool:
    return value >= bound if isinstance(value, Fraction) else compare(value, bound) >= 0


def test_serialised_names_are_unchanged():
    """Model files, certificates and reports store these names."""
    assert [a.value for a in Activation] == ["linear", "relu", "sigmoid"]
    assert Activation("relu") is Activation.RELU


@pytest.mark.parametrize("activation", list(Activation), ids=lambda a: a.value)
def test_exact_float_and_numpy_values_agree(activation):
    """The float value (math and numpy) is the exact value rounded, at every point."""
    floats = np.array([float(z) for z in POINTS])
    vector = activation.numpy(floats)
    for z, from_numpy in zip(POINTS, vector):
        exact = activation.exact(z)
        value = float(exact) if isinstance(exact, Fraction) else float(sp.N(exact, 30))
        assert activation.approx(float(z)) == pytest.approx(value, rel=1e-12, abs=1e-300), z
        assert from_numpy == pytest.approx(value, rel=1e-12, abs=1e-300), z
        assert isinstance(exact, Fraction) == activation.piecewise_linear, z


@pytest.mark.parametrize("activation", list(Activation), ids=lambda a: a.value)
def test_interval_image_encloses_the_exact_values(activation):
    """[lo', hi'] = activation([lo, hi]) holds the exact value at both ends and points inside
    (the sigmoid's ends are rounded outward; it is compared with its exact value rigorously)."""
    for lo, hi in zip(POINTS, POINTS[3:]):
        out_lo, out_hi = activation.interval(lo, hi)
        assert out_lo <= out_hi
        for z in (lo, (lo + hi) / 2, hi):
            exact = activation.exact(z)
            assert _above(exact, out_lo) and _below(exact, out_hi), (activation, lo, hi, z)
        if activation.piecewise_linear:  # exact images: the ends are attained
            assert (out_lo, out_hi) == (activation.exact(lo), activation.exact(hi))
        else:  # tight: within 2^-60 of the ends' values
            assert out_hi - out_lo <= Fraction(1, 2**60) + abs(float(activation.exact(hi)) - float(activation.exact(lo))) + 1e-15
    unbounded_lo, unbounded_hi = activation.interval(None, None)
    if activation is Activation.SIGMOID:
        assert (unbounded_lo, unbounded_hi) == (0, 1)


def test_interval_keeps_the_ends_exact_type():
    """gmpy2 rationals (the search's fast type) and sympy Rationals stay what they are."""
    gmpy2 = pytest.importorskip("gmpy2")
    lo, hi = Activation.RELU.interval(gmpy2.mpq(-1, 3), gmpy2.mpq(5, 2))
    assert (type(lo), type(hi), lo, hi) == (type(gmpy2.mpq(0)), type(gmpy2.mpq(0)), 0, gmpy2.mpq(5, 2))
    lo, hi = Activation.SIGMOID.interval(sp.Rational(-1), sp.Rational(1))
    assert isinstance(lo, sp.Rational) and compare(Activation.SIGMOID.exact(Fraction(-1)), Fraction(lo.p, lo.q)) > 0
    assert Activation.RELU.interval(None, Fraction(-2)) == (0, 0)


@pytest.mark.parametrize("activation", list(Activation), ids=lambda a: a.value)
def test_z3_encoding_agrees_with_the_exact_value(activation):
    """With ``pre`` fixed to z, the encoding pins ``out`` to the exact value (ReLU, linear), or
    admits the exact value and excludes every value outside the sound facts (sigmoid)."""
    pre, out = z3.Real("pre"), z3.Real("out")
    solver = z3.Solver()
    solver.set(timeout=5000)
    solver.add(activation.z3_facts(pre, out))
    for z in POINTS[::2]:
        solver.push()
        solver.add(pre == z3.RealVal(f"{z.numerator}/{z.denominator}"))
        exact = activation.exact(z)
        if activation.z3_exact:
            assert solver.check() == z3.sat
            assert solver.model().eval(out).as_fraction() == exact, z
            solver.add(out != z3.RealVal(f"{exact.numerator}/{exact.denominator}"))
            assert solver.check() == z3.unsat, z  # the value is determined
            term = z3.simplify(activation.z3_term(z3.RealVal(f"{z.numerator}/{z.denominator}")))
            assert term.as_fraction() == exact
        else:
            lo, hi = activation.interval(z, z)
            solver.add(out >= z3.RealVal(f"{lo.numerator}/{lo.denominator}"),
                       out <= z3.RealVal(f"{hi.numerator}/{hi.denominator}"))
            assert solver.check() == z3.sat, z  # the true value is not excluded
            assert activation.z3_term(pre) is None
        solver.pop()


@pytest.mark.parametrize("activation", list(Activation), ids=lambda a: a.value)
def test_printing_derivative_and_names(activation):
    """The sympy function prints with the activation's symbol; the derivative matches a finite
    difference away from kinks; the ONNX and torch names round-trip."""
    z = sym("z")
    applied = activation.exact(z)
    if activation.function is None:
        assert applied == z and activation.symbol == ""
    else:
        assert str(applied) == f"{activation.symbol}(z)" and Activation.of_function(applied) is activation
        assert sp.latex(applied).startswith(activation.latex)
        assert Activation.from_onnx_op(activation.onnx_op) is activation
        assert activation.torch_function == activation.value
    for x in (-2.5, -0.75, 0.5, 3.0):
        slope = (activation.approx(x + 1e-6) - activation.approx(x - 1e-6)) / 2e-6
        assert float(activation.derivative(sp.Float(x))) == pytest.approx(slope, abs=1e-6)
    assert (activation in RELU_AND_LINEAR) <= activation.piecewise_linear


# -- one home: no activation branches outside the modules allowed to have them ---------------------
ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("symbolic", "verify", "networks", "proofs")
BRANCH = re.compile(
    r"(is( not)?|==|!=) *Activation\.[A-Z]+|(not )?in \(Activation\.|activation(\.value)? *(==|!=|in|not in) *[(\"']"
    r"|isinstance\([^)]*, *\(?(ReLU|Sigmoid)\b|nn\.(ReLU|Sigmoid)\b|\"(Relu|Sigmoid)\"")
#: file -> (most branches allowed, why they are not a copy of an activation's meaning)
ALLOWED = {
    "symbolic/circuit.py": (3, "'is not LINEAR': counting activations (depth, neurons)"),
    "symbolic/circuit_to_canonical.py": (1, "'is LINEAR': linear assignments are inlined"),
    "symbolic/circuit_to_closed_form.py": (3, "ReLU algebra: R(z) - R(-z) = z rewrites"),
    "symbolic/circuit_to_features.py": (1, "ReLU pairs R(z), R(-z) that rebuild a linear function"),
    "symbolic/evaluate.py": (1, "a sigmoid has no exact rational value (evaluator of sympy formulas)"),
    "verify/regions.py": (1, "'is LINEAR': the region walk splits only ReLUs"),
    "verify/bounds.py": (1, "stable signs are a ReLU phase notion"),
    "verify/circuit_to_z3.py": (1, "'is LINEAR': linear assignments stay affine forms"),
    "verify/simplification.py": (3, "ReLU pruning and linear inlining (structure, not meaning)"),
    "verify/equivalence.py": (1, "'is not LINEAR': merging linear outputs"),
    "verify/circuit_to_layers.py": (1, "the ReLU mask of a levelled ReLU/linear network"),
    "verify/cells_to_certificate.py": (3, "ReLU masks of the regions certificate's patterns"),
    "verify/worst_case_bab.py": (1, "counting ReLUs for the checker's limit"),
    "networks/torch_to_circuit.py": (1, "'is LINEAR': an activation module fuses into the Linear before it"),
    "networks/recipes.py": (3, "training recipes build torch modules (helper H2's file)"),
    "symbolic/circuit_to_svg.py": (4, "box colours and labels (helper H1's file: left for them)"),
    "proofs/extract.py": (1, "counting the ReLUs of an extracted circuit"),
    "proofs/extract_features.py": (4, "naming and counting the ReLU neurons of networks and extracted circuits"),
    "proofs/extract_proofs.py": (1, "counting the ReLUs of a simplified network"),
    "proofs/cli_certify.py": (1, "a certificate's ReLU flags against the model's activations"),
}


def _branches() -> dict[str, int]:
    counts: dict[str, int] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "symbolic/activation.py":
                continue
            found = sum(1 for line in path.read_text().splitlines() if BRANCH.search(line))
            if found:
                counts[rel] = found
    return counts


def test_no_new_activation_branches_outside_the_allowed_modules():
    """An activation's meaning (value, interval, z3, names) lives in symbolic/activation.py; a new
    ``if activation is Activation.X`` elsewhere fails here: call the activation's method instead,
    or, for a genuinely structural test, add the file to ALLOWED with its reason."""
    over = {f: n for f, n in _branches().items() if n > ALLOWED.get(f, (0, ""))[0]}
    assert not over, f"activation branches outside symbolic/activation.py: {over}"
