"""A whitelist Pratt parser from user text to exact sympy objects (never eval).

The tokens come from :mod:`proofs.text_to_tokens`, the words (functions, keywords, reserved names)
from :mod:`proofs.expr_vocabulary`; both are re-exported here, so ``text_to_expr`` stays the one
module its users import.
"""

from __future__ import annotations

import fractions
import typing

import sympy as sp

from proofs.expr_vocabulary import (BOOLEANS, CALLS, CONSTANTS, FUNCTIONS, KEYWORDS,  # noqa: F401
                                    RESERVED, TAKES, reserved_message)
from proofs.text_to_tokens import (MAX_BITS, MAX_DEPTH, MAX_DIGITS, MAX_EXPONENT, MAX_NAME,  # noqa: F401
                                   MAX_POWER, MAX_TEXT, Token, TokenStream, guarded, tokenize)
from symbolic import relu

_BINARY = {"or": 1, "|": 1, "and": 2, "&": 2, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4,
           "!=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "^": 8, "**": 8}
_NOT_BP, _ARITH_BP, _UNARY_BP = 3, 5, 7
_COMPARE = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}




class _Val(typing.NamedTuple):
    expr: sp.Basic
    bits: int  # upper bound on the bit size of the numbers in expr
    tok: Token  # first token, for error columns


class _Parser:
    """Pratt parser over a TokenStream; every method returns a _Val."""

    def __init__(self, stream: TokenStream) -> None:
        self.s = stream

    def expression(self, min_bp: int = 0) -> _Val:
        left = self.prefix()
        while (op := self.s.peek()).kind in ("op", "name") and _BINARY.get(op.text, -1) >= min_bp:
            self.s.next()
            if op.text in _COMPARE:
                left = self.chain(left, op)
            elif op.text in ("^", "**"):
                left = self.power(left, op)
            else:
                left = self.run(left, op)
        return left

    def prefix(self) -> _Val:
        s, tok = self.s, self.s.next()
        if tok.kind == "num":
            value = fractions.Fraction(tok.text)
            bits = value.numerator.bit_length() + value.denominator.bit_length()
            return _Val(sp.Rational(value.numerator, value.denominator), bits, tok)
        calls = (s.peek().kind, s.peek().text) == ("op", "(")
        if tok.kind == "name" and tok.text != "not" and not calls:
            if tok.text not in RESERVED or tok.text in BOOLEANS:
                value = BOOLEANS[tok.text] if tok.text in BOOLEANS else relu.sym(tok.text)
                return _Val(value, 1, tok)
            s.fail(f"unexpected {tok.show()}" if tok.text in KEYWORDS else reserved_message(tok.text), tok)
        with s.nested(tok):
            return self.compound(tok)

    def compound(self, tok: Token) -> _Val:
        """Unary operators, brackets and calls: the constructs that nest."""
        s = self.s
        if tok.kind == "op" and tok.text in ("-", "+"):
            val = self.expression(_UNARY_BP)
            expr = self.number(val)
            return _Val(-expr if tok.text == "-" else expr, val.bits + 1, tok)
        if tok.text in ("not", "~"):
            val = self.expression(_NOT_BP)
            return _Val(sp.Not(self.condition(val)), val.bits + 1, tok)
        if tok.text in ("(", "["):
            val = self.expression(0)
            if tok.text == "(":
                s.expect(")")
                return _Val(val.expr, val.bits, tok)
            s.expect("]")
            return _Val(sp.Piecewise((1, self.condition(val)), (0, True)), val.bits + 1, tok)
        if tok.kind == "name" and tok.text not in KEYWORDS:
            return self.call(tok)
        s.fail(f"unexpected {tok.show()}", tok)

    def number(self, val: _Val) -> sp.Expr:
        if not isinstance(val.expr, sp.Expr):
            self.s.fail("expected a number-valued expression but found a condition"
                        " (write [cond] for 1 if cond else 0)", val.tok)
        return val.expr

    def condition(self, val: _Val) -> sp.Basic:
        if isinstance(val.expr, sp.Expr) or not isinstance(val.expr, sp.logic.boolalg.Boolean):
            self.s.fail("expected a condition such as x > 0 but found a number-valued expression",
                        val.tok)
        return val.expr

    def _budget(self, bits: int, at: Token) -> int:
        if bits > MAX_BITS:
            self.s.fail(f"numbers too large (more than {MAX_BITS} bits)", at)
        return bits

    def run(self, left: _Val, op: Token) -> _Val:
        """``a + b - c`` (or ``*/%``, ``and``, ``or``): one n-ary sympy call for the whole run,
        since folding sympy's Add/Mul/And/Or pairwise is quadratic in the number of operands."""
        level, items, s = _BINARY[op.text], [], self.s
        while True:
            items.append((op, self.expression(level + 1)))
            if (op := s.peek()).kind not in ("op", "name") or _BINARY.get(op.text) != level:
                break
            s.next()
        bits = self._budget(left.bits + sum(v.bits + 1 for _, v in items), items[-1][0])
        if level in (_BINARY["or"], _BINARY["and"]):
            conditions = [self.condition(left), *(self.condition(v) for _, v in items)]
            return _Val((sp.Or if level == _BINARY["or"] else sp.And)(*conditions), bits, left.tok)
        if level == _BINARY["+"]:
            terms = [self.number(v) * (-1 if op.text == "-" else 1) for op, v in items]
            return _Val(sp.Add(self.number(left), *terms), bits, left.tok)
        factors = [self.number(left)]
        for op, val in items:
            factor = self.number(val)
            if op.text in ("/", "%") and factor.is_zero:
                s.fail(f"{'division' if op.text == '/' else 'modulo'} by zero", op)
            if op.text == "%":
                factors = [CALLS["mod"][0](sp.Mul(*factors), factor)]
            else:
                factors.append(factor if op.text == "*" else 1 / factor)
        return _Val(sp.Mul(*factors), bits, left.tok)

    def chain(self, left: _Val, op: Token) -> _Val:
        """``a < b <= c`` is ``a < b and b <= c``, as in Python."""
        relations, bits, first = [], left.bits, left.tok
        while True:
            right = self.expression(_ARITH_BP)
            relations.append(_COMPARE[op.text](self.number(left), self.number(right)))
            bits, left = self._budget(bits + right.bits + 1, op), right
            if (op := self.s.accept(*_COMPARE)) is None:
                return _Val(sp.And(*relations), bits, first)

    def power(self, base: _Val, op: Token) -> _Val:
        s = self.s
        paren = s.accept("(")
        sign = s.accept("-", "+")
        tok = s.next()
        if tok.kind != "num" or (paren and not s.accept(")")):
            s.fail(f"the exponent after '{op.text}' must be an integer literal"
                   f" from -{MAX_POWER} to {MAX_POWER}", tok)
        value = fractions.Fraction(tok.text) * (-1 if sign and sign.text == "-" else 1)
        if value.denominator != 1 or abs(value) > MAX_POWER:
            s.fail(f"exponent {value} is not an integer from -{MAX_POWER} to {MAX_POWER}", tok)
        if s.peek().text in ("^", "**"):
            s.fail("chained powers are ambiguous; add parentheses")
        expr = self.number(base)
        if expr.is_zero and value < 0:
            s.fail("division by zero", op)
        bits = self._budget(base.bits * max(1, abs(int(value))) + 1, op)
        return _Val(expr ** int(value), bits, base.tok)

    def arguments(self) -> list[_Val]:
        args, end = [], self.s.expect("(") and self.s.accept(")")
        while not end:
            args.append(self.expression(0))
            end = self.s.expect(",", ")").text == ")"
        return args

    def call(self, name: Token) -> _Val:
        s = self.s
        if name.text not in FUNCTIONS:
            s.fail(f"unknown function {name.show()} (known: {', '.join(sorted(FUNCTIONS))})", name)
        if name.text in ("piecewise", "Piecewise"):
            return self.piecewise(name)
        args = self.arguments()
        lo, hi = (3, 3) if name.text == "if" else (1, 2) if name.text == "Rational" else CALLS[name.text][1:]
        if len(args) < lo or (hi is not None and len(args) > hi):
            s.fail(f"{name.text}() takes {TAKES[lo, hi]}, got {len(args)}", name)
        bits = self._budget(sum(a.bits for a in args) + 1, name)
        if name.text == "if":
            cond, then, other = self.condition(args[0]), self.number(args[1]), self.number(args[2])
            return _Val(sp.Piecewise((then, cond), (other, True)), bits, name)
        values = [self.number(a) for a in args]
        if name.text == "Rational":
            return _Val(self.rational(args, values), bits, name)
        if name.text in ("mod", "Mod") and values[1].is_zero:
            s.fail("modulo by zero", args[1].tok)
        return _Val(CALLS[name.text][0](*values), bits, name)

    def rational(self, args: list[_Val], values: list[sp.Expr]) -> sp.Rational:
        """sympy's ``Rational(p, q)`` (or ``Rational(p)``): the exact number p/q of two exact numbers."""
        for arg, value in zip(args, values):
            if not value.is_Rational:
                self.s.fail(f"Rational() takes exact numbers such as Rational(1, 3), not {arg.tok.show()}", arg.tok)
        if len(values) == 2 and values[1].is_zero:
            self.s.fail("division by zero", args[1].tok)
        return values[0] / values[1] if len(values) == 2 else values[0]

    def piecewise(self, name: Token) -> _Val:
        """``piecewise((a, c1), (b, c2), ...)`` or sympy's ``Piecewise(...)``: the first piece whose
        condition holds. Without a last ``(value, True)`` piece it may be undefined somewhere: a
        claim then checks it is defined on its whole domain (:mod:`verify.totality`), and refuses it
        as bad input where it is not."""
        s, pieces, bits = self.s, [], 1
        s.expect("(")
        while True:
            s.expect("(")
            value, _, cond, _ = self.expression(0), s.expect(","), self.expression(0), s.expect(")")
            pieces.append((self.number(value), self.condition(cond)))
            bits = self._budget(bits + value.bits + cond.bits, name)
            if s.expect(",", ")").text == ")":
                break
        return _Val(sp.Piecewise(*pieces), bits, name)


def parse_expression(text: str) -> sp.Basic:
    """Parse an expression or condition into sympy, exactly, through a whitelist grammar.

    Returns an ``sp.Expr`` for values and a sympy Boolean (e.g. ``x1 > x2``) for conditions.

    >>> parse_expression("relu(x1) - relu(-x1) + 0.5*min(x1, 1/3)")
    -R(-x1) + R(x1) + Min(1/3, x1)/2
    >>> parse_expression("[x < 10]") == parse_expression("Piecewise((1, x < 10), (0, True))")
    True
    >>> parse_expression("Max(Abs(x), Rational(1, 3))")
    Max(1/3, Abs(x))
    """

    def work() -> sp.Basic:
        stream = TokenStream(text)
        if stream.peek().kind == "end":
            stream.fail("empty expression")
        val = _Parser(stream).expression(0)
        stream.expect_end()
        if val.expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            stream.fail("the expression is undefined (division by zero?)", val.tok)
        return val.expr

    return guarded(text, work)


def parse_constant(stream: TokenStream) -> fractions.Fraction:
    """Parse an arithmetic expression without variables from ``stream`` into an exact Fraction.

    It stops before comparisons, commas and closing brackets (the domain parser relies on it).

    >>> s = TokenStream("-1/2 + 1, 3")
    >>> parse_constant(s), s.peek().text
    (Fraction(1, 2), ',')
    """
    start = stream.peek()
    val = _Parser(stream).expression(_ARITH_BP)
    if not (isinstance(val.expr, sp.Expr) and val.expr.is_Rational):
        stream.fail(f"expected an exact number but found {start.show()}", start)
    return fractions.Fraction(int(val.expr.p), int(val.expr.q))


def parse_term(stream: TokenStream) -> sp.Expr:
    """Parse an arithmetic expression (variables allowed) from ``stream``; it stops before
    comparisons, ``and``/``or``, commas and closing brackets (the ``--unsafe`` parser relies on it).

    >>> s = TokenStream("2*Y_0 - 1/2 <= Y_1")
    >>> parse_term(s), s.peek().text
    (2*Y_0 - 1/2, '<=')
    """
    parser = _Parser(stream)
    return parser.number(parser.expression(_ARITH_BP))


def parse_number(text: str) -> fractions.Fraction:
    """Parse one exact number such as ``1e-3``, ``1/1000``, ``-0.5`` or ``2`` (for CLI options).

    >>> parse_number("1e-3"), parse_number("-1/2"), parse_number("0.1")
    (Fraction(1, 1000), Fraction(-1, 2), Fraction(1, 10))
    """

    def work() -> fractions.Fraction:
        stream = TokenStream(text)
        shape = "".join("n" if t.kind == "num" else "$" if t.kind == "end" else
                        t.text if t.text in ("+", "-", "/") else "?" for t in stream.tokens)
        words = [f"{sign}n{div}$" for sign in ("", "-", "+") for div in ("", "/n", "/-n", "/+n")]
        for i in range(len(shape)):
            if not any(w.startswith(shape[:i + 1]) for w in words):
                stream.fail("expected one number such as 2, -0.5, 1e-3 or 1/1000 but found "
                            f"{stream.tokens[i].show()}", stream.tokens[i])
            if shape[i] == "$":
                break
        return parse_constant(stream)

    return guarded(text, work)


def parse_names(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list of distinct variable names, e.g. ``--inputs a,b``.

    >>> parse_names("x1, x2,w")
    ('x1', 'x2', 'w')
    """

    def work() -> tuple[str, ...]:
        stream, names = TokenStream(text), []
        while True:
            tok = stream.next()
            if tok.kind != "name":
                stream.fail(f"expected a name but found {tok.show()}", tok)
            if tok.text in RESERVED:
                stream.fail(reserved_message(tok.text), tok)
            if tok.text in names:
                stream.fail(f"name {tok.show()} is given twice", tok)
            names.append(tok.text)
            if stream.accept(",") is None:
                stream.expect_end()
                return tuple(names)

    return guarded(text, work)
