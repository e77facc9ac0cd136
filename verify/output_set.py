"""Output sets of multi-output claims: disjunctions of conjunctions of exact linear inequalities.

An :class:`Atom` is ``sum(c_v * v) op rhs`` over output and input names with exact ``Fraction``
coefficients and one of ``<=``, ``<``, ``>=``, ``>`` (strict and non-strict kept apart). An
:class:`OutputSet` is a disjunction of conjunctions of atoms: the "unsafe" set of a VNN-LIB
property, or of ``--unsafe "Y_0 <= Y_1 and Y_0 <= Y_2"``. :func:`from_condition` turns a sympy
condition into an OutputSet, exactly (sympy orders the operands of ``And``/``Or``; the text parser
:func:`proofs.vnnlib_to_spec.parse_unsafe` keeps the order written).

>>> Y0, Y1 = sym('Y_0'), sym('Y_1')
>>> s = from_condition((Y0 <= Y1) & ((Y0 < sp.Rational(1, 2)) | (2*Y1 >= Y0 + 3)))
>>> str(s)
'(Y_0 <= Y_1 and Y_0 < 1/2) or (Y_0 <= Y_1 and 2*Y_1 >= Y_0 + 3)'
>>> s.reached({'Y_0': Fraction(1), 'Y_1': Fraction(2)}), s.reached({'Y_0': Fraction(1), 'Y_1': Fraction(0)})
(1, None)
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction

import sympy as sp

from symbolic import errors
from symbolic.circuit import to_fraction
from symbolic.exact import fraction_of, rational_of
from symbolic.interval import compare
from symbolic.relu import sym

OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
FLIP = {"<=": ">=", "<": ">", ">=": "<=", ">": "<"}  # both sides multiplied by -1
NEGATE = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}  # not (a op b)
MAX_DISJUNCTS = 10_000  # bound on the disjunctive normal form of one output set
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def natural(name: str) -> list:
    """Sort key that puts ``Y_2`` before ``Y_10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


@dataclasses.dataclass(frozen=True)
class Atom:
    """``sum(coeffs[v] * v) op rhs``, over network output names and input names.

    >>> a = Atom((('Y_1', 1), ('Y_0', -1)), '<=', 0)
    >>> a.coeffs, str(a), a.holds({'Y_0': Fraction(2), 'Y_1': Fraction(1)})
    ((('Y_0', Fraction(-1, 1)), ('Y_1', Fraction(1, 1))), 'Y_1 <= Y_0', True)
    """

    coeffs: tuple[tuple[str, Fraction], ...]
    op: str
    rhs: Fraction

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise errors.ClaimError(f"comparison {self.op!r} is not one of {', '.join(OPS)}")
        merged: dict[str, Fraction] = {}
        for name, coeff in self.coeffs:
            if not isinstance(name, str) or not _NAME.match(name):
                raise errors.ClaimError(f"{name!r} is not a variable name")
            merged[name] = merged.get(name, Fraction(0)) + to_fraction(coeff, f"coefficient of {name}")
        coeffs = tuple(sorted(((n, c) for n, c in merged.items() if c != 0), key=lambda t: natural(t[0])))
        if not coeffs:
            raise errors.ClaimError("an atom of an output set needs a variable with a nonzero coefficient")
        object.__setattr__(self, "coeffs", coeffs)
        object.__setattr__(self, "rhs", to_fraction(self.rhs, "right-hand side"))

    def names(self) -> set[str]:
        return {n for n, _ in self.coeffs}

    def holds(self, values: Mapping[str, object]) -> bool:
        """Exactly whether the atom holds at ``values`` (Fractions; a sigmoid network's exact sympy
        values are compared by rigorous interval enclosure)."""
        missing = [n for n, _ in self.coeffs if n not in values]
        if missing:
            raise errors.ClaimError(f"no value for {', '.join(missing)} in {self}")
        if all(isinstance(values[n], Fraction) for n, _ in self.coeffs):
            return OPS[self.op](sum(c * values[n] for n, c in self.coeffs), self.rhs)
        lhs = sp.Add(*(rational_of(c) * _exact(values[n]) for n, c in self.coeffs))
        return OPS[self.op](compare(lhs, self.rhs), 0)

    def sides(self) -> tuple[list[tuple[str, Fraction]], str, list[tuple[str, Fraction]], Fraction]:
        """The atom as ``left op right`` for display: positive terms left, the rest right."""
        coeffs, op, rhs = self.coeffs, self.op, self.rhs
        if all(c < 0 for _, c in coeffs):
            coeffs, op, rhs = tuple((n, -c) for n, c in coeffs), FLIP[op], -rhs
        return [t for t in coeffs if t[1] > 0], op, [(n, -c) for n, c in coeffs if c < 0], rhs

    def __str__(self) -> str:
        left, op, right, rhs = self.sides()
        text = _terms_text(right)
        if not right:
            text = str(rhs)
        elif rhs:
            text += f" {'-' if rhs < 0 else '+'} {abs(rhs)}"
        return f"{_terms_text(left)} {op} {text}"

    def to_sympy(self) -> sp.Basic:
        """The atom as a sympy relation over the symbols of its names."""
        left, op, right, rhs = self.sides()
        lhs = sp.Add(*(rational_of(c) * sym(n) for n, c in left))
        return sp.Rel(lhs, sp.Add(*(rational_of(c) * sym(n) for n, c in right), rational_of(rhs)), op)


def _exact(value: object) -> sp.Basic:
    if isinstance(value, Fraction):
        return rational_of(value)
    if isinstance(value, sp.Basic) and value.is_number:
        return value
    raise errors.ClaimError(f"{value!r} is not an exact number")


def _terms_text(terms: list[tuple[str, Fraction]]) -> str:
    out = ""
    for i, (name, c) in enumerate(terms):
        sign = "-" if c < 0 else "+"
        size = abs(c)
        factor = "" if size == 1 else f"{size}*" if size.denominator == 1 else f"({size})*"
        out += (("-" if c < 0 else "") if i == 0 else f" {sign} ") + factor + name
    return out


@dataclasses.dataclass(frozen=True)
class OutputSet:
    """A disjunction of conjunctions of atoms. An empty conjunction is all of space; an OutputSet
    without disjuncts is empty (never reached).

    >>> s = OutputSet(((Atom((('Y_0', 1),), '>=', 3),),))
    >>> s.names(), s.reached({'Y_0': Fraction(3)}), str(s)
    ({'Y_0'}, 0, 'Y_0 >= 3')
    """

    disjuncts: tuple[tuple[Atom, ...], ...]

    def __post_init__(self) -> None:
        disjuncts = tuple(tuple(d) for d in self.disjuncts)
        for d in disjuncts:
            for atom in d:
                if not isinstance(atom, Atom):
                    raise errors.ClaimError(f"{atom!r} is not an Atom")
        if len(disjuncts) > MAX_DISJUNCTS:
            raise errors.ClaimError(f"an output set of {len(disjuncts)} disjuncts is larger than {MAX_DISJUNCTS}")
        object.__setattr__(self, "disjuncts", disjuncts)

    def reached(self, values: Mapping[str, object]) -> int | None:
        """The index of the first disjunct all of whose atoms hold at ``values``, else None."""
        for index, conjunction in enumerate(self.disjuncts):
            if all(atom.holds(values) for atom in conjunction):
                return index
        return None

    def names(self) -> set[str]:
        """Every name an atom mentions."""
        return {n for d in self.disjuncts for atom in d for n in atom.names()}

    def conjunction_text(self, index: int) -> str:
        """One disjunct as text, e.g. ``Y_1 <= Y_0 and Y_2 <= Y_0`` (``true`` when empty)."""
        return " and ".join(str(a) for a in self.disjuncts[index]) or "true"

    def __str__(self) -> str:
        if not self.disjuncts:
            return "false"
        parts = [self.conjunction_text(i) for i in range(len(self.disjuncts))]
        if len(parts) == 1:
            return parts[0]
        return " or ".join(f"({p})" if len(d) > 1 else p for p, d in zip(parts, self.disjuncts))

    def to_sympy(self) -> sp.Basic:
        """The set as a sympy condition (``Or`` of ``And`` of relations), for statements and reports."""
        return sp.Or(*(sp.And(*(a.to_sympy() for a in d)) for d in self.disjuncts))


# -- from sympy conditions (the whitelist parser's output) ----------------------------------------
def linear_form(expr: sp.Basic) -> tuple[dict[str, Fraction], Fraction]:
    """``expr`` as exact ``(coefficients, constant)``; ClaimError if it is not linear.

    >>> linear_form(2*(sym('Y_0') - sym('Y_1')/3) + sp.Rational(1, 2))
    ({'Y_0': Fraction(2, 1), 'Y_1': Fraction(-2, 3)}, Fraction(1, 2))
    """
    if not isinstance(expr, sp.Expr):
        raise errors.ClaimError(f"{expr} is not a number-valued expression")
    coeffs: dict[str, Fraction] = {}
    constant = Fraction(0)
    for term in sp.Add.make_args(expr):
        scale, varying = Fraction(1), []
        for factor in sp.Mul.make_args(term):
            if factor.is_Rational:
                scale *= fraction_of(factor)
            else:
                varying.append(factor)
        if not varying:
            constant += scale
        elif len(varying) == 1 and varying[0].is_Symbol:
            name = varying[0].name
            coeffs[name] = coeffs.get(name, Fraction(0)) + scale
        elif len(varying) == 1 and isinstance(varying[0], sp.Add):
            inner, const = linear_form(varying[0])
            for name, c in inner.items():
                coeffs[name] = coeffs.get(name, Fraction(0)) + scale * c
            constant += scale * const
        else:
            raise errors.ClaimError(f"{term} is not linear: an output set takes sums of constant multiples")
    return {n: c for n, c in coeffs.items() if c != 0}, constant


def relation(coeffs: Mapping[str, Fraction], constant: Fraction, op: str) -> Atom | bool:
    """``sum(coeffs * v) + constant op 0`` as an Atom, or its truth value when no variable is left.

    >>> relation({}, Fraction(-1), '<'), str(relation({'Y_0': Fraction(1)}, Fraction(-3), '>='))
    (True, 'Y_0 >= 3')
    """
    coeffs = {n: c for n, c in coeffs.items() if c != 0}
    if not coeffs:
        return OPS[op](constant, 0)
    return Atom(tuple(coeffs.items()), op, -constant)


def conjoin(parts: Iterable[list[tuple[Atom, ...]]]) -> list[tuple[Atom, ...]]:
    """The DNF of a conjunction of DNFs (a cross product), within MAX_DISJUNCTS."""
    out: list[list[Atom]] = [[]]
    for dnf in parts:
        if len(out) * len(dnf) > MAX_DISJUNCTS:
            raise errors.ClaimError(f"the output set has more than {MAX_DISJUNCTS} disjuncts in disjunctive "
                                    "normal form; split the property")
        if len(dnf) == 1:  # the common case (one assert, one atom): extend in place, no copies
            for conjunction in out:
                conjunction.extend(dnf[0])
        else:
            out = [a + list(b) for a in out for b in dnf]
    return [tuple(c) for c in out]


def dnf(tree, negated: bool = False) -> list[tuple[Atom, ...]]:
    """The disjunctive normal form of a formula tree, in the order written, within MAX_DISJUNCTS.

    A tree is ``True``/``False``, ``("and" | "or", [trees])``, ``("not", tree)`` or
    ``("rel", coefficients, constant, op)`` for ``sum(coefficients * v) + constant op 0`` with
    ``op`` among ``<= < >= > == !=`` (``==`` is two atoms, ``!=`` two disjuncts).

    >>> [[str(a) for a in d] for d in dnf(("not", ("or", [("rel", {'Y_0': 1}, -1, '<'), False])))]
    [['Y_0 >= 1']]
    """
    if isinstance(tree, bool):
        return [()] if tree != negated else []
    kind = tree[0]
    if kind == "not":
        return dnf(tree[1], not negated)
    if kind in ("and", "or"):
        parts = [dnf(part, negated) for part in tree[1]]
        if (kind == "and") != negated:
            return conjoin(parts)
        out = [d for part in parts for d in part]
        if len(out) > MAX_DISJUNCTS:
            raise errors.ClaimError(f"the output set has more than {MAX_DISJUNCTS} disjuncts")
        return out
    _, coeffs, constant, op = tree
    if op in ("==", "!="):
        if (op == "==") != negated:
            return conjoin([dnf(("rel", coeffs, constant, "<=")), dnf(("rel", coeffs, constant, ">="))])
        return dnf(("rel", coeffs, constant, "<")) + dnf(("rel", coeffs, constant, ">"))
    atom = relation(coeffs, Fraction(constant), NEGATE[op] if negated else op)
    if isinstance(atom, bool):
        return [()] if atom else []
    return [(atom,)]


def _tree(cond: sp.Basic):
    """A sympy condition as a formula tree for :func:`dnf`."""
    if cond is sp.true or cond is sp.false:
        return cond is sp.true
    if isinstance(cond, sp.Not):
        return ("not", _tree(cond.args[0]))
    if isinstance(cond, (sp.And, sp.Or)):
        return ("and" if isinstance(cond, sp.And) else "or", [_tree(arg) for arg in cond.args])
    if isinstance(cond, sp.Rel) and cond.rel_op in ("<=", "<", ">=", ">", "==", "!="):
        return ("rel", *linear_form(cond.lhs - cond.rhs), cond.rel_op)
    raise errors.ClaimError(f"{cond} is not a comparison, 'and', 'or' or 'not'")


def from_condition(cond: sp.Basic) -> OutputSet:
    """The OutputSet of a sympy condition built from linear comparisons with and/or/not
    (``==`` is two atoms, ``!=`` two disjuncts); ClaimError for anything else.

    >>> str(from_condition(sp.Not((sym('Y_0') > 1) | sp.Eq(sym('Y_1'), 0))))
    '(Y_1 < 0 and Y_0 <= 1) or (Y_1 > 0 and Y_0 <= 1)'
    """
    if isinstance(cond, sp.Expr) or not isinstance(cond, (sp.logic.boolalg.Boolean, sp.Rel)):
        raise errors.ClaimError(f"an output set is a condition such as Y_0 <= Y_1, not {cond}")
    return OutputSet(tuple(dnf(_tree(cond))))
