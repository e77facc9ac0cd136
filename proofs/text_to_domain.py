"""A whitelist parser from user text such as ``x in [0, 1], w1 > 0`` to a verify.domain.Domain."""

from __future__ import annotations

import fractions
import math
from collections.abc import Sequence

from proofs import text_to_expr as tx
from symbolic import errors
from verify.domain import INTEGERS, REALS, Domain, FiniteSet, IntegerRange, RealInterval, VarSet

_RELATIONS = ("<", "<=", ">", ">=", "==", "!=")
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}
_INFINITY = ("oo", "inf")
_NAMED_SETS = {"R": REALS, "Z": INTEGERS, "N": IntegerRange(0, None)}
#: Limits on the numbers of a domain: integer range ends (so that counting and enumerating points
#: stays in machine integers) and every other bound or element (so that the float samples that guide
#: searches and plots never overflow). Larger domains are refused as bad input.
MAX_INTEGER = 10**15
MAX_MAGNITUDE = 10**100


def parse_domain(text: str, variables: Sequence[str]) -> Domain:
    """Parse a domain for a claim over ``variables`` (inputs and parameters, in order).

    Accepts ``R``, ``R^n``, ``Z^n``, ``[a, b]^n`` for all variables at once, or clauses such as
    ``x in [0, 1)``, ``(x1, x2) in [-1, 1]^2``, ``n in {0..15}``, ``k ∈ {1, 2, 4}``,
    ``w1 > 0``, ``-1 <= t < 1/2``. Unlisted variables stay real.

    >>> str(parse_domain("x1 in [-1, 1], w1 > 0", ["x1", "w1"]))
    'w1 in (0, oo), x1 in [-1, 1]'
    >>> parse_domain("R^2", ["a", "b"]) == Domain.reals(2)
    True
    """
    return tx.guarded(text, lambda: _DomainParser(text, variables).parse())


def _magnitude(value: fractions.Fraction) -> str:
    """``5`` or ``a number with 401 digits`` (a 400-digit number does not fit on one line)."""
    digits = len(str(abs(value.numerator) // value.denominator))
    return str(value) if digits <= 20 else f"a number with {digits} digits"


def _check_limits(name: str, value: VarSet) -> None:
    """DomainError if a number of ``value`` (the set of ``name``) is beyond the stated limits."""
    if isinstance(value, IntegerRange):
        for end in (value.lo, value.hi):
            if end is not None and abs(end) > MAX_INTEGER:
                raise errors.DomainError(
                    f"the integer range of '{name}' ends at {_magnitude(fractions.Fraction(end))}; integer "
                    f"ranges must lie within -10^15..10^15 (use a real interval for larger values)")
        return
    numbers = value.values if isinstance(value, FiniteSet) else (value.lo, value.hi)
    for number in numbers:
        if number is not None and abs(number) > MAX_MAGNITUDE:
            raise errors.DomainError(f"a bound of '{name}' is {_magnitude(number)}; domain "
                                     "numbers must lie within -10^100..10^100 (use oo for no bound)")


def _intersect(a: RealInterval, b: RealInterval) -> RealInterval:
    """The intersection of two real intervals (DomainError when it is empty)."""
    lows, highs = [(a.lo, a.lo_open), (b.lo, b.lo_open)], [(a.hi, a.hi_open), (b.hi, b.hi_open)]
    # the larger lower end and the smaller upper end win; None is infinite; open beats closed
    lo, lo_open = max(lows, key=lambda end: (end[0] is not None, end[0] or 0, end[1]))
    hi, hi_open = min(highs, key=lambda end: (end[0] is None, end[0] or 0, not end[1]))
    return RealInterval(lo, hi, lo_open=lo_open, hi_open=hi_open)


def _integers_in(interval: RealInterval) -> IntegerRange:
    lo, hi = interval.lo, interval.hi
    return IntegerRange(
        None if lo is None else math.floor(lo) + 1 if interval.lo_open else math.ceil(lo),
        None if hi is None else math.ceil(hi) - 1 if interval.hi_open else math.floor(hi))


def _meet(a: VarSet, b: VarSet) -> VarSet:
    """The intersection of two sets, e.g. ``Z ∩ [0, 7/2]`` is ``{0..3}``."""
    if isinstance(b, FiniteSet):
        a, b = b, a
    if isinstance(a, FiniteSet):
        return FiniteSet(tuple(v for v in a.values if b.contains(v)))
    if isinstance(a, RealInterval) and isinstance(b, RealInterval):
        return _intersect(a, b)
    a, b = (_integers_in(s) if isinstance(s, RealInterval) else s for s in (a, b))
    los = [v for v in (a.lo, b.lo) if v is not None]
    his = [v for v in (a.hi, b.hi) if v is not None]
    return IntegerRange(max(los) if los else None, min(his) if his else None)


class _DomainParser:
    """Recursive descent over the tokens of ``text_to_expr``; fills ``sets`` and ``bounds``."""

    def __init__(self, text: str, variables: Sequence[str]) -> None:
        self.s = tx.TokenStream(text)
        self.known = [str(v) for v in variables]
        self.sets: dict[str, VarSet] = {}
        self.bounds: dict[str, tuple[RealInterval, tx.Token]] = {}

    def parse(self) -> Domain:
        s = self.s
        if s.peek().kind == "end":
            s.fail("empty domain (write R for all real numbers)")
        if self.starts_with_set():
            self.whole()
        else:
            self.clause()
        while s.accept(","):
            self.clause()
        s.expect_end()
        for name, (interval, tok) in self.bounds.items():
            current = self.sets.get(name, REALS)
            if not isinstance(current, RealInterval):
                s.fail(f"a comparison on '{name}' cannot be combined with its set {current}"
                       " (use an interval, or intersect the set: Z ∩ [a, b])", tok)
            self.sets[name] = self.narrow(name, current, interval)
        for name, value in self.sets.items():
            _check_limits(name, value)
        return Domain({name: v for name, v in self.sets.items() if v != REALS})

    def starts_with_set(self) -> bool:
        """Whether the text starts with a set for all variables (``R^2``) rather than a clause."""
        tok, after = self.s.peek(), self.s.peek(1)
        if tok.kind == "op":
            return tok.text in ("[", "{") or (tok.text == "(" and not (
                after.kind == "name" and after.text not in _INFINITY))
        return tok.kind == "name" and tok.text in _NAMED_SETS and after.text not in ("in", *_RELATIONS)

    def counted(self) -> str:
        k = len(self.known)
        return f"{k} variable{'s' * (k != 1)} ({', '.join(self.known) or 'none'})"

    def whole(self) -> None:
        """``R``, ``Z``, ``R^n``, ``[a, b]^n``, ...: the same set for every variable."""
        tok = self.s.peek()
        value, power = self.set_(), self.power()
        k = len(self.known)
        if power is None and k != 1 and value not in (REALS, INTEGERS):
            self.s.fail(f"the claim has {self.counted()}; write {value}^{k} or one clause per"
                        " variable", tok)
        if power is not None and power != k:
            self.s.fail(f"the claim has {self.counted()} but the domain is {value}^{power}", tok)
        self.sets.update(dict.fromkeys(self.known, value))

    def clause(self) -> None:
        """``x in SET``, ``(x, y) in SET^2`` or a chain of comparisons such as ``0 < x <= 1``."""
        s = self.s
        if s.peek().kind == "op" and s.peek().text == "(":
            names = self.names()
        elif s.peek().kind == "name" and s.peek(1).text == "in":
            names = [(self.variable(s.peek()), s.next())]
        else:
            return self.relations()
        s.expect("in")
        tok = s.peek()
        value, power = self.set_(), self.power()
        k = len(names)
        if power is None and k > 1:
            s.fail(f"{k} variables need a product set such as {value}^{k}", tok)
        if power is not None and power != k:
            s.fail(f"{k} variable{'s' * (k > 1)} but the set is {value}^{power}", tok)
        for name, name_tok in names:
            if name in self.sets:
                s.fail(f"variable '{name}' is given a set twice", name_tok)
            self.sets[name] = value

    def names(self) -> list[tuple[str, tx.Token]]:
        """``(x1, x2, ...)``: distinct known variables."""
        s, names = self.s, []
        s.expect("(")
        while True:
            tok = s.next()
            if self.variable(tok) in [n for n, _ in names]:
                s.fail(f"variable {tok.show()} is listed twice", tok)
            names.append((tok.text, tok))
            if s.expect(",", ")").text == ")":
                return names

    def variable(self, tok: tx.Token) -> str:
        if tok.kind == "name" and tok.text in tx.RESERVED and tok.text not in tx.KEYWORDS:
            self.s.fail(tx.reserved_message(tok.text), tok)
        if tok.kind != "name" or tok.text in tx.RESERVED:
            self.s.fail(f"expected a variable name but found {tok.show()}", tok)
        if tok.text not in self.known:
            self.s.fail(f"unknown variable {tok.show()}: the claim has {self.counted()}", tok)
        return tok.text

    def relations(self) -> None:
        """``x > 0``, ``1 >= x``, ``-1 <= x < 1``: each step bounds one variable by a number."""
        s, count = self.s, 0
        left = self.operand()
        while op := s.accept(*_RELATIONS):
            if op.text == "!=":
                s.fail("'!=' cannot describe a domain; use a finite set or two intervals", op)
            right = self.operand()
            if isinstance(left, str) == isinstance(right, str):
                s.fail("each comparison in a domain needs one variable and one number", op)
            if isinstance(left, str):
                self.bound(left, op.text, right, op)
            else:
                self.bound(right, _FLIP[op.text], left, op)
            left, count = right, count + 1
        if count == 0:
            s.fail(f"expected 'in' or a comparison but found {s.peek().show()}")

    def operand(self) -> str | fractions.Fraction:
        """A variable name or an exact number."""
        s, tok = self.s, self.s.peek()
        if tok.kind == "name" and tok.text not in tx.RESERVED and s.peek(1).text != "(":
            return self.variable(s.next())
        return tx.parse_constant(s)

    def bound(self, name: str, rel: str, value: fractions.Fraction, op: tx.Token) -> None:
        """Record ``name rel value``, intersected with the earlier bounds on ``name``."""
        lo = value if rel in (">", ">=", "==") else None
        hi = value if rel in ("<", "<=", "==") else None
        interval = RealInterval(lo, hi, lo_open=rel == ">", hi_open=rel == "<")
        previous = self.bounds.get(name, (REALS, op))[0]
        self.bounds[name] = (self.narrow(name, previous, interval), op)

    @staticmethod
    def narrow(name: str, a: RealInterval, b: RealInterval) -> RealInterval:
        try:
            return _intersect(a, b)
        except errors.DomainError as exc:
            raise errors.DomainError(f"the constraints on '{name}' leave no value: {a} and {b}"
                                     " do not meet") from exc

    def power(self) -> int | None:
        """An optional ``^n`` after a set: a positive integer literal."""
        if self.s.accept("^", "**") is None:
            return None
        tok = self.s.next()
        value = fractions.Fraction(tok.text) if tok.kind == "num" else fractions.Fraction(0)
        if value.denominator != 1 or value < 1:
            self.s.fail(f"expected a positive integer after '^' but found {tok.show()}", tok)
        return int(value)

    def set_(self) -> VarSet:
        """A set, or the intersection ``A ∩ B`` (also ``A & B``) of several."""
        value = self.atom()
        while self.s.accept("&"):
            value = _meet(value, self.atom())
        return value

    def atom(self) -> VarSet:
        s, tok = self.s, self.s.next()
        if tok.kind == "name" and tok.text in _NAMED_SETS:
            return _NAMED_SETS[tok.text]
        if tok.kind == "op" and tok.text in ("[", "("):
            (lo, lo_sign, lo_tok), _ = self.end(), s.expect(",")
            (hi, hi_sign, hi_tok), close = self.end(), s.expect("]", ")")
            if lo is None and lo_sign != "-":
                s.fail("the lower end of an interval cannot be +oo", lo_tok)
            if hi is None and hi_sign != "+":
                s.fail("the upper end of an interval cannot be -oo", hi_tok)
            if lo is None and tok.text == "[" or hi is None and close.text == "]":
                s.fail("an infinite end needs an open bracket, e.g. (-oo, 1] or [0, oo)",
                       lo_tok if lo is None and tok.text == "[" else hi_tok)
            return RealInterval(lo, hi, lo_open=tok.text == "(", hi_open=close.text == ")")
        if tok.kind == "op" and tok.text == "{":
            return self.braces()
        s.fail(f"expected a set (R, Z, N, [a, b], (a, b), {{a..b}} or {{a, b, ...}}) but found"
               f" {tok.show()}", tok)

    def end(self) -> tuple[fractions.Fraction | None, str, tx.Token]:
        """One end of an interval: an exact number, or ``oo``/``inf``/``∞`` with a sign."""
        s, tok = self.s, self.s.peek()
        if tok.kind == "op" and tok.text in ("+", "-") and s.peek(1).text in _INFINITY:
            s.next()
        if s.peek().kind == "name" and s.peek().text in _INFINITY:
            s.next()
            return None, "-" if tok.text == "-" else "+", tok
        return tx.parse_constant(s), "", tok

    def braces(self) -> VarSet:
        """``{a..b}`` (integers, inclusive) or ``{a, b, c}`` (after the ``{``)."""
        s = self.s
        if s.accept("}"):
            return FiniteSet(())
        first_tok, first = s.peek(), tx.parse_constant(s)
        if s.accept(".."):
            last_tok, last = s.peek(), tx.parse_constant(s)
            s.expect("}")
            for value, tok in ((first, first_tok), (last, last_tok)):
                if value.denominator != 1:
                    s.fail(f"the ends of {{a..b}} must be integers, not {value}", tok)
            return IntegerRange(int(first), int(last))
        values = [first]
        while s.expect(",", "}").text == ",":
            values.append(tx.parse_constant(s))
        return FiniteSet(tuple(values))
