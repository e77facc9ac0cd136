"""Exact decision of a fuzz claim along one line of its domain (complete for one input).

Along ``p(t) = base + t * direction`` every ReLU pre-activation, every argument of relu/abs/min/max
and every comparison is piecewise affine in ``t``. Their zeros ("kinks") are found exactly, in
topological order (a quantity is affine between the kinks of the quantities it is built from), by
evaluating at two points of each interval and solving. Between consecutive kinks the network and
the target are affine and every condition is constant, so each open piece is decided from two
points (limits at its ends for tolerances), and each kink is checked on its own.
Part of the fuzzer's oracle: no ``verify``/``symbolic`` imports.
"""

from __future__ import annotations

import dataclasses
import math
import random
from fractions import Fraction

from tests.fuzz import oracle, spec

F = Fraction


class OracleError(AssertionError):
    """The oracle contradicts itself (a bug in the fuzzer, reported as such)."""


@dataclasses.dataclass(frozen=True)
class Line:
    """``base + t * direction`` for ``t`` in ``tset`` (a spec Real or Ints)."""

    base: dict
    direction: dict
    tset: object

    def at(self, t: F) -> dict[str, F]:
        return {n: v + t * self.direction.get(n, 0) for n, v in self.base.items()}


def _probes(case: spec.Case) -> list:
    """Quantities whose zeros are kinks, in topological order: functions (memo, net pres) -> value."""
    out: list = []
    seen: set[int] = set()

    def walk(node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in spec.children(node):
            walk(child)
        if isinstance(node, (spec.Relu, spec.Abs)):
            out.append(lambda m, _p, a=node.arg: m(a))
        elif isinstance(node, (spec.Min, spec.Max)):
            for a, b in zip(node.args, node.args[1:]):
                out.append(lambda m, _p, a=a, b=b: m(a) - m(b))
            for a, b in zip(node.args, node.args[2:]):
                out.append(lambda m, _p, a=a, b=b: m(a) - m(b))
            if len(node.args) > 3:
                for i, a in enumerate(node.args):
                    for b in node.args[i + 3:]:
                        out.append(lambda m, _p, a=a, b=b: m(a) - m(b))
        elif isinstance(node, spec.Cmp):
            out.append(lambda m, _p, a=node.left, b=node.right: m(a) - m(b))

    if isinstance(case.network, spec.Net):
        count = sum(n.relu for n in case.network.neurons)
        out.extend(lambda _m, pres, k=k: pres[k] for k in range(count))
    else:
        walk(case.network)
    walk(case.target)
    if isinstance(case.kind, spec.Pred):
        out.append(lambda m, _p: oracle.network_value(case, m.point, m) - case.kind.threshold)
    return out


class _Values:
    """Cached probe values at each ``t``."""

    def __init__(self, case: spec.Case, line: Line):
        self.case, self.line = case, line
        self.cache: dict[F, tuple] = {}

    def state(self, t: F):
        if t not in self.cache:
            point = self.line.at(t)
            memo = oracle.Memo(point)
            pres = oracle.net_values(self.case.network, point)[1] if isinstance(self.case.network, spec.Net) else ()
            self.cache[t] = (memo, pres)
        return self.cache[t]

    def probe(self, fn, t: F):
        memo, pres = self.state(t)
        try:
            return fn(memo, pres)
        except oracle.Undefined:
            return None


def _interior(a: F | None, b: F | None) -> tuple[F, F]:
    if a is None and b is None:
        return F(0), F(1)
    if a is None:
        return b - 2, b - 1
    if b is None:
        return a + 1, a + 2
    return a + (b - a) / 3, a + 2 * (b - a) / 3


def _intervals(kinks: list[F], lo: F | None, hi: F | None):
    ends = [lo, *kinks, hi]
    return list(zip(ends, ends[1:]))


def kinks(case: spec.Case, line: Line, values: _Values | None = None) -> list[F]:
    """All kinks of the claim's quantities strictly inside the line's t-range, sorted."""
    values = values or _Values(case, line)
    lo, hi = _range(line.tset)
    found: list[F] = []
    for fn in _probes(case):
        new = set()
        for a, b in _intervals(found, lo, hi):
            m1, m2 = _interior(a, b)
            v1, v2 = values.probe(fn, m1), values.probe(fn, m2)
            if v1 is None or v2 is None or v1 == v2:
                continue
            root = m1 - v1 * (m2 - m1) / (v2 - v1)
            if (a is None or root > a) and (b is None or root < b):
                new.add(root)
        if new:
            found = sorted(set(found) | new)
    return found


def _range(tset) -> tuple[F | None, F | None]:
    if isinstance(tset, spec.Ints):
        return (None if tset.lo is None else F(tset.lo)), (None if tset.hi is None else F(tset.hi))
    return tset.lo, tset.hi


@dataclasses.dataclass(frozen=True)
class Outcome:
    """``status``: holds, fails or undefined (with a point of the domain); ``sup``: the supremum of
    |N - f| along the line (None when unbounded or not asked)."""

    status: str
    point: dict | None = None
    sup: F | None = None


def decide(case: spec.Case, line: Line, want_sup: bool = False, definedness: bool = False) -> Outcome:
    """Decide the claim exactly on every point of the line (inside the domain); with ``definedness``
    only whether the target is defined everywhere on it (``holds``) or not (``undefined``)."""
    values = _Values(case, line)
    ks = kinks(case, line, values)
    lo, hi = _range(line.tset)
    integer = isinstance(line.tset, spec.Ints)
    bad, undefined, sup, unbounded = None, None, F(0), False
    singles = [t for t in ks if oracle.in_set(line.tset, t)] + [e for e in (lo, hi) if e is not None and oracle.in_set(line.tset, e)]
    for t in singles:
        check = oracle.check_point(case, line.at(t))
        if check.status == "fails" and bad is None:
            bad = t
        if check.status == "undefined" and undefined is None:
            undefined = t
        if check.status != "undefined" and not isinstance(case.kind, spec.Pred):
            sup = max(sup, abs(check.network - check.target))
    for a, b in _intervals(ks, lo, hi):
        piece = _piece(case, line, a, b, integer)
        if piece is None:
            continue
        status, t, piece_sup = piece
        if status == "fails" and bad is None:
            bad = t
        if status == "undefined" and undefined is None:
            undefined = t
        if piece_sup is None:
            unbounded = True
        else:
            sup = max(sup, piece_sup)
        if bad is not None and not want_sup and not definedness:
            break
    if definedness:
        return Outcome("holds") if undefined is None else Outcome("undefined", line.at(undefined))
    if bad is not None:
        point = line.at(bad)
        if oracle.check_point(case, point).status != "fails" or not oracle.member(case, point):
            raise OracleError(f"line analysis: {point} does not fail or is outside the domain")
        return Outcome("fails", point, None if unbounded else sup)
    if undefined is not None:
        return Outcome("undefined", line.at(undefined), None)
    return Outcome("holds", None, None if unbounded else sup)


def _piece(case: spec.Case, line: Line, a: F | None, b: F | None, integer: bool):
    """Decide one open piece ``(a, b)``: ``(status, t, sup of |d| on it)`` or None when it is empty."""
    if integer:
        first = None if a is None else F(math.floor(a) + 1)
        last = None if b is None else F(math.ceil(b) - 1)
        if first is not None and last is not None and first > last:
            return None
        m1 = first if first is not None else (last - 1 if last is not None else F(0))
        m2 = m1 + 1 if (last is None or m1 + 1 <= last) else m1
    else:
        if a is not None and b is not None and a >= b:
            return None
        m1, m2 = _interior(a, b)
    c1, c2 = oracle.check_point(case, line.at(m1)), oracle.check_point(case, line.at(m2))
    if "undefined" in (c1.status, c2.status):
        return "undefined", m1 if c1.status == "undefined" else m2, F(0)
    if isinstance(case.kind, spec.Pred):  # constant on the piece
        return ("fails", m1, F(0)) if c1.status == "fails" else ("fails", m2, F(0)) if c2.status == "fails" else ("holds", None, F(0))
    d1, d2 = c1.network - c1.target, c2.network - c2.target
    slope = (d2 - d1) / (m2 - m1) if m2 != m1 else F(0)

    def d(t: F) -> F:
        return d1 + (t - m1) * slope

    eps = case.kind.eps if isinstance(case.kind, spec.Tol) else F(0)
    ends = [a, b] if not integer else [first, last]
    if slope != 0 and None in ends:
        far = (eps + abs(d1) + 1) / abs(slope)
        t = m1 + far if ends[1] is None else m1 - far
        if integer:
            t = F(math.ceil(t)) if ends[1] is None else F(math.floor(t))
        return "fails", t, None
    limits = [abs(d(e)) for e in ends if e is not None] + [abs(d1)]
    sup = max(limits)
    for t in [m1, m2, *_near_ends(ends, d, eps, integer)]:
        inside = (a is None or t > a) and (b is None or t < b)
        if inside and abs(d(t)) > eps and oracle.in_set(line.tset, t):
            return "fails", t, sup
    return "holds", None, sup


def _near_ends(ends, d, eps: F, integer: bool) -> list[F]:
    """Points just inside an end where |d| exceeds eps (d affine, |d(end)| > eps)."""
    if integer:
        return [e for e in ends if e is not None]
    out = []
    for e in ends:
        if e is None or abs(d(e)) <= eps:
            continue
        level = (abs(d(e)) + eps) / 2 * (1 if d(e) > 0 else -1)
        slope = d(e + 1) - d(e)
        if slope != 0:
            out.append(e + (level - d(e)) / slope)
    return out


# -- lines through a domain ---------------------------------------------------------------------
def line_of_one(case: spec.Case) -> Line:
    """The whole domain of a one-input claim as a line."""
    name = case.inputs[0]
    return Line({name: F(0)}, {name: F(1)}, case.set_of(name))


def random_lines(case: spec.Case, rng: random.Random, count: int) -> list[Line]:
    """Axis lines through random domain points and, over real inputs, lines in random directions."""
    lines = []
    reals = [n for n in case.inputs if isinstance(case.set_of(n), spec.Real)]
    for k in range(count):
        base = oracle.random_point(case, rng)
        varying = [n for n in case.inputs if not isinstance(case.set_of(n), spec.Finite)]
        if k % 2 == 1 and len(reals) >= 2:
            direction = {n: F(rng.choice([-2, -1, 1, 2, 3])) for n in rng.sample(reals, rng.randint(2, len(reals)))}
            tset = _t_range(case, base, direction)
            if tset is not None:
                lines.append(Line(base, direction, tset))
                continue
        if not varying:
            break
        name = rng.choice(varying)
        base = {**base, name: F(0)}
        lines.append(Line(base, {name: F(1)}, case.set_of(name)))
    return lines


def _t_range(case: spec.Case, base: dict, direction: dict):
    """The t-interval on which ``base + t * direction`` stays in the real intervals."""
    lo, lo_open, hi, hi_open = None, True, None, True
    for name, dv in direction.items():
        s = case.set_of(name)
        for end, is_open, is_lo in ((s.lo, s.lo_open, True), (s.hi, s.hi_open, False)):
            if end is None:
                continue
            t = (end - base[name]) / dv
            lower = is_lo == (dv > 0)
            if lower and (lo is None or t > lo or (t == lo and is_open)):
                lo, lo_open = t, is_open
            if not lower and (hi is None or t < hi or (t == hi and is_open)):
                hi, hi_open = t, is_open
    if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_open or hi_open))):
        return None
    return spec.Real(lo, hi, lo_open, hi_open)
