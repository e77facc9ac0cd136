"""The ReLU sympy function: evaluation, scaling symmetry, rewrites, derivative."""

import sympy as sp

from symbolic.relu import ReLU, Sigmoid, sym

x, y = sym("x"), sym("y")
p = sp.Symbol("p", positive=True)


def test_evaluates_on_numbers_and_known_signs_only():
    assert ReLU(3) == 3 and ReLU(-2) == 0 and ReLU(0) == 0 and ReLU(sp.Rational(-1, 2)) == 0
    assert ReLU(p) == p and ReLU(-p) == 0 and ReLU(x**2) == x**2
    assert isinstance(ReLU(x), ReLU)


def test_pulls_out_positive_constant_factors():
    assert ReLU(2 * x) == 2 * ReLU(x)
    assert ReLU(-3 * x) == 3 * ReLU(-x)
    assert ReLU(x / 2 - y / 3) == ReLU(3 * x - 2 * y) / 6


def test_rewrites_agree_with_definition():
    for value in (-2, 0, sp.Rational(5, 3)):
        for form in (ReLU(x).rewrite(sp.Max), ReLU(x).rewrite(sp.Piecewise), ReLU(x).rewrite(sp.Abs)):
            assert form.subs(x, value) == max(0, value)


def test_derivative_is_heaviside():
    assert sp.diff(ReLU(2 * x + 1), x) == 2 * sp.Heaviside(2 * x + 1)


def test_is_nonnegative_so_nested_relu_collapses():
    assert ReLU(ReLU(x) + ReLU(y)) == ReLU(x) + ReLU(y)
    assert ReLU(-ReLU(x)) == 0


def test_printing_uses_R():
    assert sp.sstr(ReLU(x - y)) == "R(x - y)"
    assert "R" in sp.latex(ReLU(x))


def test_sigmoid_exact_only_at_zero():
    assert Sigmoid(0) == sp.Rational(1, 2)
    assert isinstance(Sigmoid(1), Sigmoid)
    assert abs(float(sp.N(Sigmoid(1))) - 0.7310585786) < 1e-9
