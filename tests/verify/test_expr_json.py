"""The certificate expression format: sympy -> JSON -> flint evaluation agrees with the toolkit's own
exact evaluation (values, conditions and undefined points alike); strict, capped reading."""

from __future__ import annotations

import json
import random
from fractions import Fraction as F

import flint
import pytest
import sympy as sp

from proofs.text_to_expr import parse_expression
from symbolic import errors
from symbolic.errors import CertificateError
from symbolic.evaluate import evaluate_expr
from symbolic.relu import ReLU, sym
from verify import certificate_expr
from verify.claim import indicator
from verify.expr_json import expr_to_json
from verify.result_to_certificate import NoCertificate

X, Y = sym("x"), sym("y")
VALUES = [F(v) for v in (-3, -2, -1, 0, 1, 2, 3, 10)] + [F(1, 2), F(-5, 3), F(7, 4)]


def toolkit(expr, point):
    try:
        return evaluate_expr(expr, point)
    except errors.UndefinedValueError:
        return "undefined"


def ours(expr, point):
    # through JSON text, as a certificate file would carry it
    parsed = certificate_expr.parse(json.loads(json.dumps(expr_to_json(expr))), "t")
    value = parsed.evaluate({k: flint.fmpq(v.numerator, v.denominator) for k, v in point.items()})
    if isinstance(value, certificate_expr.Undefined):
        return "undefined"
    return value if isinstance(value, bool) else F(int(value.p), int(value.q))


def random_number(rng, depth):
    if depth == 0 or rng.random() < 0.25:
        return rng.choice([X, Y, X, Y, sp.Integer(rng.randint(-3, 3)), sp.Rational(rng.randint(-5, 5), rng.randint(1, 4))])
    kind = rng.randrange(12)
    a, b = random_number(rng, depth - 1), random_number(rng, depth - 1)
    if kind == 0:
        return a + b
    if kind == 1:
        return a * b
    if kind == 2:
        return a ** rng.choice([2, 3, -1])
    if kind == 3:
        return ReLU(a)
    if kind == 4:
        return sp.Abs(a)
    if kind == 5:
        return sp.Min(a, b)
    if kind == 6:
        return sp.Max(a, b, random_number(rng, 0))
    if kind == 7:
        return sp.Mod(a, b)
    if kind == 8:
        return rng.choice([sp.floor, sp.ceiling])(a)
    if kind == 9:
        return sp.Heaviside(a, rng.choice([sp.nan, sp.Rational(1, 2), b]))
    if kind == 10:
        return indicator(random_condition(rng, depth - 1))
    pieces = [(a, random_condition(rng, depth - 1)), (b, random_condition(rng, depth - 1))]
    if rng.random() < 0.5:
        pieces.append((random_number(rng, 0), True))
    return sp.Piecewise(*pieces)


def random_condition(rng, depth):
    kind = rng.randrange(9 if depth > 0 else 6)
    if kind < 6:
        op = [sp.Lt, sp.Le, sp.Gt, sp.Ge, sp.Eq, sp.Ne][kind]
        return op(random_number(rng, max(depth - 1, 0)), random_number(rng, max(depth - 1, 0)))
    a, b = random_condition(rng, depth - 1), random_condition(rng, depth - 1)
    return [sp.And(a, b), sp.Or(a, b), sp.Not(a)][kind - 6]


def test_random_expressions_evaluate_as_the_toolkit_does():
    rng = random.Random(13)
    compared = undefined = conditions = 0
    for _ in range(300):
        try:  # sympy refuses some constructions itself (Mod(x, 0))
            expr = random_number(rng, 3) if rng.random() < 0.8 else random_condition(rng, 3)
        except (ZeroDivisionError, TypeError, ValueError):
            continue
        try:
            expr_to_json(expr)
        except NoCertificate as exc:  # sympy may simplify to a form outside the format (e.g. zoo)
            assert "has no exact certificate form" in str(exc)
            continue
        for _ in range(4):
            point = {"x": rng.choice(VALUES), "y": rng.choice(VALUES)}
            try:
                want = toolkit(expr, point)
            except errors.UnsupportedExpressionError:
                continue
            assert ours(expr, point) == want, (expr, point)
            compared += 1
            undefined += want == "undefined"
            conditions += isinstance(want, bool)
    assert compared > 800 and undefined > 20 and conditions > 50


@pytest.mark.parametrize("text", ["[x < 10]", "mod(x, 2)", "if(x == 3, 3, -5)", "min(x, y) + abs(x)/2",
                                  "heaviside(x, 1/2)", "H(x - 1)", "floor(x/3) + ceil(y)", "x^2 - 1/x",
                                  "relu(x - y) - relu(y)", "x > 0 and not (y < 2)", "x != y or x >= 3"])
def test_parsed_targets_round_trip(text):
    expr = parse_expression(text)
    for x in VALUES:
        for y in VALUES[:5]:
            point = {"x": x, "y": y}
            assert ours(expr, point) == toolkit(expr, point), (text, point)


def test_the_catalogue_targets_are_written_as_expected():
    assert expr_to_json(sp.Piecewise((3, sp.Eq(X, 3)), (-5, True))) == \
        ["piecewise", "3", ["==", ["var", "x"], "3"], "-5", True]
    assert expr_to_json(indicator(X < 10)) == ["piecewise", "1", ["<", ["var", "x"], "10"], "0", True]
    assert expr_to_json(sp.Mod(X, 2)) == ["mod", ["var", "x"], "2"]
    assert expr_to_json(sp.true) is True


@pytest.mark.parametrize("expr", [sp.sqrt(X), sp.sin(X), X ** 100, sp.Float(0.5) * X, sp.Xor(X > 0, Y > 0),
                                  sp.Piecewise((X > 0, Y > 0), (True, True)), sp.pi * X])
def test_what_the_format_lacks_is_a_clear_no_certificate(expr):
    with pytest.raises(NoCertificate, match="no exact certificate form"):
        expr_to_json(expr)


def test_deep_expressions_are_written_iteratively_and_capped(monkeypatch):
    deep = X
    for _ in range(60):  # unevaluated, so sympy keeps every level
        deep = ReLU(sp.Add(deep, Y, evaluate=False), evaluate=False)
    tree = expr_to_json(deep)
    point = {"x": F(1), "y": F(-1, 100)}
    assert ours(deep, point) == toolkit(deep, point) == F(4, 10)
    monkeypatch.setattr(certificate_expr, "MAX_DEPTH", 130)
    assert certificate_expr.parse(tree, "t").nodes == 181
    monkeypatch.setattr(certificate_expr, "MAX_DEPTH", 50)
    with pytest.raises(NoCertificate, match="nested deeper than 50"):
        expr_to_json(deep)


@pytest.mark.parametrize("tree, message", [
    (["frobnicate", "1"], "not an operation"),
    (["add"], "does not take 0 arguments"),
    (["mod", "1"], "does not take 1 arguments"),
    (["piecewise", "1", True, "2"], "does not take 3 arguments"),
    (["piecewise", True, "1"], "a condition where a number is needed"),
    (["add", ["var", "x"], True], "a condition where a number is needed"),
    (["and", "1"], "a number where a condition is needed"),
    (["pow", ["var", "x"], "1/2"], "not an integer"),
    (["pow", ["var", "x"], "65"], "not an integer in"),
    (["pow", ["var", "x"], 2], "integer text"),
    (["var", "2x"], "not a name"),
    (["var"], "a variable is"),
    ("0.5", "not a rational"),
    ("1/0", "zero denominator"),
    (3, "expected a number"),
    (None, "expected a number"),
    ({"op": "add"}, "expected a number"),
    ([], "expected a number"),
    ([["var", "x"]], "expected a number"),
])
def test_malformed_expressions_are_refused(tree, message):
    with pytest.raises(CertificateError, match=message):
        certificate_expr.parse(tree, "t")


def test_size_and_depth_caps():
    wide = ["add"] + ["1"] * certificate_expr.MAX_NODES
    with pytest.raises(CertificateError, match="more than"):
        certificate_expr.parse(wide, "t")
    deep: object = "1"
    for _ in range(certificate_expr.MAX_DEPTH + 1):
        deep = ["abs", deep]
    with pytest.raises(CertificateError, match="nested deeper"):
        certificate_expr.parse(deep, "t")


def test_nested_powers_are_capped_by_degree():
    tower: object = ["var", "x"]
    for _ in range(2):
        tower = ["pow", tower, "32"]
    assert certificate_expr.parse(tower, "t").evaluate({"x": flint.fmpq(2)}) == 2 ** 1024
    with pytest.raises(CertificateError, match="degree exceeds 1024"):
        certificate_expr.parse(["mul", ["var", "x"], tower], "t")
    with pytest.raises(NoCertificate, match="degree exceeds"):
        expr_to_json(sp.Pow(sp.Pow(X, 64, evaluate=False), 17, evaluate=False))


def test_undefined_values_follow_the_toolkit():
    cases = [(sp.Mod(X, Y), {"x": F(1), "y": F(0)}), (X ** -1, {"x": F(0)}),
             (sp.Heaviside(X, sp.nan), {"x": F(0)}), (sp.Piecewise((1, X > 0)), {"x": F(-1)}),
             (sp.Piecewise((1, sp.Eq(sp.Mod(X, Y), 0)), (0, True)), {"x": F(1), "y": F(0)}),
             (sp.Piecewise((1, X > 0), (X ** -1, True)), {"x": F(1)})]  # an unchosen undefined piece is fine
    for expr, point in cases:
        assert ours(expr, point) == toolkit(expr, {"y": F(1), **point})
