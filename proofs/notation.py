"""Mathematical notation: claims, domains and sympy expressions as presentation MathML and LaTeX."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import escape
from math import prod

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE

from symbolic.exact import rational_of
from symbolic.printing import show
from symbolic.relu import sym
from verify.claim import Predicate, Tolerance, Unreachable
from verify.domain import IntegerRange, RealInterval
from verify.realizability import Unrealizable


@functools.cache
def _printers():
    """Subclasses of sympy's MathML (presentation) and LaTeX printers for R, S, N(x), [c], mod."""
    class MathML(MathMLPresentationPrinter):
        def _el(self, tag, *children, text=None, **attributes):
            node = self.dom.createElement(tag)
            for key, value in attributes.items():
                node.setAttribute(key, value)
            if text is not None:
                node.appendChild(self.dom.createTextNode(text))
            for child in children:
                node.appendChild(child)
            return node

        def mathml_tag(self, e):
            tag = super().mathml_tag(e)
            return {"<": "&lt;", ">": "&gt;", "&InvisibleTimes;": "&#x2062;"}.get(tag, tag)

        def _call(self, name, args):
            return self._el("mrow", self._print(sp.Symbol(name)), self._paren_comma_separated(*args))

        def _print_Function(self, e):  # sympy lower-cases names: N(x) would print as n(x)
            return self._call(e.func.__name__, e.args)

        def _print_ReLU(self, e):
            return self._call(e.symbol, e.args)

        def _print_Sigmoid(self, e):
            return self._call(e.symbol, e.args)

        def _print_Min(self, e):  # sympy prints min as an operator (<mo>), spaced like one
            return self._el("mrow", self._el("mi", text=type(e).__name__.lower()),
                            self._paren_comma_separated(*sorted(e.args, key=sp.default_sort_key)))

        _print_Max = _print_Min

        def _print_Abs(self, e, exp=None):  # nested bars grow outwards: | |x - 8| - 4 |
            depth = _abs_depth(e.args[0])
            size = {"mathsize": f"{100 + 20 * depth}%"} if depth else {}
            bars = [self._el("mo", text="|", fence="true", stretchy="false", **size) for _ in range(2)]
            return self._el("mrow", bars[0], self._print(e.args[0]), bars[1])

        def _print_Mod(self, e):
            a, b = (self.parenthesize(x, PRECEDENCE["Mul"]) for x in e.args)
            return self._el("mrow", a, self._el("mo", text="mod"), b)

        def _print_ProductSet(self, e):
            if len(set(e.args)) == 1:
                return self._el("msup", self._print(e.args[0]), self._el("mn", text=str(len(e.args))))
            return super()._print_ProductSet(e)

        def _print_Piecewise(self, e):
            (v0, c0), *rest = e.args
            if len(rest) == 1 and v0 == 1 and rest[0][0] == 0 and rest[0][1] == sp.true:
                return self._el("mrow", self._el("mo", text="["), self._print(c0), self._el("mo", text="]"))
            rows = [self._el("mtr", self._el("mtd", self._print(v)), self._el(
                "mtd", self._el("mtext", text="otherwise") if c == sp.true else
                self._el("mrow", self._el("mtext", text="if\u00a0"), self._print(c)))) for v, c in e.args]
            return self._el("mrow", self._el("mo", text="{"), self._el("mtable", *rows, columnalign="left"))

    class Latex(LatexPrinter):
        def _print_Abs(self, e, exp=None):
            depth = min(_abs_depth(e.args[0]), 4)
            size = ["", r"\big", r"\Big", r"\bigg", r"\Bigg"][depth]
            inner = self._print(e.args[0])
            tex = rf"{size}l\lvert {inner} {size}r\rvert" if depth else rf"\left\lvert {inner} \right\rvert"
            return tex if exp is None else rf"{tex}^{{{exp}}}"

        def _print_Sigmoid(self, e):
            return rf"\operatorname{{{e.symbol}}}\left({self._print(e.args[0])}\right)"

        def _print_Piecewise(self, e):
            (v0, c0), *rest = e.args
            if len(rest) == 1 and v0 == 1 and rest[0][0] == 0 and rest[0][1] == sp.true:
                return rf"\left[{self._print(c0)}\right]"
            return super()._print_Piecewise(e)

    return MathML, Latex


def _abs_depth(expr) -> int:
    """How many absolute values are nested inside ``expr``."""
    return max((_abs_depth(a) + isinstance(a, sp.Abs) for a in expr.args), default=0)


_OPS = {"iff": ("&#x21D4;", r"\iff"), "in": ("&#x2208;", r"\in"), ",": (",", r",\quad"), ":": (":", r":\;"),
        "forall": ("&#x2200;", r"\forall"), "exists": ("&#x2203;", r"\exists"),
        "for all": ('<mspace width="1em"/><mtext>for all</mtext><mspace width="0.4em"/>', r"\quad\text{for all}\;")}


def math(parts: Sequence) -> tuple[str, str]:
    """MathML (the inside of a ``<math>`` element) and LaTeX of sympy expressions and operators.

    >>> import sympy as sp
    >>> x = sp.Symbol('x', real=True)
    >>> print(math([sp.Eq(sp.Function('N')(x), sp.Min(x, 0), evaluate=False)])[1])
    N{\\left(x \\right)} = \\min\\left(0, x\\right)
    """
    mathml_printer, latex_printer = _printers()
    ml, tex = [], []
    for part in parts:
        if isinstance(part, str):
            ml.append(_OPS[part][0] if _OPS[part][0].startswith("<") else f"<mo>{_OPS[part][0]}</mo>")
            tex.append(_OPS[part][1])
            continue
        text = mathml_printer({}).doprint(part).replace("&InvisibleTimes;", "&#x2062;")
        try:
            ET.fromstring(f"<math>{text}</math>")
        except ET.ParseError:  # never emit markup we cannot vouch for
            text = f"<mtext>{escape(show(part))}</mtext>"
        text = re.sub(r"<mn>-([^<]*)</mn>", r"<mrow><mo>&#x2212;</mo><mn>\1</mn></mrow>", text)
        ml.append(text.replace("<mo>-</mo>", "<mo>&#x2212;</mo>"))
        tex.append(latex_printer({}).doprint(part))
    return "<mrow>" + "".join(ml) + "</mrow>", " ".join(tex)


def math_chunks(parts: Sequence, after: tuple[str, ...] = (",", ":")) -> list[str]:
    """Like :func:`math`, but MathML in pieces cut after ``,`` and ``:`` so a browser can wrap a
    long formula between them (one ``<math>`` element each)."""
    chunks: list[list] = [[]]
    for part in parts:
        chunks[-1].append(part)
        if isinstance(part, str) and part in after:
            chunks.append([])
    return [math(chunk)[0] for chunk in chunks if chunk]


def _set_expr(s):
    if isinstance(s, RealInterval):
        if s.lo is None and s.hi is None:
            return sp.Reals
        return sp.Interval(-sp.oo if s.lo is None else rational_of(s.lo), sp.oo if s.hi is None else rational_of(s.hi),
                           s.lo_open, s.hi_open)
    if isinstance(s, IntegerRange):
        if s.lo is None and s.hi is None:
            return sp.Integers
        return sp.Range(-sp.oo if s.lo is None else s.lo, sp.oo if s.hi is None else s.hi + 1)
    return sp.FiniteSet(*(rational_of(v) for v in s.values))


def domain_parts(domain, names: Sequence[str]) -> list:
    """``(x1, x2) ∈ ℝ², w ∈ (0, ∞)`` as parts for :func:`math` (equal neighbouring sets grouped)."""
    groups: list[tuple[list, object]] = []
    for name in names:
        s = _set_expr(domain.of(name))
        if groups and groups[-1][1] == s:
            groups[-1][0].append(sym(name))
        else:
            groups.append(([sym(name)], s))
    parts: list = []
    for i, (symbols, s) in enumerate(groups):
        many = len(symbols) > 1
        parts += ([","] if i else []) + [sp.Tuple(*symbols) if many else symbols[0], "in",
                                         sp.ProductSet(*[s] * len(symbols)) if many else s]
    return parts


def statement_parts(claim) -> list:
    """The claim as parts for :func:`math`: ``N(x) = f(x)``, ``|N - f| <= eps``, ``(N > 0) <=> c``, ...."""
    if isinstance(claim, Unrealizable):
        xs = [sym(n) for n in claim.template.inputs]
        values = [sorted({p[n] for p in claim.points}) for n in claim.template.inputs]
        if len(claim.points) != prod(len(v) for v in values):
            witness = sp.FiniteSet(*(sp.Tuple(*(rational_of(p[n]) for n in claim.template.inputs))
                                     for p in claim.points))
        else:
            sets = [sp.FiniteSet(*(rational_of(v) for v in vs)) for vs in values]
            witness = sp.ProductSet(*sets) if len(sets) > 1 else sets[0]
        return (["forall"] + domain_parts(claim.domain, claim.variables)
                + [":", "exists", sp.Tuple(*xs) if len(xs) > 1 else xs[0], "in", witness, ":",
                   sp.Ne(sp.Function("N_w")(*xs), claim.target, evaluate=False)])
    network = sp.Function("N")(*(sym(n) for n in claim.circuit.inputs))
    if isinstance(claim.kind, Unreachable):  # (Y_0, ..., Y_m) = N(x) : not (the output set)
        outputs = [sym(n) for n in claim.circuit.outputs]
        values = sp.Tuple(*outputs) if len(outputs) > 1 else outputs[0]
        return [sp.Eq(values, network, evaluate=False), ":", sp.Not(claim.target, evaluate=False)]
    if isinstance(claim.kind, Tolerance):
        return [sp.Le(sp.Abs(network - claim.target), rational_of(claim.kind.eps), evaluate=False)]
    if isinstance(claim.kind, Predicate):
        fires = sp.Rel(network, rational_of(claim.kind.threshold), claim.kind.op, evaluate=False)
        return [fires] if claim.target == sp.true else [fires, "iff", claim.target]
    return [sp.Eq(network, claim.target, evaluate=False)]
