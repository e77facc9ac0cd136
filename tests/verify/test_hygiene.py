"""Trust first: user names never meet internal solver names, partial targets are refused, reserved
words and oversized domain numbers are bad input, and a supremum that is not attained is reported."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp
import z3

from proofs import cli
from proofs.text_to_domain import parse_domain
from proofs.text_to_expr import parse_expression
from symbolic import errors
from symbolic.circuit import Builder, from_layers
from symbolic.printing import show
from symbolic.relu import ReLU, sym
from verify.circuit_to_z3 import Encoder
from verify.claim import Claim, Tolerance
from verify.decide import Config, decide
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval
from verify.result import Verdict
from verify.worst_case import error_at, max_error

X = sym("x")
#: Every naming pattern the encoders use or used (``n_<neuron>``, ``p0_<neuron>``, the optimiser's
#: ``__objective``, the difference circuit's ``target_``/``difference``) and plain neuron names.
INTERNAL_LOOKING = ["n_h1", "n_y", "n_h1_1", "p0_h1", "t_h1", "h1", "h1_1", "y", "target_h1", "difference",
                    "__objective", "objective", "n", "t"]


def _identity_relu(name: str):
    """``y = R(name)`` with one hidden neuron ``h1``: false as a claim ``y = name`` on R."""
    b = Builder([name])
    h = b.relu({name: 1}, name="h1" if name != "h1" else "g1")
    return b.build([b.linear({h: 1}, name="y" if name != "y" else "out")])


@pytest.mark.parametrize("name", INTERNAL_LOOKING)
def test_an_input_named_like_an_internal_variable_is_its_own_variable(name):
    """R(v) = v is false at v = -1 whatever v is called (17 fuzzed claims said proved for n_h1)."""
    claim = Claim(_identity_relu(name), sym(name))
    for config in (Config(), Config(max_points=0, max_cells=0)):
        result = decide(claim, config)
        assert result.verdict is Verdict.REFUTED, (name, result.reason)
        assert result.counterexample.point[name] < 0


def test_the_issue_cli_cases_are_refuted(capsys):
    """``claim "relu(n_h1)" --target n_h1`` and ``claim "2*n_y" --target n_y`` are refuted (exit 1)."""
    for network, target in (("relu(n_h1)", "n_h1"), ("2*n_y", "n_y")):
        assert cli.main(["claim", network, "--target", target]) == 1
        assert "refuted" in capsys.readouterr().out


def test_worst_case_with_an_input_named_like_the_objective():
    """``2*v`` against 0 on [-1, 1]^3 has worst-case error 2, also when an input is ``__objective``."""
    b = Builder(["__objective", "b", "c"])
    net = b.build([b.linear({"__objective": 2}, name="y")])
    # an open end keeps the query on z3's optimiser (closed boxes go to branch and bound first)
    box = Domain({n: RealInterval(-1, 1, hi_open=n == "c") for n in net.inputs})
    worst = max_error(net, sp.S.Zero, box)
    assert (worst.value, worst.attained, worst.method) == (2, True, "z3-optimize")
    assert error_at(net, sp.S.Zero, worst.at) == 2
    closed = max_error(net, sp.S.Zero, Domain({n: RealInterval(-1, 1) for n in net.inputs}))
    assert (closed.value, closed.method) == (2, "bab")


def test_encoder_names_are_outside_the_user_namespace():
    """Invented z3 constants contain '!', and the encoder refuses user names that are not identifiers."""
    net = from_layers([([[1], [-1]], None), ([[1, -1]], None)])
    enc = Encoder(Domain(), net.inputs)
    enc.encode_circuit(net)
    invented = {str(d) for c in enc.constraints for d in z3.z3util.get_vars(c)} - set(net.inputs)
    assert invented and all("!" in n for n in invented)
    for bad in ("n!h1", "x y", "", "1x"):
        with pytest.raises(errors.InvalidCircuitError, match="not an identifier"):
            Encoder(Domain(), [bad])


# -- totality ---------------------------------------------------------------------------------------
GAP = sp.Piecewise((X, X > 0), (-X, X < 0))


@pytest.mark.parametrize("domain", [Domain(), Domain({"x": RealInterval(-1, 1)}),
                                    Domain({"x": IntegerRange(-3, 3)}), Domain({"x": IntegerRange()}),
                                    Domain({"x": FiniteSet((-1, 0, 1))})])
@pytest.mark.parametrize("config", [Config(), Config(max_points=0, max_cells=0)], ids=["default", "z3"])
def test_a_target_with_a_gap_is_refused_by_every_method_naming_the_point(domain, config):
    """|x| written with a gap at 0 is not a theorem on any domain containing 0."""
    net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    with pytest.raises(errors.PartialTargetError, match=r"undefined at x = 0: no condition of piecewise"):
        decide(Claim(net, GAP, domain), config)


def test_a_target_with_a_gap_outside_the_domain_is_decided():
    net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    for domain in (Domain({"x": RealInterval(0, 1, lo_open=True)}), Domain({"x": FiniteSet((-2, 3))})):
        assert decide(Claim(net, GAP, domain)).verdict is Verdict.PROVED


def test_heaviside_without_a_value_and_a_modulus_that_may_vanish_are_partial():
    net = from_layers([([[1]], None), ([[1]], None)])
    with pytest.raises(errors.PartialTargetError, match="x = 0.*no value at 0"):
        decide(Claim(net, sp.Heaviside(X, sp.nan), Domain({"x": RealInterval(-1, 1)})))
    assert decide(Claim(net, sp.Heaviside(X, sp.nan), Domain({"x": RealInterval(1, 2)}))).verdict is Verdict.REFUTED
    b = Builder(["x"])
    h = b.relu({"x": sym("w")})
    template = b.build([b.linear({h: 1}, name="y")])
    with pytest.raises(errors.PartialTargetError, match="w = 0.*modulus of 0"):
        decide(Claim(template, sp.Mod(X, sym("w")), Domain({"w": RealInterval(0, 1)})))


def test_a_symbolic_weight_that_divides_by_zero_is_partial():
    """``R(w x) / w`` is undefined at w = 0; with ``w > 0`` it is the identity's half and decided."""
    b = Builder(["x"])
    h = b.relu({"x": sym("w")})
    net = b.build([b.linear({h: 1 / sym("w")}, name="y")])
    with pytest.raises(errors.PartialTargetError, match="w = 0"):
        decide(Claim(net, ReLU(X)))
    assert decide(Claim(net, ReLU(X), Domain({"w": RealInterval(0, None, lo_open=True)}))).verdict is Verdict.PROVED


def test_a_partial_target_prints_and_reads_back():
    """Printing a Piecewise without a default piece does not crash and parses back to itself."""
    text = show(GAP)
    assert text == "piecewise((x, x > 0), (-x, x < 0))"
    assert parse_expression(text) == GAP
    assert Claim(from_layers([([[1]], None), ([[1]], None)]), GAP).statement() == f"N(x) = {text}"


def test_partial_target_on_the_cli_is_bad_input(capsys):
    code = cli.main(["claim", "relu(x) + relu(-x)", "--target", "piecewise((x, x > 0), (-x, x < 0))"])
    err = capsys.readouterr().err
    assert code == 2 and "undefined at x = 0" in err and len(err.strip().splitlines()) == 1


# -- reserved words and domain limits -----------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["relu(x)", "--target", "nan"], ["relu(x)", "--target", "inf"], ["relu(pi)", "--target", "pi"],
    ["relu(zoo)", "--target", "zoo"], ["relu(E)", "--target", "E"], ["relu(x)", "--target", "x + I"],
    ["relu(x)", "--target", "x", "--inputs", "x,N"],
    ["relu(x)", "--target", "relu(x)", "--domain", "x in [0, 1e400]"],
    ["relu(x)", "--target", "relu(x)", "--domain", "x in {0..1e30}"],
    ["relu(x)", "--target", "relu(x)", "--domain", "x in Z & [-1e20, 0]"],
    ["relu(x)", "--target", "relu(x)", "--domain", "x in {1, 1e101}"],
])
def test_reserved_words_and_oversized_domain_numbers_are_bad_input(capsys, argv):
    assert cli.main(["claim", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and ("reserved word" in err or "must lie within" in err)


def test_domain_numbers_up_to_the_limits_are_accepted():
    domain = parse_domain("x in [-1e100, 1e100], y in {0..1e15}", ["x", "y"])
    assert domain.of("y") == IntegerRange(0, 10**15)
    assert decide(Claim(from_layers([([[1, 0]], None)], inputs=["x", "y"]), X, domain)).verdict is Verdict.PROVED


# -- suprema that are not attained --------------------------------------------------------------------
def test_sup_on_an_open_end_is_exact_and_not_attained_by_every_method():
    """``N = 0`` against ``x`` on (-1, 2): the sup 2 is approached at x = 2, never reached."""
    net = from_layers([([[0]], None)])
    domain = Domain({"x": RealInterval(-1, 2, lo_open=True, hi_open=True)})
    for cells in (200_000, 0):
        worst = max_error(net, X, domain, max_cells=cells)
        assert (worst.value, worst.attained, worst.at) == (2, False, {"x": 2}), worst
        assert "approached as the input tends to x = 2" in worst.note


def test_sup_attained_on_a_face_inside_a_half_open_box():
    """The error ``x2`` on (0, 1) x [0, 1] is 1 along x2 = 1: every maximising vertex has x1 on an
    open end, but the edge between them lies in the domain, so the maximum is attained."""
    net = from_layers([([[0, 0]], None)], inputs=["x1", "x2"])
    domain = Domain({"x1": RealInterval(0, 1, lo_open=True, hi_open=True), "x2": RealInterval(0, 1)})
    worst = max_error(net, sym("x2"), domain)
    assert (worst.value, worst.attained, worst.method) == (1, True, "regions")
    assert domain.contains(worst.at) and error_at(net, sym("x2"), worst.at) == 1


def test_sup_of_a_target_with_a_jump_is_exact_and_not_attained():
    """``f = x + 1`` left of 0 and 0 from 0 on: |0 - f| tends to 1 at 0- but never reaches it."""
    net = from_layers([([[0]], None)])
    jump = sp.Piecewise((X + 1, X < 0), (0, True))
    worst = max_error(net, jump, Domain({"x": RealInterval(-1, 1)}))
    assert (worst.value, worst.attained, worst.at) == (1, False, None)
    assert worst.note.startswith("not attained: approached near x = -")


def test_check_reports_a_sup_that_is_not_attained(tmp_path, capsys):
    """The CLI prints the exact sup and says it is not attained, exit 0/1 by the claim, never 4."""
    model = tmp_path / "zero.json"
    model.write_text('{"layers": [{"W": [[0]]}]}')
    code = cli.main(["check", str(model), "--target", "piecewise((x + 1, x < 0), (0, True))",
                     "--domain", "x in [-1, 1]", "--tolerance", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = __import__("json").loads(out)
    assert data["max_error"] == "1" and data["max_error_attained"] is False


def test_tolerance_at_a_sup_that_is_not_attained_is_proved():
    net = from_layers([([[0]], None)])
    claim = Claim(net, X, Domain({"x": RealInterval(-1, 2, hi_open=True)}), Tolerance(Fraction(2)))
    assert decide(claim).verdict is Verdict.PROVED
