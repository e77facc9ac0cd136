"""The fuzzer's own oracle: exact Fraction evaluation, domain membership and counterexample search.

Written only for the fuzzer: it imports nothing from ``verify`` or ``symbolic``; the meaning of a
claim is the one given here (``tests.fuzz.spec``). ``line`` adds an exact decision along lines
(complete for one input), ``oracle_z3`` a second solver encoding.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from fractions import Fraction

from tests.fuzz import spec

F = Fraction
_OPS = {"<": F.__lt__, "<=": F.__le__, ">": F.__gt__, ">=": F.__ge__, "==": F.__eq__, "!=": F.__ne__}
ENUMERATE = 2000  # finite domains up to this many points are decided point by point


class Undefined(Exception):
    """The target has no value at this point (no piece of a Cases node applies)."""


class Memo:
    """Values of AST nodes at one point, memoised by node identity."""

    def __init__(self, point: dict[str, F]):
        self.point = point
        self.values: dict[int, object] = {}

    def __call__(self, node):
        key = id(node)
        if key in self.values and self.values[key][0] is node:  # the node is kept: its id stays its own
            value = self.values[key][1]
            if value is Undefined:
                raise Undefined()
            return value
        try:
            value = self._eval(node)
        except Undefined:
            self.values[key] = (node, Undefined)
            raise
        self.values[key] = (node, value)
        return value

    def _eval(self, node):  # noqa: C901 - one case per node
        if isinstance(node, spec.Num):
            return node.value
        if isinstance(node, spec.Var):
            return self.point[node.name]
        if isinstance(node, spec.Lin):
            return sum((c * self(n) for c, n in node.terms), node.const)
        if isinstance(node, spec.Relu):
            v = self(node.arg)
            return v if v > 0 else F(0)
        if isinstance(node, spec.Abs):
            return abs(self(node.arg))
        if isinstance(node, spec.Min):
            return min(self(a) for a in node.args)
        if isinstance(node, spec.Max):
            return max(self(a) for a in node.args)
        if isinstance(node, spec.Cases):
            for value, cond in node.pieces:
                if self(cond):
                    return self(value)
            raise Undefined()
        if isinstance(node, spec.Ind):
            return F(1) if self(node.cond) else F(0)
        if isinstance(node, spec.Cmp):
            return _OPS[node.op](self(node.left), self(node.right))
        if isinstance(node, spec.All):
            return all(self(a) for a in node.args)
        if isinstance(node, spec.Any_):
            return any(self(a) for a in node.args)
        if isinstance(node, spec.Neg):
            return not self(node.arg)
        if isinstance(node, spec.Bool):
            return node.value
        raise TypeError(f"not an AST node: {node!r}")


def net_values(net: spec.Net, point: dict[str, F]) -> tuple[F, list[F]]:
    """The output value and the pre-activation of every ReLU neuron, in order.

    >>> net = spec.Net(('x',), (spec.Neuron('h', (('x', F(1)),), F(-1), True),), ('h',), 'h')
    >>> net_values(net, {'x': F(3)})
    (Fraction(2, 1), [Fraction(2, 1)])
    """
    env = dict(point)
    pres = []
    for n in net.neurons:
        total = n.bias
        for source, c in n.terms:
            total += c * env[source]
        if n.relu:
            pres.append(total)
            total = total if total > 0 else F(0)
        env[n.name] = total
    return env[net.output], pres


def network_value(case: spec.Case, point: dict[str, F], memo: Memo | None = None) -> F:
    if isinstance(case.network, spec.Net):
        return net_values(case.network, point)[0]
    return (memo or Memo(point))(case.network)


@dataclasses.dataclass(frozen=True)
class Check:
    """The claim at one point: ``status`` is holds, fails or undefined."""

    status: str
    network: F | None = None
    target: object = None


def check_point(case: spec.Case, point: dict[str, F]) -> Check:
    """Decide the claim at one point, exactly.

    >>> case = spec.Case(0, 'demo', 'api', 'plain', ('x',), spec.Relu(spec.Var('x')), spec.Var('x'), (), spec.Eq())
    >>> check_point(case, {'x': F(-1)}).status, check_point(case, {'x': F(2)}).status
    ('fails', 'holds')
    """
    memo = Memo(point)
    n = network_value(case, point, memo)
    try:
        t = memo(case.target)
    except Undefined:
        return Check("undefined", n, None)
    kind = case.kind
    if isinstance(kind, spec.Eq):
        ok = n == t
    elif isinstance(kind, spec.Tol):
        ok = abs(n - t) <= kind.eps
    else:
        ok = _OPS[kind.op](n, kind.threshold) == t
    return Check("holds" if ok else "fails", n, t)


def in_set(s, v: F) -> bool:
    """Exact membership of ``v`` in one variable's set."""
    if isinstance(s, spec.Finite):
        return v in s.values
    if isinstance(s, spec.Ints):
        return v.denominator == 1 and (s.lo is None or v >= s.lo) and (s.hi is None or v <= s.hi)
    if s.lo is not None and (v < s.lo or (s.lo_open and v == s.lo)):
        return False
    return not (s.hi is not None and (v > s.hi or (s.hi_open and v == s.hi)))


def member(case: spec.Case, point: dict) -> bool:
    """Whether ``point`` gives an exact rational to every input and lies in the domain."""
    if set(point) != set(case.inputs):
        return False
    return all(isinstance(point[n], F) and in_set(case.set_of(n), point[n]) for n in case.inputs)


def is_finite(s) -> bool:
    return isinstance(s, spec.Finite) or (isinstance(s, spec.Ints) and s.lo is not None and s.hi is not None)


def size(case: spec.Case) -> float:
    """Number of points of the domain (``inf`` when not finite)."""
    sets = [case.set_of(n) for n in case.inputs]
    if not all(is_finite(s) for s in sets):
        return math.inf
    return math.prod(len(s.values) if isinstance(s, spec.Finite) else s.hi - s.lo + 1 for s in sets)


def points_of(s):
    return list(s.values) if isinstance(s, spec.Finite) else [F(v) for v in range(s.lo, s.hi + 1)]


def all_points(case: spec.Case):
    """Every point of a finite domain."""
    names = list(case.inputs)
    for values in itertools.product(*(points_of(case.set_of(n)) for n in names)):
        yield dict(zip(names, values))


def enumerate_all(case: spec.Case) -> tuple[str, dict | None]:
    """Decide a finite claim by checking every point: ``('holds'|'fails'|'undefined', point)``."""
    undefined = None
    for point in all_points(case):
        status = check_point(case, point).status
        if status == "fails":
            return "fails", point
        if status == "undefined" and undefined is None:
            undefined = point
    return ("undefined", undefined) if undefined is not None else ("holds", None)


# -- random search ------------------------------------------------------------------------------
_SPECIAL = [F(0), F(1), F(-1), F(1, 2), F(-1, 3), F(10), F(-100), F(10 ** 9), F(-(10 ** 9)), F(1, 10 ** 9)]


def sample(s, rng: random.Random) -> F:
    """A random exact value of one variable's set, biased to its ends and small numbers."""
    if isinstance(s, spec.Finite):
        return rng.choice(s.values)
    if isinstance(s, spec.Ints):
        lo = s.lo if s.lo is not None else (s.hi - 1000 if s.hi is not None else -1000)
        hi = s.hi if s.hi is not None else lo + 2000
        r = rng.random()
        return F(lo if r < 0.15 else hi if r < 0.3 else rng.randint(lo, hi))
    lo, hi = s.lo, s.hi
    r = rng.random()
    if lo is None and hi is None:
        return rng.choice(_SPECIAL) if r < 0.3 else F(rng.randint(-10 ** 4, 10 ** 4), rng.randint(1, 64))
    if lo is None or hi is None:
        end, sign = (lo, 1) if hi is None else (hi, -1)
        step = rng.choice([F(1, 2 ** rng.randint(1, 60)), F(rng.randint(1, 10 ** 6), rng.randint(1, 100))])
        value = end + sign * step
        if r < 0.2:
            value = end
        return value if in_set(s, value) else end + sign * step
    width = hi - lo
    if r < 0.1 and not s.lo_open:
        return lo
    if r < 0.2 and not s.hi_open:
        return hi
    if r < 0.35 and width:
        return lo + width / 2 ** rng.randint(1, 60) if rng.random() < 0.5 else hi - width / 2 ** rng.randint(1, 60)
    value = lo + width * F(rng.randint(0, 1000), 1000)
    return value if in_set(s, value) else lo + width / 2


def random_point(case: spec.Case, rng: random.Random) -> dict[str, F]:
    return {n: sample(case.set_of(n), rng) for n in case.inputs}


def search(case: spec.Case, rng: random.Random, count: int = 40) -> tuple[str, dict | None]:
    """Random exact points of the domain: ``('fails'|'undefined', point)`` or ``('none', None)``."""
    undefined = None
    for _ in range(count):
        point = random_point(case, rng)
        status = check_point(case, point).status
        if status == "fails":
            return "fails", point
        if status == "undefined" and undefined is None:
            undefined = point
    return ("undefined", undefined) if undefined else ("none", None)
