"""The fuzzer's own parts: the oracle is independent and exact, the cross-check catches wrong answers,
the generator is deterministic and valid, and CLI text means what the oracle means."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import random
from fractions import Fraction as F

import pytest

from tests.fuzz import crosscheck, generate, line, names, oracle, oracle_z3, render, spec
from tests.fuzz.spec import Abs, Bool, Cases, Cmp, Ind, Lin, Min, Num, Relu, Var

HERE = pathlib.Path(__file__).parent
X, Y = Var("x"), Var("y")


def case(network, target, domain=(), kind=spec.Eq(), inputs=("x",), route="api"):
    return spec.Case(0, "test", route, "plain", inputs, network, target, tuple(domain), kind)


def net(neurons, inputs=("x",)):
    return spec.Net(inputs, tuple(spec.Neuron(n, tuple((s, F(c)) for s, c in t), F(b), r) for n, t, b, r in neurons),
                    (neurons[-1][0],), neurons[-1][0])


ABS_NET = net([("h1", [("x", 1)], 0, True), ("h2", [("x", -1)], 0, True), ("y", [("h1", 1), ("h2", 1)], 0, False)])


@pytest.mark.parametrize("module", ["oracle.py", "line.py", "oracle_z3.py", "spec.py"])
def test_oracle_imports_nothing_from_the_tool(module):
    tree = ast.parse((HERE / module).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in imported if m.split(".")[0] in ("verify", "symbolic", "proofs", "networks")}


def test_evaluator_is_exact_and_knows_where_a_target_is_undefined():
    gap = Cases(((X, Cmp(">", X, Num(F(0)))), (Lin(((F(-1), X),)), Cmp("<", X, Num(F(0))))))
    c = case(ABS_NET, gap)
    assert oracle.check_point(c, {"x": F(-1, 3)}).status == "holds"
    assert oracle.check_point(c, {"x": F(0)}).status == "undefined"
    m = oracle.Memo({"x": F(5, 2)})
    assert m(Min((X, Num(F(1)), Abs(Lin(((F(1), X),), F(-7)))))) == 1
    assert m(Lin(((F(3), Ind(Cmp(">=", X, Num(F(5, 2))))),))) == 3


def test_membership_respects_open_ends_and_integers():
    s = spec.Real(F(0), F(1), True, False)
    assert not oracle.in_set(s, F(0)) and oracle.in_set(s, F(1)) and oracle.in_set(s, F(1, 10 ** 30))
    assert oracle.in_set(spec.Ints(None, 3), F(-10 ** 9)) and not oracle.in_set(spec.Ints(), F(1, 2))
    c = case(ABS_NET, Abs(X), [("x", spec.Finite((F(1, 3),)))])
    assert oracle.member(c, {"x": F(1, 3)}) and not oracle.member(c, {"x": F(1, 3), "z": F(0)})


def test_line_analysis_decides_one_input_exactly():
    relu = net([("h1", [("x", 1)], 0, True)])
    assert line.decide(case(relu, X), line.line_of_one(case(relu, X))).status == "fails"
    half = case(relu, X, [("x", spec.Real(F(0), None, False, True))])
    assert line.decide(half, line.line_of_one(half)).status == "holds"
    # |relu(x) - x| = |x| for x < 0: sup 2 on (-2, 1], not attained; eps just below it fails
    box = case(relu, X, [("x", spec.Real(F(-2), F(1), True, False))], spec.Tol(F(2)))
    out = line.decide(box, line.line_of_one(box), want_sup=True)
    assert (out.status, out.sup) == ("holds", F(2))
    below = dataclasses.replace(box, kind=spec.Tol(F(2) - F(1, 2 ** 80)))
    found = line.decide(below, line.line_of_one(below))
    assert found.status == "fails" and F(-2) < found.point["x"] < F(-1)


def test_line_analysis_on_integers_and_steps():
    step = net([("h1", [("x", 1)], 0, True), ("h2", [("x", 1)], -1, True), ("y", [("h1", 1), ("h2", -1)], 0, False)])
    target = Ind(Cmp(">=", X, Num(F(1))))
    on_z = case(step, target, [("x", spec.Ints())])
    assert line.decide(on_z, line.line_of_one(on_z)).status == "holds"
    on_r = case(step, target)
    out = line.decide(on_r, line.line_of_one(on_r))
    assert out.status == "fails" and 0 < out.point["x"] < 1


def test_oracle_z3_proves_refutes_and_finds_gaps():
    mn = net([("h1", [("x", 1), ("y", -1)], 0, True), ("m", [("x", 1), ("h1", -1)], 0, False)], ("x", "y"))
    assert oracle_z3.decide(case(mn, Min((X, Y)), inputs=("x", "y"))).status == "holds"
    off = oracle_z3.decide(case(mn, Min((X, Lin(((F(1), Y),), F(1, 10 ** 12)))), inputs=("x", "y")))
    assert off.status == "fails" and oracle.check_point(case(mn, Min((X, Y)), inputs=("x", "y")), off.point)
    gap = Cases(((Min((X, Y)), Cmp(">", X, Y)), (Min((X, Y)), Cmp("<", X, Y))))
    assert oracle_z3.decide(case(mn, gap, inputs=("x", "y"))).status == "undefined"


@dataclasses.dataclass(frozen=True)
class FakeMaxError:
    value: F
    at: dict | None
    method: str


class FakeTool:
    """Stands in for the tool: returns a fixed answer, so that the cross-check is what is tested."""

    def __init__(self, kind, payload):
        self.answer = (kind, payload)

    def __call__(self, case, opts):
        return self.answer


@pytest.mark.parametrize("answer, claim, why", [
    (("result", ("proved", None, None, "fake")), case(net([("h1", [("x", 1)], 0, True)]), X), "refutes"),
    (("result", ("proved", None, None, "fake")),
     case(ABS_NET, Cases(((X, Cmp(">", X, Num(F(0)))), (Lin(((F(-1), X),)), Cmp("<", X, Num(F(0))))))), "undefined"),
    (("result", ("refuted", {"x": F(2)}, None, "fake")), case(ABS_NET, X), "finds the claim holds"),
    (("result", ("refuted", {"x": F(-2)}, None, "fake")), case(ABS_NET, X, [("x", spec.Real(F(0), None, False))]),
     "outside the domain"),
    (("result", ("refuted", {"x": F(-2)}, (F(2), F(-3)), "fake")), case(ABS_NET, X), "differ"),
    (("worst", FakeMaxError(F(1), None, "fake")),
     dataclasses.replace(case(ABS_NET, Abs(X), [("x", spec.Real(F(-1), F(1), False, False))], route="worst"),
                         worst=F(0)), "exact sup"),
])
def test_cross_check_flags_wrong_answers(monkeypatch, answer, claim, why):
    monkeypatch.setattr(crosscheck, "run_tool", FakeTool(*answer))
    record = crosscheck.check_case(claim)
    assert why in record.wrong


def test_cross_check_accepts_right_answers_and_counts_errors(monkeypatch):
    monkeypatch.setattr(crosscheck, "run_tool", FakeTool("result", ("refuted", {"x": F(-2)}, (F(2), F(-2)), "fake")))
    assert crosscheck.check_case(case(ABS_NET, X)).wrong == ""

    def invalid(case, opts):
        from symbolic import errors
        raise errors.ClaimError("no")

    monkeypatch.setattr(crosscheck, "run_tool", invalid)
    record = crosscheck.check_case(case(ABS_NET, Abs(X)))
    assert (record.outcome, record.error_class, record.oracle) == ("error", "ClaimError", "holds")


def test_definedness_is_decided_apart_from_the_claim():
    gap = Cases(((X, Cmp(">", X, Num(F(0)))), (Lin(((F(2), X),)), Cmp("<", X, Num(F(0))))))
    on_r = case(ABS_NET, gap)  # false at x < 0 and undefined at 0: both must be found
    assert crosscheck.definedness(on_r, crosscheck.Options())[0] == "undefined"
    assert crosscheck.definedness(case(ABS_NET, gap, [("x", spec.Real(F(0), None, True))]), crosscheck.Options()) == ("holds", None)
    two = case(ABS_NET, Cases(((X, Cmp(">", X, Y)), (Y, Cmp("<", X, Y)))), inputs=("x", "y"))
    assert crosscheck.definedness(two, crosscheck.Options())[0] == "undefined"


def test_a_refusal_of_a_defined_target_is_wrong(monkeypatch):
    from symbolic import errors

    refusal = type("PartialTargetError", (errors.ClaimError,), {})

    def refuse(case, opts):
        raise refusal("undefined somewhere")

    monkeypatch.setattr(crosscheck, "run_tool", refuse)
    total = Cases(((X, Cmp(">=", X, Num(F(0)))), (Lin(((F(-1), X),)), Cmp("<", X, Num(F(0))))))
    assert "defined on the whole domain" in crosscheck.check_case(case(ABS_NET, total)).wrong
    gap = Cases(((X, Cmp(">", X, Num(F(0)))), (Lin(((F(-1), X),)), Cmp("<", X, Num(F(0))))))
    assert crosscheck.check_case(case(ABS_NET, gap)).wrong == ""


def test_generator_is_deterministic_and_covers_every_category():
    cases = [generate.generate(3, i) for i in range(300)]
    assert [c.describe() for c in cases[:40]] == [generate.generate(3, i).describe() for i in range(40)]
    assert {c.category for c in cases} == set(generate.CATEGORIES)
    assert {c.route for c in cases} == {"api", "text", "cli", "worst"}
    assert {len(c.inputs) for c in cases} == {1, 2, 3, 4}
    for c in cases:
        assert all(names.allowed(n, c.route) for n in c.inputs), c.inputs
        assert c.expect is None or c.category not in ("random-eq", "predicate-random", "undefined")


def test_cli_text_means_what_the_oracle_means():
    """The texts the fuzzer gives the parser, parsed by the tool and evaluated by the tool's own
    evaluator, agree with the oracle at random points (a differential check of the renderer)."""
    from symbolic.evaluate import evaluate_expr

    rng = random.Random(0)
    checked = 0
    for i in range(200):
        c = generate.generate(9, i)
        if c.route not in ("text", "cli") or spec.has_cases(c.target):
            continue
        claim = render.text_claim(c)
        for _ in range(3):
            point = oracle.random_point(c, rng)
            memo = oracle.Memo(point)
            assert claim.circuit.evaluate(point)[0] == oracle.network_value(c, point, memo)
            assert evaluate_expr(claim.target, point) == memo(c.target)
            assert claim.domain.contains(point)
        checked += 1
    assert checked > 20


def test_nets_mean_what_the_oracle_means():
    """Nets built by from_layers / Builder evaluate, in the tool, as the oracle evaluates them
    (also when an input is named like a hidden neuron of from_layers)."""
    from symbolic import errors

    rng = random.Random(1)
    checked = 0
    for i in range(300):
        c = generate.generate(4, i)
        if not isinstance(c.network, spec.Net):
            continue
        try:
            circuit = render.to_circuit(c.network)
        except errors.InvalidCircuitError:
            continue
        point = oracle.random_point(c, rng)
        assert circuit.evaluate_all(point)[c.network.output] == oracle.net_values(c.network, point)[0]
        checked += 1
    assert checked > 100


def test_names_are_adversarial_but_valid():
    rng = random.Random(5)
    drawn = {n for _ in range(200) for n in names.draw(rng, 3, "api", "internal")}
    assert {"n_h1", "n_y", "__objective", "h1_1"} <= drawn
    long = names.long_name(rng, "text")
    assert names.allowed(long, "text") and len(long) <= names.TEXT_MAX
    assert not names.allowed("__objective", "text") and not names.allowed("pi", "api")
    assert Bool(True) != Bool(False) and Relu(X) == Relu(Var("x"))
