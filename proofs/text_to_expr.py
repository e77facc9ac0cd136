"""A whitelist tokenizer and Pratt parser from user text to exact sympy objects (never eval)."""

from __future__ import annotations

import contextlib
import dataclasses
import fractions
import re
import sys
import typing
from collections.abc import Callable, Iterator

import sympy as sp

from symbolic import errors, relu

MAX_TEXT = 10_000  # characters of input
MAX_DEPTH = 200  # nesting of brackets, calls and prefix operators
MAX_DIGITS = 400  # digits of one number literal
MAX_EXPONENT = 400  # |e| of a scientific literal such as 1e-3
MAX_POWER = 16  # |n| of x^n
MAX_NAME = 64  # characters of an identifier
MAX_BITS = 50_000  # bound on the size of the exact numbers an expression may build
_STACK = 4_000  # Python recursion limit while parsing

_TOKEN = re.compile(r"""(?P<space>[ \t\r\n]+) | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<num>(?P<mantissa>\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE](?P<exp>[+-]?\d+))?)
    | (?P<op>\*\*|<=|>=|==|!=|\.\.|[-+*/^%()[\]{},<>&|~]) | (?P<alias>[≤≥≠−×∩∧∨¬ℝℤℕ∞∈])""",
                    re.VERBOSE)
_ALIASES = {"≤": "<=", "≥": ">=", "≠": "!=", "−": "-", "×": "*", "∩": "&", "∧": "&", "∨": "|",
            "¬": "~", "ℝ": "R", "ℤ": "Z", "ℕ": "N", "∞": "oo", "∈": "in"}
_HINTS = {"'": " (strings are not allowed)", '"': " (strings are not allowed)",
          "=": " (use '==' to compare)", ";": " (only one expression is allowed)",
          "#": " (comments are not allowed)", ".": " (attribute access is not allowed)"}


def _on_numbers(op: Callable[..., sp.Expr]) -> Callable[..., sp.Expr]:
    """``op`` evaluated only when every argument is a number (``abs(-2)`` is 2): sympy's own
    simplification of nested Min/Max/Abs/floor/Mod is super-linear (``mod(x1 - mod(x2 - ...``
    24 deep takes seconds), so symbolic calls stay as written and the verifier handles them."""
    return lambda *args: op(*args, evaluate=all(arg.is_Number for arg in args))


_SIMPLE: dict[str, tuple[Callable[..., sp.Expr], int, int | None]] = {
    **dict.fromkeys(("relu", "ReLU", "R"), (relu.ReLU, 1, 1)),
    **dict.fromkeys(("sigmoid", "S"), (relu.Sigmoid, 1, 1)),
    **dict.fromkeys(("abs", "Abs"), (_on_numbers(sp.Abs), 1, 1)),
    **dict.fromkeys(("min", "Min"), (_on_numbers(sp.Min), 2, None)),
    **dict.fromkeys(("max", "Max"), (_on_numbers(sp.Max), 2, None)),
    **dict.fromkeys(("heaviside", "Heaviside", "H"), (sp.Heaviside, 1, 2)),
    "floor": (_on_numbers(sp.floor), 1, 1),
    **dict.fromkeys(("ceil", "ceiling"), (_on_numbers(sp.ceiling), 1, 1)),
    **dict.fromkeys(("mod", "Mod"), (_on_numbers(sp.Mod), 2, 2)),  # also the % operator
}
_TAKES = {(1, 1): "exactly 1 argument", (2, 2): "exactly 2 arguments", (1, 2): "1 or 2 arguments",
          (2, None): "2 or more arguments", (3, 3): "exactly 3 arguments (condition, then, else)"}
FUNCTIONS = frozenset(_SIMPLE) | {"if", "piecewise"}
KEYWORDS = frozenset({"and", "or", "not", "in"})
_BOOLEANS = {"True": sp.true, "true": sp.true, "False": sp.false, "false": sp.false}
#: Names of constants that are not exact rationals (non-finite, irrational, complex): someone who
#: writes ``pi`` or ``nan`` means a number this exact language does not have, not a variable.
CONSTANTS = frozenset({"nan", "NaN", "inf", "Inf", "infinity", "Infinity", "oo", "zoo", "E", "I", "pi"})
#: Never variable names: function and set names (``R``, ``S``, ``H`` are functions; ``R``, ``Z``,
#: ``N`` sets), keywords, booleans and CONSTANTS. ``e`` stays a name (``1e3`` is a number).
RESERVED = FUNCTIONS | KEYWORDS | CONSTANTS | {"R", "Z", "N"} | set(_BOOLEANS)


def reserved_message(word: str) -> str:
    """Why ``word`` cannot be a variable name.

    >>> reserved_message('pi')
    "'pi' is a reserved word, not a variable (constants such as pi, E, I, nan and oo are not exact rationals)"
    """
    why = " (constants such as pi, E, I, nan and oo are not exact rationals)" if word in CONSTANTS else ""
    return f"{_show(word)} is a reserved word, not a variable{why}"

_BINARY = {"or": 1, "|": 1, "and": 2, "&": 2, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4,
           "!=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "^": 8, "**": 8}
_NOT_BP, _ARITH_BP, _UNARY_BP = 3, 5, 7
_COMPARE = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}


@dataclasses.dataclass(frozen=True)
class Token:
    """One token: ``kind`` is 'num', 'name', 'op' or 'end'; ``text`` is canonical (∈ -> in)."""

    kind: str
    text: str
    pos: int
    raw: str

    def show(self) -> str:
        return "end of text" if self.kind == "end" else _show(self.raw)


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _show(text: str) -> str:
    return f'"{_clean(text)}"' if "'" in text else f"'{_clean(text)}'"


def _fail(text: str, pos: int, message: str) -> typing.NoReturn:
    """Raise the one-line ParseError ``message at column N in "text"`` (text cut to ~80 chars)."""
    start = max(0, min(pos - 40, len(text) - 80))
    excerpt = f"{'...' * (start > 0)}{text[start:start + 80]}{'...' * (start + 80 < len(text))}"
    raise errors.ParseError(f"{_clean(message)} at column {pos + 1} in \"{_clean(excerpt)}\"")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens (ending with an 'end' token); ParseError on anything unknown.

    >>> [t.text for t in tokenize("relu(x1) ≤ 1e-3")]
    ['relu', '(', 'x1', ')', '<=', '1e-3', '']
    """
    if not isinstance(text, str):
        raise errors.ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        _fail(text, MAX_TEXT, f"text of {len(text)} characters is longer than {MAX_TEXT}")
    tokens, pos = [], 0
    while pos < len(text):
        if (match := _TOKEN.match(text, pos)) is None:
            _fail(text, pos, f"unexpected {_show(text[pos])}{_HINTS.get(text[pos], '')}")
        kind, raw = match.lastgroup, match.group()
        if kind == "name" and raw.startswith("__"):
            _fail(text, pos, f"name '{raw[:MAX_NAME]}' may not start with '__'")
        if kind == "name" and len(raw) > MAX_NAME:
            _fail(text, pos, f"name '{raw[:20]}...' is longer than {MAX_NAME} characters")
        if kind == "num" and sum(c.isdigit() for c in match.group("mantissa")) > MAX_DIGITS:
            _fail(text, pos, f"number with more than {MAX_DIGITS} digits")
        exponent = (match.group("exp") or "0").lstrip("+-").lstrip("0") or "0"
        if len(exponent) > 3 or int(exponent) > MAX_EXPONENT:
            _fail(text, pos, f"exponent of '{raw[:20]}' beyond ±{MAX_EXPONENT}")
        canonical = _ALIASES.get(raw, raw)
        kind = ("name" if canonical.isalpha() else "op") if kind == "alias" else kind
        if kind != "space":
            tokens.append(Token(kind, canonical, pos, raw))
        pos = match.end()
    tokens.append(Token("end", "", len(text), ""))
    return tokens


class TokenStream:
    """The tokens of one text with lookahead, a nesting guard and one-line ParseErrors.

    >>> s = TokenStream("a, b")
    >>> s.next().text, s.accept(","), s.peek().text
    ('a', Token(kind='op', text=',', pos=1, raw=','), 'b')
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]  # the end repeats

    def next(self) -> Token:
        token = self.peek()
        self.index += token.kind != "end"
        return token

    def accept(self, *texts: str) -> Token | None:
        """Consume and return the next token if it is one of the operators/keywords ``texts``."""
        token = self.peek()
        if token.kind in ("op", "name") and token.text in texts:
            return self.next()
        return None

    def expect(self, *texts: str) -> Token:
        if (token := self.accept(*texts)) is None:
            self.fail(f"expected {' or '.join(map(repr, texts))} but found {self.peek().show()}")
        return token

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            self.fail(f"unexpected {self.peek().show()}")

    @contextlib.contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        """One more level of brackets, calls or prefix operators (at most MAX_DEPTH)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nesting deeper than {MAX_DEPTH} levels", token)
        yield
        self.depth -= 1

    def fail(self, message: str, token: Token | None = None) -> typing.NoReturn:
        _fail(self.text, (token or self.peek()).pos, message)


def guarded(text: str, work: Callable[[], typing.Any]) -> typing.Any:
    """Run ``work()``, turning every failure except ParseError/DomainError into a ParseError.

    >>> guarded("x", lambda: {}["k"])
    Traceback (most recent call last):
    symbolic.errors.ParseError: cannot parse (KeyError: 'k') at column 1 in "x"
    """
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _STACK))  # MAX_DEPTH levels take ~5 frames each
    try:
        return work()
    except (errors.ParseError, errors.DomainError):
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: only ParseError escapes
        why = f"{type(exc).__name__}: {exc}"
        why = "too deeply nested" if isinstance(exc, RecursionError) else why
        _fail(text if isinstance(text, str) else "", 0, f"cannot parse ({why[:120]})")
    finally:
        sys.setrecursionlimit(limit)


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
            if tok.text not in RESERVED or tok.text in _BOOLEANS:
                value = _BOOLEANS[tok.text] if tok.text in _BOOLEANS else relu.sym(tok.text)
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
                factors = [_SIMPLE["mod"][0](sp.Mul(*factors), factor)]
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
        if name.text == "piecewise":
            return self.piecewise(name)
        args = self.arguments()
        lo, hi = (3, 3) if name.text == "if" else _SIMPLE[name.text][1:]
        if len(args) < lo or (hi is not None and len(args) > hi):
            s.fail(f"{name.text}() takes {_TAKES[lo, hi]}, got {len(args)}", name)
        bits = self._budget(sum(a.bits for a in args) + 1, name)
        if name.text == "if":
            cond, then, other = self.condition(args[0]), self.number(args[1]), self.number(args[2])
            return _Val(sp.Piecewise((then, cond), (other, True)), bits, name)
        values = [self.number(a) for a in args]
        if name.text in ("mod", "Mod") and values[1].is_zero:
            s.fail("modulo by zero", args[1].tok)
        return _Val(_SIMPLE[name.text][0](*values), bits, name)

    def piecewise(self, name: Token) -> _Val:
        """``piecewise((a, c1), (b, c2), ...)``: the first piece whose condition holds."""
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
    >>> parse_expression("[x < 10]")
    Piecewise((1, x < 10), (0, True))
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
