"""The whitelist parsers for command-line text: expressions, numbers, names and domains."""

from __future__ import annotations

import builtins
import pathlib
import time
from fractions import Fraction

import pytest
import sympy as sp
import sympy.parsing.sympy_parser

from proofs.text_to_domain import parse_domain
from proofs.text_to_expr import MAX_DEPTH, parse_expression, parse_names, parse_number
from symbolic.errors import DomainError, ParseError
from symbolic.relu import ReLU, Sigmoid, sym
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval

x, y, a, b, x1, x2, w1 = (sym(n) for n in ("x", "y", "a", "b", "x1", "x2", "w1"))
half = sp.Rational(1, 2)

EXPRESSIONS = [
    # ReLU in all its spellings, and positive factors pulled out of it
    ("relu(x1) - relu(-x1) - relu(x1 - x2)", ReLU(x1) - ReLU(-x1) - ReLU(x1 - x2)),
    ("ReLU(x) + R(y)", ReLU(x) + ReLU(y)),
    ("relu(2*x)", 2 * ReLU(x)),
    ("0.5*(a + b - R(b - a) - R(a - b))", half * (a + b - ReLU(b - a) - ReLU(a - b))),
    ("sigmoid(x) + S(y)", Sigmoid(x) + Sigmoid(y)),
    ("sigmoid(0)", half),
    # the other whitelisted functions
    ("min(x1, x2)", sp.Min(x1, x2)),
    ("Min(x, y, 1)", sp.Min(x, y, 1)),
    ("max(x, y) + Max(a, b)", sp.Max(x, y) + sp.Max(a, b)),
    ("abs(x) - Abs(y)", sp.Abs(x) - sp.Abs(y)),
    ("Mod(x, 2)", sp.Mod(x, 2)),
    ("mod(x, 3)", sp.Mod(x, 3)),
    ("x % 2", sp.Mod(x, 2)),
    ("floor(x/2)", sp.floor(x / 2)),
    ("ceil(x) + ceiling(y)", sp.ceiling(x) + sp.ceiling(y)),
    ("heaviside(x)", sp.Heaviside(x)),
    ("Heaviside(x, 1) + H(y, 0)", sp.Heaviside(x, 1) + sp.Heaviside(y, 0)),
    ("if(x > 0, x, 0)", sp.Piecewise((x, x > 0), (0, True))),
    ("piecewise((x, x > 0), (-x, True))", sp.Piecewise((x, x > 0), (-x, True))),
    ("[x < 10]", sp.Piecewise((1, x < 10), (0, True))),
    ("if(True, x, y) + if(false, x, y)", x + y),
    ("2*[x >= 0 and y >= 0]", 2 * sp.Piecewise((1, sp.And(x >= 0, y >= 0)), (0, True))),
    # Min/Max/Abs/floor/ceil/Mod fold over numbers but keep symbolic arguments as written
    ("min(3, 1/2) + max(-1, 2) + abs(-5) + floor(7/2) + ceil(-0.5) + mod(7, 3)",
     half + 2 + 5 + 3 + 0 + 1),
    ("abs(2*x)", sp.Abs(2 * x, evaluate=False)),
    ("min(x, min(y, 1))", sp.Min(x, sp.Min(y, 1, evaluate=False), evaluate=False)),
    ("floor(x + 1)", sp.floor(x + 1, evaluate=False)),
    # exact numbers
    ("0.1", sp.Rational(1, 10)),
    ("1/3", sp.Rational(1, 3)),
    ("1e-3", sp.Rational(1, 1000)),
    ("2.5E2", sp.Integer(250)),
    (".5 + 1.", sp.Rational(3, 2)),
    ("0.1*x", x / 10),
    ("1" + "0" * 399, sp.Integer(10) ** 399),
    ("1e400 - 1e400", sp.Integer(0)),
    # operators and precedence
    ("1 + 2*3", sp.Integer(7)),
    ("(1 + 2)*3", sp.Integer(9)),
    ("10 - 2 - 3", sp.Integer(5)),
    ("12 / 2 / 3", sp.Integer(2)),
    ("7 % 3 * 2", sp.Integer(2)),
    ("2*3^2", sp.Integer(18)),
    ("x^2", x**2),
    ("x**2 + y^16", x**2 + y**16),
    ("x^-1", 1 / x),
    ("x**(-2)", x**-2),
    ("-x^2", -(x**2)),
    ("-2^2", sp.Integer(-4)),
    ("(-2)^2", sp.Integer(4)),
    ("2^-1", half),
    ("-x*y", -x * y),
    ("+x - -y", x + y),
    ("x − 1", x - 1),
    ("  x\t+\n1 ", x + 1),
    # relations and booleans are valid results
    ("x1 > x2", sp.Gt(x1, x2)),
    ("x <= 1", sp.Le(x, 1)),
    ("x ≤ 1", sp.Le(x, 1)),
    ("x >= 1", sp.Ge(x, 1)),
    ("x < 1", sp.Lt(x, 1)),
    ("x == 1", sp.Eq(x, 1)),
    ("x != 1", sp.Ne(x, 1)),
    ("0 < x < 1", sp.And(sp.Lt(0, x), sp.Lt(x, 1))),
    ("x > 0 and x < 1", sp.And(x > 0, x < 1)),
    ("x > 0 & x < 1", sp.And(x > 0, x < 1)),
    ("x > 0 or x < -1", sp.Or(x > 0, x < -1)),
    ("x > 0 | y > 0 and y < 1", sp.Or(x > 0, sp.And(y > 0, y < 1))),
    ("not (x > 0)", sp.Not(x > 0)),
    ("not x > 0 and y > 0", sp.And(sp.Not(x > 0), y > 0)),
    ("~(x > 0)", sp.Not(x > 0)),
    ("1 < 2", sp.true),
    # names: anything that is not reserved is a real variable
    ("n + e + i + p + x_1 + _t", sum(sym(n) for n in ("n", "e", "i", "p", "x_1", "_t"))),
    ("a" * 64, sym("a" * 64)),
]


@pytest.mark.parametrize(("text", "expected"), EXPRESSIONS)
def test_expression_grammar_builds_the_exact_sympy_object(text, expected):
    """Every grammar feature parses to the structurally equal sympy object."""
    result = parse_expression(text)
    assert result == expected
    assert sp.srepr(result) == sp.srepr(expected)


def test_variables_are_the_real_symbols_of_sym():
    """Variables are ``sym(name)``: real symbols; the names of sympy's constants are refused."""
    result = parse_expression("e + i")
    assert result.free_symbols == {sym("e"), sym("i")}
    assert all(s.is_real for s in result.free_symbols)
    for word in ("E", "I", "pi", "nan", "NaN", "inf", "oo", "zoo", "infinity", "N", "S", "R"):
        with pytest.raises(ParseError, match="reserved word"):
            parse_expression(f"x + {word}")


def test_relations_are_sympy_relationals_not_python_bools():
    """``x == 1`` is an Eq and conditions are sympy Booleans, never Python bools."""
    assert isinstance(parse_expression("x == 1"), sp.Eq)
    assert isinstance(parse_expression("x1 > x2"), sp.core.relational.Relational)
    assert not isinstance(parse_expression("x == 1"), bool)


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "x.__class__",
    "lambda: 1",
    "exec('1')",
    "open('/etc/passwd')",
    "eval('1')",
    "1e999999",
    "9**9**9",
    "x**100",
    "(" * 10000,
    "x1; import os",
    "x1 # c",
    "`ls`",
    "x\x00",
    "'a'",
    "x[0]",
    "{}",
    "x1 if 1 else 2",
    "",
    "   ",
    "1+" * 10000,
    "x" * 20000,
    "getattr(x, 'y')",
    "sin(x)",
    "__builtins__",
    "x.real",
    "x = 1",
    "f'{x}'",
    "2x",
    "x y",
    "relu(x",
    "relu x)",
    ")",
    "1 +",
    "*x",
    "x^0.5",
    "x^y",
    "((((((1e400^16)^16)^16)^16)^16)^16)",
    "1e400*" * 1600 + "1",
    "1" * 401,
    "1e401",
    "x/0",
    "x/(1 - 1)",
    "x % 0",
    "0^-1",
    "a" * 65,
    "x ∈ y",
    "oo",
    "R + 1",
    "in",
    "x and y",
    "(x > 0) + 1",
    "min(x)",
    "relu(x, y)",
    "if(x, 1, 2)",
    "héllo",
    "x\ny = 1",
]
HOSTILE_DOMAINS = [t for t in HOSTILE if t not in ("{}", "x and y")]  # {} is an empty set


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:30]))
def test_hostile_or_bad_expressions_raise_only_a_one_line_parse_error(text):
    """Hostile and malformed text raises ParseError (never another type), one line with a column."""
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    message = str(info.value)
    assert "\n" not in message and "column" in message
    assert len(message) < 400


ERROR_MESSAGES = [
    ("sin(x)", "unknown function 'sin' (known: Abs, H, Heaviside"),
    ("relu(x, y)", "relu() takes exactly 1 argument, got 2"),
    ("min(x)", "min() takes 2 or more arguments, got 1"),
    ("heaviside(x, 1, 2)", "heaviside() takes 1 or 2 arguments, got 3"),
    ("mod(x)", "mod() takes exactly 2 arguments, got 1"),
    ("if(x > 0, 1)", "if() takes exactly 3 arguments"),
    ("x.__class__", "unexpected '.' (attribute access is not allowed) at column 2"),
    ("__import__('os')", "name '__import__' may not start with '__' at column 1"),
    ("x + 'a'", "unexpected \"'\" (strings are not allowed) at column 5"),
    ("x $ 1", "unexpected '$' at column 3 in \"x $ 1\""),
    ("x\x00", "unexpected '\\x00' at column 2"),
    ("x = 1", "use '=='"),
    ("1/0", "division by zero at column 2"),
    ("x % (2 - 2)", "modulo by zero at column 3"),
    ("oo + 1", "'oo' is a reserved word, not a variable (constants such as pi, E, I, nan and oo are not "
               "exact rationals) at column 1"),
    ("nan", "'nan' is a reserved word, not a variable"),
    ("2*pi", "'pi' is a reserved word, not a variable"),
    ("x + N", "'N' is a reserved word, not a variable at column 5"),
    ("x + R", "'R' is a reserved word"),
    ("x^100", "exponent 100 is not an integer from -16 to 16 at column 3"),
    ("9**9**9", "chained powers are ambiguous"),
    ("1e999999", "beyond ±400 at column 1"),
    ("1" * 401, "more than 400 digits"),
    ("(x", "expected ')' but found end of text at column 3"),
    ("(" * 201 + "x" + ")" * 201, f"nesting deeper than {MAX_DEPTH} levels at column 201"),
    ("x" * 10001, "text of 10001 characters is longer than 10000 at column 10001"),
    ("", "empty expression at column 1"),
    ("(x > 0) + 1", "expected a number-valued expression but found a condition"),
    ("x and y", "expected a condition such as x > 0"),
]


@pytest.mark.parametrize(("text", "fragment"), ERROR_MESSAGES, ids=lambda v: repr(v[:30]))
def test_parse_error_says_what_where_and_which_token(text, fragment):
    """ParseError messages name the problem, the column and the offending token, on one line."""
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_long_text_is_truncated_in_messages():
    """The quoted text in a message is cut to about 80 characters around the error."""
    with pytest.raises(ParseError) as info:
        parse_expression("x + " * 100 + "$")
    assert len(str(info.value)) < 200 and "column 401" in str(info.value)


LIMITS_OK = [
    "(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH,
    "relu(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH,
    "-" * MAX_DEPTH + "x",
    "+".join(["x"] * 5000)[:9999],
    "1e400 + 1e-400",
    "x^16 + x^-16",
    "9" * 400,
]


@pytest.mark.parametrize("text", LIMITS_OK, ids=lambda t: repr(t[:30]))
def test_input_at_the_limits_still_parses(text):
    """Nesting 200 deep, 10,000 characters, 400 digits and |exponent| 16 are all accepted."""
    assert isinstance(parse_expression(text), sp.Basic)


PATHOLOGICAL = {
    "long sum": "+".join(f"x{i}" for i in range(1600)),
    "long product": "*".join(f"x{i}" for i in range(1600)),
    "long and": " & ".join(f"x{i} > 0" for i in range(900)),
    "nested mod": "".join(f"mod(x{i} - " for i in range(200)) + "x" + ", 3)" * 200,
    "nested min": "".join(f"min(x{i}, " for i in range(200)) + "x" + ")" * 200,
    "nested abs": "".join(f"abs(x{i} - " for i in range(200)) + "x" + ")" * 200,
    "nested floor": "".join(f"floor(x{i}/2 - " for i in range(200)) + "x" + ")" * 200,
    "wide min": "min(" + ", ".join(f"x{i}" for i in range(1500)) + ")",
}


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_input_parses_in_linear_time(text):
    """Long runs are built n-ary and Min/Max/Abs/floor/Mod are not simplified (sympy's nested
    simplification is super-linear), so 10,000 characters parse in well under a few seconds."""
    assert len(text) <= 10_000
    start = time.perf_counter()
    parse_expression(text)
    assert time.perf_counter() - start < 5


def test_parser_never_calls_eval_exec_or_sympify(monkeypatch):
    """With eval, exec, sympify and parse_expr trapped, good text parses and hostile text fails."""
    pwned = pathlib.Path("/tmp/pwned")
    existed = pwned.exists()
    good = EXPRESSIONS[:20]
    for text, _ in good:  # warm up lazy imports before trapping
        parse_expression(text)
    calls = []

    def trap(*args, **kwargs):
        calls.append(args)
        raise AssertionError("forbidden call")

    monkeypatch.setattr(builtins, "eval", trap)
    monkeypatch.setattr(builtins, "exec", trap)
    monkeypatch.setattr(sp, "sympify", trap)
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", trap)
    with pytest.raises(AssertionError):  # the trap is armed
        builtins.eval("1")
    calls.clear()
    for text, expected in good:
        assert parse_expression(text) == expected
    for text in HOSTILE:
        with pytest.raises(ParseError):
            parse_expression(text)
    for text in HOSTILE_DOMAINS:
        with pytest.raises(ParseError):
            parse_domain(text, ["x"])
    assert calls == []
    assert pwned.exists() == existed


NUMBERS = [
    ("2", Fraction(2)),
    ("-0.5", Fraction(-1, 2)),
    ("+0.25", Fraction(1, 4)),
    ("1e-3", Fraction(1, 1000)),
    ("1/1000", Fraction(1, 1000)),
    ("-1/3", Fraction(-1, 3)),
    ("3/-6", Fraction(-1, 2)),
    (" 0.1 ", Fraction(1, 10)),
    ("1E+2", Fraction(100)),
]


@pytest.mark.parametrize(("text", "expected"), NUMBERS)
def test_parse_number_is_exact(text, expected):
    """parse_number reads one exact rational: integers, decimals, scientific, fractions."""
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["", "x", "1+1", "--1", "1/2/3", "1/0", "abs(1)", "1e999", "nan",
                                  "inf", "1,5", "0x10", "1_000", "2 3", "eval('1')"])
def test_parse_number_rejects_anything_but_one_number(text):
    """Anything but a single (signed, possibly fractional) number is a ParseError."""
    with pytest.raises(ParseError, match="column"):
        parse_number(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("a,b", ("a", "b")),
    ("x1, x2 ,x3", ("x1", "x2", "x3")),
    ("w", ("w",)),
])
def test_parse_names_reads_a_comma_list(text, expected):
    """parse_names returns the identifiers in order."""
    assert parse_names(text) == expected


@pytest.mark.parametrize("text", ["", "a,", ",a", "a,a", "a b", "1", "relu", "R,x", "__x", "a.b",
                                  "in", "x" * 65, "a;b"])
def test_parse_names_rejects_bad_lists(text):
    """Empty, duplicate, reserved, dunder, too long or non-identifier names are ParseErrors."""
    with pytest.raises(ParseError, match="column"):
        parse_names(text)


XY = ["x1", "x2"]
UNIT = RealInterval(-1, 1)
POSITIVE = RealInterval(0, None, lo_open=True)
DOMAINS = [
    ("R", XY, Domain.reals(2)),
    ("R^2", XY, Domain.reals(2)),
    ("ℝ^2", XY, Domain.reals(2)),
    ("R", ["x"], Domain.reals(1)),
    ("(-oo, oo)", ["x"], Domain.reals(1)),
    ("Z", XY, Domain({"x1": IntegerRange(), "x2": IntegerRange()})),
    ("ℤ^2", XY, Domain({"x1": IntegerRange(), "x2": IntegerRange()})),
    ("[-1, 1]^2", XY, Domain({"x1": UNIT, "x2": UNIT})),
    ("[-1, 1]", ["x"], Domain({"x": UNIT})),
    ("{0..15}^2", XY, Domain({"x1": IntegerRange(0, 15), "x2": IntegerRange(0, 15)})),
    ("(x1, x2) in [-1, 1]^2", XY, Domain({"x1": UNIT, "x2": UNIT})),
    ("x1 in [-1, 1], x2 in [0, 1)", XY,
     Domain({"x1": UNIT, "x2": RealInterval(0, 1, hi_open=True)})),
    ("x1 ∈ (-1/2, 1], x2 in (-oo, 2]", XY,
     Domain({"x1": RealInterval(Fraction(-1, 2), 1, lo_open=True), "x2": RealInterval(None, 2)})),
    ("x1 in (0, inf), x2 in [0, ∞)", XY,
     Domain({"x1": POSITIVE, "x2": RealInterval(0, None)})),
    ("x1 in (-∞, +oo)", XY, Domain.reals(2)),
    ("x1 in R, x2 in Z", XY, Domain({"x2": IntegerRange()})),
    ("x1 in N", XY, Domain({"x1": IntegerRange(0, None)})),
    ("x1 in {0..15}", XY, Domain({"x1": IntegerRange(0, 15)})),
    ("x1 in {-3..-1}", XY, Domain({"x1": IntegerRange(-3, -1)})),
    ("x1 in {1, 1/2, -0.5, 1e-3}", XY,
     Domain({"x1": FiniteSet((1, Fraction(1, 2), Fraction(-1, 2), Fraction(1, 1000)))})),
    ("x1 in {0, 1}, x2 in {0,1}", XY, Domain({"x1": FiniteSet((0, 1)), "x2": FiniteSet((0, 1))})),
    ("x1 in Z ∩ [0.5, 3.5]", XY, Domain({"x1": IntegerRange(1, 3)})),
    ("x1 in Z & (0, 3)", XY, Domain({"x1": IntegerRange(1, 2)})),
    ("x1 in N ∩ (-oo, 4]", XY, Domain({"x1": IntegerRange(0, 4)})),
    ("w1 > 0", ["x1", "w1"], Domain({"w1": POSITIVE})),
    ("x1 >= 0, x1 < 1", XY, Domain({"x1": RealInterval(0, 1, hi_open=True)})),
    ("0 < x1 <= 1, x2 >= -1/2", XY,
     Domain({"x1": RealInterval(0, 1, lo_open=True), "x2": RealInterval(Fraction(-1, 2), None)})),
    ("-1 <= x1 <= 1", XY, Domain({"x1": UNIT})),
    ("1 > x1", XY, Domain({"x1": RealInterval(None, 1, hi_open=True)})),
    ("x1 ≥ 0", XY, Domain({"x1": RealInterval(0, None)})),
    ("x1 > 0, x1 in [-1, 1]", XY, Domain({"x1": RealInterval(0, 1, lo_open=True)})),
    ("x1 in [-1, 1], x1 > 0, x1 > 1/2", XY, Domain({"x1": RealInterval(half, 1, lo_open=True)})),
    ("x1 > 0, x1 in R", XY, Domain({"x1": POSITIVE})),
    ("R^2, x1 > 0", XY, Domain({"x1": POSITIVE})),
    ("x1 == 3", XY, Domain({"x1": RealInterval(3, 3)})),
    (" x1\tin[ -1 ,1 ] ", XY, Domain({"x1": UNIT})),
]


@pytest.mark.parametrize(("text", "variables", "expected"), DOMAINS, ids=lambda v: repr(v)[:40])
def test_domain_grammar_builds_the_expected_domain(text, variables, expected):
    """Every domain form parses to the equal Domain; unlisted variables stay real."""
    assert parse_domain(text, variables) == expected


DOMAIN_ERRORS = [
    ("R^3", XY, "the claim has 2 variables (x1, x2) but the domain is R^3"),
    ("[0, 1]^1", XY, "the claim has 2 variables"),
    ("[0, 1]", XY, "write [0, 1]^2"),
    ("y in R", XY, "unknown variable 'y': the claim has 2 variables (x1, x2)"),
    ("x1 in R, x1 in Z", XY, "variable 'x1' is given a set twice at column 10"),
    ("(x1, x1) in [0, 1]^2", XY, "listed twice"),
    ("x1 in [0, 1]^2", XY, "1 variable but the set is [0, 1]^2"),
    ("(x1, x2) in [0, 1]", XY, "need a product set such as [0, 1]^2"),
    ("(x1, x2) in [0, 1]^3", XY, "2 variables but the set is [0, 1]^3"),
    ("[-oo, 1]", ["x"], "an infinite end needs an open bracket"),
    ("(0, oo]", ["x"], "an infinite end needs an open bracket"),
    ("(oo, 1)", ["x"], "the lower end of an interval cannot be +oo"),
    ("(0, -oo)", ["x"], "the upper end of an interval cannot be -oo"),
    ("x1 > 0, x1 in {0..3}", XY, "cannot be combined with its set {0..3}"),
    ("x1 < x2", XY, "one variable and one number"),
    ("1 < 2", XY, "one variable and one number"),
    ("x1 != 0", XY, "'!=' cannot describe a domain"),
    ("x1", XY, "expected 'in' or a comparison"),
    ("x1 in", XY, "expected a set"),
    ("x1 in [0, x2]", XY, "expected an exact number"),
    ("x1 in {0.5..2}", XY, "the ends of {a..b} must be integers"),
    ("x1 in [0, 1]]", XY, "unexpected ']'"),
    ("x1 in Z^0", XY, "expected a positive integer after '^'"),
    ("R in [0, 1]", XY, "'R' is a reserved word, not a variable at column 1"),
    ("", XY, "empty domain"),
    ("x1 in [0, 1] x2 in [0, 1]", XY, "unexpected 'x2'"),
    ("x1 in [0, 1e999]", XY, "beyond ±400"),
]


@pytest.mark.parametrize(("text", "variables", "fragment"), DOMAIN_ERRORS,
                         ids=lambda v: repr(v)[:40])
def test_bad_domains_raise_a_one_line_parse_error(text, variables, fragment):
    """Malformed domains raise ParseError naming the problem and the column, on one line."""
    with pytest.raises(ParseError) as info:
        parse_domain(text, variables)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value) and "column" in str(info.value)


@pytest.mark.parametrize("text", ["[2, 1]", "(0, 0)", "[0, 0)", "x > 1, x < 0", "{3..1}", "x in {}",
                                  "x in Z ∩ (0, 1)", "x in {1, 2} & [3, 4]", "x > 1, x in [-1, 1]"])
def test_empty_domains_raise_domain_error(text):
    """Empty sets and contradictory bounds are a DomainError (from the Domain classes)."""
    with pytest.raises(DomainError):
        parse_domain(text, ["x"])


@pytest.mark.parametrize("text", HOSTILE_DOMAINS, ids=lambda t: repr(t[:30]))
def test_hostile_domains_raise_only_parse_error(text):
    """Hostile text given as a domain raises ParseError and nothing else."""
    with pytest.raises(ParseError, match="column"):
        parse_domain(text, ["x"])
