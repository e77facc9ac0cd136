"""Totality: a claim's target (and every symbolic weight) must be defined on the whole domain.

A Piecewise whose conditions leave a gap, ``H(z, nan)`` at ``z = 0``, a division or a modulo by
zero make a target partial. A claim about a partial target is not decided: :func:`check_total`
names a point where it is undefined (confirmed by exact evaluation) and raises
:class:`~symbolic.errors.PartialTargetError`. Run before any method, it makes every method agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import sympy as sp
import z3

from symbolic import budget, errors
from symbolic.evaluate import evaluate_expr, operands
from symbolic.printing import show
from verify import z3_check
from verify.circuit_to_z3 import Encoder, model_value
from verify.domain import Domain


def may_be_partial(expr: sp.Basic) -> bool:
    """Whether ``expr`` contains a construct that can be undefined somewhere (a cheap syntactic
    test; False means the expression is total on all of R^n).

    >>> x = sp.Symbol('x', real=True)
    >>> may_be_partial(sp.Piecewise((x, x > 0), (0, True))), may_be_partial(sp.Piecewise((x, x > 0)))
    (False, True)
    """
    stack, seen = [expr], set()
    while stack:
        e = stack.pop()
        if e in seen or e.is_Atom:
            continue
        seen.add(e)
        if isinstance(e, sp.Piecewise) and e.args[-1].cond is not sp.true:
            return True
        if isinstance(e, sp.Heaviside) and (len(e.args) < 2 or e.args[1] is sp.nan):
            return True
        if isinstance(e, sp.Pow) and e.exp.is_negative and not e.base.is_number:
            return True
        if isinstance(e, sp.Mod) and not e.args[1].is_number:
            return True
        stack.extend(e.args)
    return False


def definedness(enc: Encoder, expr: sp.Basic) -> z3.BoolRef:
    """The z3 condition that holds exactly where :func:`~symbolic.evaluate.evaluate_expr` gives
    ``expr`` a value (built bottom-up without recursion).

    >>> x = sp.Symbol('x', real=True)
    >>> enc = Encoder(Domain(), ['x'])
    >>> gap = z3.Solver(); gap.add(z3.Not(definedness(enc, sp.Piecewise((x, x > 0), (-x, x < 0)))))
    >>> gap.check(), gap.model()[enc.vars['x']]
    (sat, 0)
    """
    memo: dict[sp.Basic, z3.BoolRef] = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in memo:
            continue
        children = operands(node)
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in memo)
            continue
        memo[node] = _defined(enc, node, [memo[c] for c in children], children)
    return memo[expr]


def _defined(enc: Encoder, e: sp.Basic, ds: list, children: list) -> z3.BoolRef:
    if isinstance(e, sp.Piecewise):  # D(c1) and If(c1, D(v1), D(c2) and If(c2, D(v2), ... False))
        out = z3.BoolVal(False)
        for i in range(len(children) - 2, -1, -2):
            out = z3.And(ds[i + 1], z3.If(enc.expr(children[i + 1]), ds[i], out))
        return out
    if isinstance(e, sp.Heaviside):
        at_zero = ds[1] if len(children) > 1 else z3.BoolVal(False)
        return z3.And(ds[0], z3.Or(enc.expr(children[0]) != 0, at_zero))
    own = []
    if isinstance(e, sp.Pow) and e.exp.is_Integer and e.exp < 0:
        own.append(enc.expr(e.base) != 0)
    if isinstance(e, sp.Mod):
        own.append(enc.expr(e.args[1]) != 0)
    return z3.And(*ds, *own) if ds or own else z3.BoolVal(True)


def check_total(target: sp.Basic | None, weights: Sequence[tuple[str, sp.Expr]], domain: Domain,
                inputs: Sequence[str], parameters: Sequence[str] = (), max_points: int = 4096,
                deadline: budget.Deadline | None = None) -> str | None:
    """Make sure ``target`` and the symbolic ``weights`` (``(where, expr)`` pairs) are defined at
    every point of ``domain``. Returns None when they are; raises
    :class:`~symbolic.errors.PartialTargetError` naming a point where one is not (replayed
    exactly); returns the reason when z3 cannot tell (the claim is then ``unknown``); raises
    :class:`~symbolic.errors.TimeoutExpired` when the budget ends first.

    A finite domain of at most ``max_points`` points is checked point by point, exactly;
    anything else by z3 (is there a point of the domain outside the definedness condition?).

    >>> x = sp.Symbol('x', real=True)
    >>> check_total(sp.Piecewise((x, x > 0), (-x, x < 0)), (), Domain(), ['x'])
    Traceback (most recent call last):
    symbolic.errors.PartialTargetError: the target piecewise((x, x > 0), (-x, x < 0)) is undefined at x = 0: no condition of piecewise((x, x > 0), (-x, x < 0)) holds; a claim needs a target defined on its whole domain
    """
    parts = ([("the target", target)] if target is not None else []) + \
        [(f"the weight {show(w)} of {where}", w) for where, w in weights]
    parts = [(what, e) for what, e in parts if may_be_partial(e)]
    if not parts:
        return None
    variables = tuple(inputs) + tuple(parameters)
    if domain.size(variables) <= max_points:
        for point in domain.points(variables):
            budget.check(deadline, "the totality check")
            for what, e in parts:
                _confirm(what, e, point)
        return None
    enc = Encoder(domain, inputs, parameters, deadline)
    gap = z3.Not(z3.And(*(definedness(enc, e) for _, e in parts)))
    solver = z3.Solver()
    solver.add(*enc.constraints, gap)
    raws = [enc.raw[n] for n in variables]

    def extract(s, answer):
        if answer != z3.sat:
            return None
        return [[str(v), ok] for v, ok in (model_value(s.model(), r) for r in raws)]

    answer, reason, values = z3_check.run(solver, deadline or budget.UNLIMITED, "the totality check",
                                          extract, enc.neuron_vars)
    if answer == z3.unsat:
        return None
    if answer == z3.unknown:
        if deadline is not None and deadline.expired():
            raise errors.TimeoutExpired(reason)
        return f"cannot tell whether the target is defined on the whole domain ({reason})"
    point = {n: Fraction(v) for n, (v, _) in zip(variables, values)}
    for what, e in parts:
        _confirm(what, e, point)
    return "z3 found a point where the target may be undefined, but it does not replay exactly"


def _confirm(what: str, expr: sp.Basic, point) -> None:
    """Raise PartialTargetError if ``expr`` has no value at ``point`` (exact evaluation)."""
    try:
        evaluate_expr(expr, point)
    except errors.UndefinedValueError as exc:
        where = ", ".join(f"{k} = {v}" for k, v in point.items())
        raise errors.PartialTargetError(
            f"{what} {show(expr)} is undefined at {where}: {exc}; a claim needs a target defined "
            "on its whole domain") from None
