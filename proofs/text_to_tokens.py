"""User text to tokens: the whitelist tokenizer, a token stream with one-line errors, and the input limits."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
import typing
from collections.abc import Callable, Iterator

from symbolic import errors

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



@dataclasses.dataclass(frozen=True)
class Token:
    """One token: ``kind`` is 'num', 'name', 'op' or 'end'; ``text`` is canonical (∈ -> in)."""

    kind: str
    text: str
    pos: int
    raw: str

    def show(self) -> str:
        return "end of text" if self.kind == "end" else show_text(self.raw)


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def show_text(text: str) -> str:
    """``text`` quoted for an error message, control characters escaped.

    >>> print(show_text("a'b"), show_text("x"))
    "a'b" 'x'
    """
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
            _fail(text, pos, f"unexpected {show_text(text[pos])}{_HINTS.get(text[pos], '')}")
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
