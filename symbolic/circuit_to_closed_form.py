"""Closed forms: inline a circuit and rewrite ReLU pairs into the formulas people write."""

from __future__ import annotations

import sympy as sp

from symbolic.circuit import Circuit
from symbolic.relu import ReLU, sym

#: Above this many ReLU/Abs terms in one sum, the min/max search is skipped (it tries each term).
MAX_MINMAX_TERMS = 5


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


def closed_form(circuit: Circuit, output: str | None = None, minmax: bool = False) -> sp.Expr:
    """The circuit's output as one simplified expression over its inputs.

    Each neuron's pre-activation is simplified as it is inlined, so the rewrites apply at
    every depth (the first-version minimum's second layer ``R(m) - R(-m)`` collapses to ``m``).
    With ``minmax=True`` single ReLU/Abs terms are also rewritten to ``Min``/``Max`` when that
    is shorter (``x1 - R(x1 - x2)`` becomes ``Min(x1, x2)``).

    >>> from symbolic.circuit import from_layers
    >>> closed_form(from_layers([([[1], [-1]], None), ([[1, 1]], None)]))
    Abs(x)
    """
    env: dict[str, sp.Expr] = {name: sym(name) for name in circuit.inputs}
    for a in circuit.assignments:
        env[a.name] = a.apply(combine_relu_pairs(a.pre_activation(env)))
    result = combine_relu_pairs(env[output or circuit.output])
    return to_min_max(result) if minmax else result


def _piecewise_terms(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, sp.Expr]]:
    """The ``(term, coefficient, ReLU-or-Abs factor)`` triples of a sum."""
    found = []
    for term in sp.Add.make_args(expr):
        coeff, factor = term.as_coeff_Mul()
        if isinstance(factor, (ReLU, sp.Abs)) and coeff != 0:
            found.append((term, coeff, factor))
    return found


def to_min_max(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``L + c R(z)`` as ``Max(L, L + c z)`` (c > 0) or ``Min(L, L + c z)`` (c < 0), and
    ``L + c |z|`` as ``Max/Min(L + c z, L - c z)``, recursively, keeping whichever is shorter.

    >>> x1, x2 = sym('x1'), sym('x2')
    >>> to_min_max(x1 - ReLU(x1 - x2))
    Min(x1, x2)
    >>> to_min_max((x1 + x2 - sp.Abs(x1 - x2)) / 2)
    Min(x1, x2)
    """
    if not expr.args:
        return expr
    expr = expr.func(*(to_min_max(a) for a in expr.args))
    if not isinstance(expr, sp.Add):
        return expr
    terms = _piecewise_terms(expr)
    if not terms or len(terms) > MAX_MINMAX_TERMS:
        return expr
    best = expr
    for term, coeff, factor in terms:
        rest = expr - term
        z = factor.args[0]
        if isinstance(factor, ReLU):
            branches = (rest, rest + coeff * z)
        else:
            branches = (rest + coeff * z, rest - coeff * z)
        pick = sp.Max if coeff > 0 else sp.Min
        candidate = pick(*(to_min_max(b) for b in branches))
        if sp.count_ops(candidate) < sp.count_ops(best):
            best = candidate
    return best
