"""Write a sympy target or condition in the exact expression format of certificates (a JSON tree).

The format is read back, without sympy, by :mod:`verify.certificate_expr` (its docstring defines
it). Numbers are exact ``"p/q"`` texts, variables ``["var", NAME]``, conditions ``true``/``false``;
an Iverson bracket ``[c]`` is the toolkit's ``Piecewise((1, c), (0, True))``, written as a
``piecewise``. Anything the format does not have (a sigmoid, ``sqrt``, a float, ``Xor``, a sympy
function the toolkit does not evaluate) raises :class:`~verify.result_to_certificate.NoCertificate`
naming it. The walk is iterative, and the written tree is read back by the checker's own parser
before it is returned, so what the writer produces always parses.

>>> import sympy as sp
>>> from verify.claim import indicator
>>> x = sp.Symbol('x', real=True)
>>> expr_to_json(sp.Piecewise((3, sp.Eq(x, 3)), (-5, True)))
['piecewise', '3', ['==', ['var', 'x'], '3'], '-5', True]
>>> expr_to_json(indicator(x < 10))
['piecewise', '1', ['<', ['var', 'x'], '10'], '0', True]
>>> expr_to_json(sp.Mod(x, 2) - sp.Rational(1, 2))
['add', '-1/2', ['mod', ['var', 'x'], '2']]
>>> expr_to_json(sp.sqrt(x))
Traceback (most recent call last):
verify.result_to_certificate.NoCertificate: the expression sqrt(x) has no exact certificate form (Pow with exponent 1/2)
"""

from __future__ import annotations

import sympy as sp

from symbolic.printing import show
from symbolic.relu import ReLU
from verify import certificate_expr
from verify.result_to_certificate import NoCertificate

_FUNCTIONS = {ReLU: "relu", sp.Abs: "abs", sp.Min: "min", sp.Max: "max", sp.Mod: "mod", sp.floor: "floor",
              sp.ceiling: "ceiling", sp.Add: "add", sp.Mul: "mul", sp.And: "and", sp.Or: "or", sp.Not: "not",
              sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">", sp.GreaterThan: ">=",
              sp.Equality: "==", sp.Unequality: "!="}


def _children(e: sp.Basic) -> list[sp.Basic]:
    if isinstance(e, sp.Piecewise):
        return [part for pair in e.args for part in pair.args]
    if isinstance(e, sp.Heaviside):
        return [e.args[0]] + ([e.args[1]] if len(e.args) > 1 and e.args[1] is not sp.nan else [])
    if isinstance(e, sp.Pow):
        return [e.base]
    if type(e) in _FUNCTIONS:
        return list(e.args)
    return []


def _leaf(e: sp.Basic) -> object:
    if e.is_Rational:
        return str(int(e.p)) if e.is_Integer else f"{int(e.p)}/{int(e.q)}"
    if e.is_Symbol:
        return ["var", e.name]
    if e is sp.true or e is sp.false:
        return bool(e)
    if isinstance(e, sp.Pow):
        return None  # checked in _node
    if type(e) in _FUNCTIONS or isinstance(e, (sp.Piecewise, sp.Heaviside)):
        return None
    raise NoCertificate(f"the expression {show(e)} has no exact certificate form ({type(e).__name__})")


def _node(e: sp.Basic, args: list) -> object:
    if isinstance(e, sp.Pow):
        if not e.exp.is_Integer or abs(int(e.exp)) > certificate_expr.MAX_EXPONENT:
            raise NoCertificate(f"the expression {show(e)} has no exact certificate form "
                                f"(Pow with exponent {e.exp})")
        return ["pow", args[0], str(int(e.exp))]
    if isinstance(e, sp.Piecewise):
        return ["piecewise", *args]
    if isinstance(e, sp.Heaviside):
        return ["heaviside", *args]
    return [_FUNCTIONS[type(e)], *args]


def expr_to_json(expr: sp.Basic, max_nodes: int = certificate_expr.MAX_NODES) -> object:
    """``expr`` as a JSON tree of the certificate expression format (see the module docstring)."""
    out: dict[sp.Basic, object] = {}
    size: dict[sp.Basic, int] = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in out:
            continue
        if not ready:
            leaf = _leaf(node)
            if leaf is not None:
                out[node], size[node] = leaf, 1
                continue
            if isinstance(node, sp.Pow) and not node.exp.is_Integer:
                _node(node, [])  # raises NoCertificate
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(_children(node)) if c not in out)
            continue
        children = _children(node)
        size[node] = 1 + sum(size[c] for c in children)
        if size[node] > max_nodes:
            raise NoCertificate(f"the expression has more than {max_nodes} nodes once written as a tree")
        out[node] = _node(node, [out[c] for c in children])
    tree = out[expr]
    try:
        certificate_expr.parse(tree, "target")
    except ValueError as exc:  # CertificateError: e.g. a Piecewise whose values are conditions
        raise NoCertificate(f"the expression {show(expr)} has no exact certificate form ({exc})") from None
    return tree
