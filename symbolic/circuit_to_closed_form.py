"""Closed forms: inline a circuit and rewrite ReLU pairs into the formulas people write."""

from __future__ import annotations

import sympy as sp

from symbolic import budget
from symbolic.budget import Deadline
from symbolic.circuit import Circuit
from symbolic.relu import ReLU, sym

#: Above this many ReLU/Abs terms in one sum, the min/max search is skipped (it tries each term).
MAX_MINMAX_TERMS = 5
#: At most this many min/max candidates are compared per formula (``closed_form(minmax=True)`` on
#: a 7-neuron network once took 48 s trying the same sub-sums again and again).
MAX_MINMAX_WORK = 400


def combine_relu_pairs(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``a R(z) + b R(-z)`` in a sum using ``R(z) - R(-z) = z`` and ``R(z) + R(-z) = |z|``.

    ``a = -b`` gives ``a z``; ``a = b`` gives ``a |z|``; otherwise the pair becomes one ReLU,
    ``(a + b) R(z) - b z``. Equal neurons merge by themselves (sympy adds their coefficients).

    >>> x, y = sym('x'), sym('y')
    >>> combine_relu_pairs(ReLU(x) - ReLU(-x)), combine_relu_pairs(ReLU(x - y) + ReLU(y - x))
    (x, Abs(x - y))
    >>> combine_relu_pairs(2*ReLU(x) - ReLU(-x))
    x + R(x)
    """
    if not isinstance(expr, sp.Add):
        return expr
    coeffs: dict[sp.Expr, sp.Expr] = {}
    rest: list[sp.Expr] = []
    for term in expr.args:
        coeff, factor = term.as_coeff_Mul()
        if isinstance(factor, ReLU):
            coeffs[factor.args[0]] = coeffs.get(factor.args[0], sp.S.Zero) + coeff
        else:
            rest.append(term)
    done: set[sp.Expr] = set()
    for z in sorted(coeffs, key=sp.default_sort_key):
        if z in done:
            continue
        done.add(z)
        neg = -z
        if neg not in coeffs or neg in done:
            rest.append(coeffs[z] * ReLU(z))
            continue
        done.add(neg)
        if z.could_extract_minus_sign():
            z, neg = neg, z
        a, b = coeffs[z], coeffs[neg]
        if a == -b:
            rest.append(a * z)
        elif a == b:
            rest.append(a * sp.Abs(z))
        else:
            rest.append((a + b) * ReLU(z) - b * z)
    return sp.Add(*rest)


def closed_form(circuit: Circuit, output: str | None = None, minmax: bool = False,
                deadline: Deadline | None = None) -> sp.Expr:
    """The circuit's output as one simplified expression over its inputs.

    Each neuron's pre-activation is simplified as it is inlined, so the rewrites apply at
    every depth (the first-version minimum's second layer ``R(m) - R(-m)`` collapses to ``m``).
    With ``minmax=True`` single ReLU/Abs terms are also rewritten to ``Min``/``Max`` when that
    is shorter (``x1 - R(x1 - x2)`` becomes ``Min(x1, x2)``). Circuits beyond the inlining limits
    are refused (:meth:`~symbolic.circuit.Circuit.check_inlinable`); ``deadline`` is checked per
    neuron and per rewrite.

    >>> from symbolic.circuit import from_layers
    >>> closed_form(from_layers([([[1], [-1]], None), ([[1, 1]], None)]))
    Abs(x)
    """
    name = output or circuit.output
    circuit.check_inlinable([name])
    env: dict[str, sp.Expr] = {n: sym(n) for n in circuit.inputs}
    for a in circuit.cone([name]):
        budget.check(deadline, "the closed form")
        env[a.name] = a.apply(combine_relu_pairs(a.pre_activation(env)))
    result = combine_relu_pairs(env[name])
    return to_min_max(result, deadline) if minmax else result


def _piecewise_terms(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, sp.Expr]]:
    """The ``(term, coefficient, ReLU-or-Abs factor)`` triples of a sum."""
    found = []
    for term in sp.Add.make_args(expr):
        coeff, factor = term.as_coeff_Mul()
        if isinstance(factor, (ReLU, sp.Abs)) and coeff != 0:
            found.append((term, coeff, factor))
    return found


def to_min_max(expr: sp.Expr, deadline: Deadline | None = None, max_work: int = MAX_MINMAX_WORK) -> sp.Expr:
    """Rewrite ``L + c R(z)`` as ``Max(L, L + c z)`` (c > 0) or ``Min(L, L + c z)`` (c < 0), and
    ``L + c |z|`` as ``Max/Min(L + c z, L - c z)``, recursively, keeping whichever is shorter.

    Every sub-expression is rewritten once (memoised): a sum of k ReLU terms has at most 3^k
    distinct partial rewrites, not k! orders of them, and at most ``max_work`` candidates are
    compared in all (past that the rest stays as it is: still exact, only longer).

    >>> x1, x2 = sym('x1'), sym('x2')
    >>> to_min_max(x1 - ReLU(x1 - x2))
    Min(x1, x2)
    >>> to_min_max((x1 + x2 - sp.Abs(x1 - x2)) / 2)
    Min(x1, x2)
    """
    memo: dict[sp.Basic, sp.Basic] = {}
    sizes: dict[sp.Basic, int] = {}  # sp.count_ops, which is additive over Max/Min arguments
    work = [0]

    def size(e: sp.Basic) -> int:
        if e not in sizes:
            if isinstance(e, (sp.Max, sp.Min)):
                sizes[e] = len(e.args) - 1 + sum(size(a) for a in e.args)
            else:
                sizes[e] = sp.count_ops(e)
        return sizes[e]

    def rewrite(e: sp.Basic) -> sp.Basic:
        if not e.args or e in memo:
            return memo.get(e, e)
        out = e.func(*(rewrite(a) for a in e.args))
        if isinstance(out, sp.Add):
            out = shortest(out)
        memo[e] = memo[out] = out
        return out

    def shortest(e: sp.Add) -> sp.Basic:
        terms = _piecewise_terms(e)
        if not terms or len(terms) > MAX_MINMAX_TERMS:
            return e
        best, best_ops = e, size(e)
        for term, coeff, factor in terms:
            budget.check(deadline, "the min/max form")
            work[0] += 1
            if work[0] > max_work:
                break
            rest = e - term
            z = factor.args[0]
            branches = (rest, rest + coeff * z) if isinstance(factor, ReLU) else (rest + coeff * z, rest - coeff * z)
            candidate = _pick(sp.Max if coeff > 0 else sp.Min, [rewrite(b) for b in branches])
            ops = size(candidate)
            if ops < best_ops:
                best, best_ops = candidate, ops
        sizes[best] = best_ops
        return best

    canonical: dict[sp.Basic, sp.Basic] = {}

    def canon(e: sp.Basic) -> sp.Basic:  # sympy's argument order for the Min/Max built by _pick
        if not e.args:
            return e
        if e not in canonical:
            args = [canon(a) for a in e.args]
            if isinstance(e, (sp.Max, sp.Min)):
                canonical[e] = type(e)(*args, evaluate=False)
            else:
                canonical[e] = e if args == list(e.args) else e.func(*args)
        return canonical[e]

    return canon(rewrite(expr))


def _pick(cls, args: list[sp.Basic]) -> sp.Basic:
    """``Max(*args)`` or ``Min(*args)`` simplified only cheaply: nested calls of the same kind are
    flattened, repeats dropped, and an argument that another exceeds (Max) or undercuts (Min) by a
    constant is dropped. sympy's own constructor compares every pair of arguments with its
    assumption system and sorts them, which took seconds per candidate on nests of ReLUs.

    >>> x = sym('x')
    >>> _pick(sp.Max, [x, sp.Max(x + 1, 2*x, evaluate=False)]), _pick(sp.Min, [x, x])
    (Max(2*x, x + 1), x)
    """
    flat: list[sp.Basic] = []
    for a in args:
        for b in (a.args if isinstance(a, cls) else (a,)):
            if b not in flat:
                flat.append(b)
    split = [a.as_coeff_Add() for a in flat]  # (constant, rest): a difference of constants is cheap
    keep = []
    for i, (c, rest) in enumerate(split):
        if not any(j != i and other == rest and ((d > c if cls is sp.Max else d < c) or (d == c and j < i))
                   for j, (d, other) in enumerate(split)):
            keep.append(flat[i])
    return keep[0] if len(keep) == 1 else sp.Basic.__new__(cls, *keep)
