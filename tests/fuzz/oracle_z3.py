"""The oracle's second z3 encoding, written from scratch: every variable is a FreshReal/FreshInt keyed
by object (no names a user could write), ReLU/min/max/abs as disjunctions rather than if-then-else,
and the target's definedness tracked explicitly. No ``verify``/``symbolic`` imports.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import z3

from tests.fuzz import oracle, spec

F = Fraction


def _q(v: F) -> z3.ArithRef:
    return z3.RealVal(v.numerator) / z3.RealVal(v.denominator) if v.denominator != 1 else z3.RealVal(v.numerator)


class Encoding:
    """z3 terms of one claim: ``inputs[name]`` (real-valued), ``facts`` (domain and definitions)."""

    def __init__(self, case: spec.Case):
        self.case = case
        self.facts: list[z3.BoolRef] = []
        self.raw: dict[str, z3.ArithRef] = {}
        self.inputs: dict[str, z3.ArithRef] = {}
        self.memo: dict[int, tuple] = {}  # id(node) -> (node, (term, defined)); the node is kept alive
        for name in case.inputs:
            s = case.set_of(name)
            if isinstance(s, spec.Ints) or (isinstance(s, spec.Finite) and all(v.denominator == 1 for v in s.values)):
                self.raw[name] = z3.FreshInt("fuzz_i")
                self.inputs[name] = z3.ToReal(self.raw[name])
            else:
                self.raw[name] = self.inputs[name] = z3.FreshReal("fuzz_r")
            self.facts.extend(self._member(s, self.inputs[name]))

    @staticmethod
    def _member(s, v) -> list:
        if isinstance(s, spec.Finite):
            return [z3.Or([v == _q(x) for x in s.values])]
        out = []
        lo = None if s.lo is None else F(s.lo)
        hi = None if s.hi is None else F(s.hi)
        lo_open = isinstance(s, spec.Real) and s.lo_open
        hi_open = isinstance(s, spec.Real) and s.hi_open
        if lo is not None:
            out.append(v > _q(lo) if lo_open else v >= _q(lo))
        if hi is not None:
            out.append(v < _q(hi) if hi_open else v <= _q(hi))
        return out

    def _max(self, terms: list) -> z3.ArithRef:
        """A fresh m with m >= each term and m equal to one of them."""
        m = z3.FreshReal("fuzz_max")
        self.facts.append(z3.And([m >= t for t in terms]))
        self.facts.append(z3.Or([m == t for t in terms]))
        return m

    def network(self) -> z3.ArithRef:
        net = self.case.network
        if isinstance(net, spec.Node):
            term, _ = self.node(net)
            return term
        env = dict(self.inputs)
        for n in net.neurons:
            pre = z3.Sum([_q(c) * env[s] for s, c in n.terms] + [_q(n.bias)])
            env[n.name] = self._max([pre, z3.RealVal(0)]) if n.relu else pre
        return env[net.output]

    def node(self, node) -> tuple:  # noqa: C901 - one case per node
        """``(term, defined)`` for an AST node; conditions give a z3 Bool as term."""
        key = id(node)
        if key not in self.memo or self.memo[key][0] is not node:
            self.memo[key] = (node, self._node(node))
        return self.memo[key][1]

    def _node(self, node) -> tuple:  # noqa: C901 - one case per node
        true = z3.BoolVal(True)
        if isinstance(node, spec.Num):
            return _q(node.value), true
        if isinstance(node, spec.Var):
            return self.inputs[node.name], true
        if isinstance(node, spec.Bool):
            return z3.BoolVal(node.value), true
        parts = [self.node(c) for c in spec.children(node)]
        defined = z3.And([d for _, d in parts]) if parts else true
        terms = [t for t, _ in parts]
        if isinstance(node, spec.Lin):
            return z3.Sum([_q(c) * t for (c, _), t in zip(node.terms, terms)] + [_q(node.const)]), defined
        if isinstance(node, spec.Relu):
            return self._max([terms[0], z3.RealVal(0)]), defined
        if isinstance(node, spec.Abs):
            return self._max([terms[0], -terms[0]]), defined
        if isinstance(node, spec.Max):
            return self._max(terms), defined
        if isinstance(node, spec.Min):
            return -self._max([-t for t in terms]), defined
        if isinstance(node, spec.Ind):
            return z3.If(terms[0], z3.RealVal(1), z3.RealVal(0)), defined
        if isinstance(node, spec.Cmp):
            a, b = terms
            rel = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[node.op]
            return rel, defined
        if isinstance(node, spec.All):
            return z3.And(terms), defined
        if isinstance(node, spec.Any_):
            return z3.Or(terms), defined
        if isinstance(node, spec.Neg):
            return z3.Not(terms[0]), defined
        if isinstance(node, spec.Cases):
            return self._cases(node)
        raise TypeError(f"not an AST node: {node!r}")

    def _cases(self, node: spec.Cases) -> tuple:
        """A fresh value v: for the first piece whose condition holds, v is that piece's value."""
        value = z3.FreshReal("fuzz_case")
        earlier: list = []
        chosen = []
        for piece, cond in node.pieces:
            p_term, p_def = self.node(piece)
            c_term, c_def = self.node(cond)
            first = z3.And(earlier + [c_def, c_term])
            self.facts.append(z3.Implies(first, value == p_term))
            chosen.append(z3.And(first, p_def))
            earlier += [c_def, z3.Not(c_term)]
        return value, z3.Or(chosen)


@dataclasses.dataclass(frozen=True)
class Answer:
    """``status``: holds, fails (with a replayed point), undefined (with a point), or unknown."""

    status: str
    point: dict | None = None
    reason: str = ""


def _point(enc: Encoding, model: z3.ModelRef) -> dict[str, F]:
    out = {}
    for name, var in enc.raw.items():
        value = model.eval(var, model_completion=True)
        out[name] = F(value.as_long()) if z3.is_int_value(value) else value.as_fraction()
    return out


def decide(case: spec.Case, timeout_s: float = 5.0, definedness: bool = False) -> Answer:
    """Decide the claim with the oracle's own encoding; every model is replayed by the oracle.
    With ``definedness``, only whether the target is defined on the whole domain (``holds``)."""
    enc = Encoding(case)
    n = enc.network()
    t, defined = enc.node(case.target)
    kind = case.kind
    if isinstance(kind, spec.Eq):
        failure = n != t
    elif isinstance(kind, spec.Tol):
        failure = z3.Or(n - t > _q(kind.eps), t - n > _q(kind.eps))
    else:
        thr = _q(kind.threshold)
        fires = {">": n > thr, ">=": n >= thr, "<": n < thr, "<=": n <= thr}[kind.op]
        failure = fires != t
    queries = [] if definedness else [("fails", z3.And(defined, failure))]
    if spec.has_cases(case.target):
        queries.append(("undefined", z3.Not(defined)))
    unknown = []
    for status, formula in queries:
        solver = z3.Solver()
        solver.set("timeout", max(1, int(timeout_s * 1000)))
        solver.add(*enc.facts)
        solver.add(formula)
        answer = solver.check()
        if answer == z3.unknown:
            unknown.append(f"{status} query: {solver.reason_unknown()}")
            continue
        if answer == z3.sat:
            point = _point(enc, solver.model())
            seen = oracle.check_point(case, point).status
            if seen != status or not oracle.member(case, point):
                return Answer("inconsistent", point, f"oracle z3 model for '{status}' gives '{seen}' when replayed")
            return Answer(status, point)
    if unknown:
        return Answer("unknown", None, "; ".join(unknown))
    return Answer("holds")
