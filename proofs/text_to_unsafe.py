"""Parse a user's unsafe-output condition (``Y_0 > Y_1 or ...``) into an OutputSet (whitelist parser)."""

from __future__ import annotations

from fractions import Fraction

from proofs import text_to_expr as tx
from symbolic import errors
from verify.output_set import OutputSet, dnf, linear_form


def linear_sum(parts, signs) -> tuple[dict[str, Fraction], Fraction]:
    """``sum(sign * part)`` of affine parts ``(coeffs, constant)``, exactly."""
    coeffs: dict[str, Fraction] = {}
    constant = Fraction(0)
    for (c, k), sign in zip(parts, signs):
        for name, value in c.items():
            coeffs[name] = coeffs.get(name, Fraction(0)) + sign * value
        constant += sign * k
    return coeffs, constant


# -- our own syntax: --unsafe "Y_0 <= Y_1 and Y_0 <= Y_2" ------------------------------------------
_RELATIONS = ("<", "<=", ">", ">=", "==", "!=")
_LOGIC = {"and", "or", "not", "&", "|", "~", *_RELATIONS}


def parse_unsafe(text: str) -> OutputSet:
    """An output set in our syntax: comparisons (chains allowed) of linear terms over input and
    output names, joined by ``and``/``or``/``not`` (also ``&``, ``|``, ``~``) and parentheses;
    disjuncts keep the order written.

    >>> str(parse_unsafe("Y_0 <= Y_1 and Y_0 <= Y_2 or not (Y_3 <= 1/2)"))
    '(Y_0 <= Y_1 and Y_0 <= Y_2) or Y_3 > 1/2'
    """
    return tx.guarded(text, lambda: _UnsafeParser(text).parse())


class _UnsafeParser:
    """Recursive descent over the tokens of ``text_to_expr``; terms are parsed by its Pratt parser."""

    def __init__(self, text: str) -> None:
        self.s = tx.TokenStream(text)

    def parse(self) -> OutputSet:
        if self.s.peek().kind == "end":
            self.s.fail("empty output set (write a condition such as Y_0 <= Y_1)")
        tree = self.junction("or")
        self.s.expect_end()
        try:
            return OutputSet(tuple(dnf(tree)))
        except errors.ClaimError as exc:
            self.s.fail(str(exc), self.s.tokens[0])

    def junction(self, word: str):
        parts = [self.junction("and") if word == "or" else self.negation()]
        while self.s.accept(word, "|" if word == "or" else "&"):
            parts.append(self.junction("and") if word == "or" else self.negation())
        return parts[0] if len(parts) == 1 else (word, parts)

    def negation(self):
        tok = self.s.accept("not", "~")
        if tok is None:
            return self.primary()
        with self.s.nested(tok):
            return ("not", self.negation())

    def primary(self):
        s, tok = self.s, self.s.peek()
        if tok.kind == "name" and tok.text in ("true", "True", "false", "False"):
            s.next()
            return tok.text in ("true", "True")
        if tok.kind == "op" and tok.text == "(" and self.condition_group():
            s.next()
            with s.nested(tok):
                tree = self.junction("or")
            s.expect(")")
            return tree
        left, parts = self.term(), []
        while op := s.accept(*_RELATIONS):
            right = self.term()
            parts.append(("rel", *linear_sum([left, right], [1, -1]), op.text))
            left = right
        if not parts:
            s.fail("expected a comparison such as Y_0 <= Y_1", tok)
        return parts[0] if len(parts) == 1 else ("and", parts)

    def condition_group(self) -> bool:
        """Whether the bracket at the current token holds a condition (not an arithmetic term)."""
        depth, tokens = 0, self.s.tokens
        for tok in tokens[self.s.index + 1:]:
            if tok.kind == "op" and tok.text in "([{":
                depth += 1
            elif tok.kind == "op" and tok.text in ")]}":
                if depth == 0:
                    return False
                depth -= 1
            elif depth == 0 and tok.kind in ("op", "name") and tok.text in _LOGIC:
                return True
        return False

    def term(self) -> tuple[dict[str, Fraction], Fraction]:
        tok = self.s.peek()
        expr = tx.parse_term(self.s)
        try:
            return linear_form(expr)
        except errors.ClaimError as exc:
            self.s.fail(str(exc), tok)
