"""The words of the expression language: its functions (with their arities), keywords, booleans and
the reserved names that can never be variables."""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from proofs.text_to_tokens import show_text
from symbolic import relu


def _on_numbers(op: Callable[..., sp.Expr]) -> Callable[..., sp.Expr]:
    """``op`` evaluated only when every argument is a number (``abs(-2)`` is 2): sympy's own
    simplification of nested Min/Max/Abs/floor/Mod is super-linear (``mod(x1 - mod(x2 - ...``
    24 deep takes seconds), so symbolic calls stay as written and the verifier handles them."""
    return lambda *args: op(*args, evaluate=all(arg.is_Number for arg in args))


CALLS: dict[str, tuple[Callable[..., sp.Expr], int, int | None]] = {
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
TAKES = {(1, 1): "exactly 1 argument", (2, 2): "exactly 2 arguments", (1, 2): "1 or 2 arguments",
          (2, None): "2 or more arguments", (3, 3): "exactly 3 arguments (condition, then, else)"}
#: Calls the parser handles itself: ``if(c, a, b)``, ``piecewise((a, c1), (b, c2), ...)`` (also
#: sympy's spelling ``Piecewise``) and sympy's ``Rational(p, q)`` for the exact number p/q.
SPECIAL = frozenset({"if", "piecewise", "Piecewise", "Rational"})
FUNCTIONS = frozenset(CALLS) | SPECIAL
KEYWORDS = frozenset({"and", "or", "not", "in"})
BOOLEANS = {"True": sp.true, "true": sp.true, "False": sp.false, "false": sp.false}
#: Names of constants that are not exact rationals (non-finite, irrational, complex): someone who
#: writes ``pi`` or ``nan`` means a number this exact language does not have, not a variable.
CONSTANTS = frozenset({"nan", "NaN", "inf", "Inf", "infinity", "Infinity", "oo", "zoo", "E", "I", "pi"})
#: Never variable names: function and set names (``R``, ``S``, ``H`` are functions; ``R``, ``Z``,
#: ``N`` sets), keywords, booleans and CONSTANTS. ``e`` stays a name (``1e3`` is a number).
RESERVED = FUNCTIONS | KEYWORDS | CONSTANTS | {"R", "Z", "N"} | set(BOOLEANS)


def reserved_message(word: str) -> str:
    """Why ``word`` cannot be a variable name.

    >>> reserved_message('pi')
    "'pi' is a reserved word, not a variable (constants such as pi, E, I, nan and oo are not exact rationals)"
    """
    why = " (constants such as pi, E, I, nan and oo are not exact rationals)" if word in CONSTANTS else ""
    return f"{show_text(word)} is a reserved word, not a variable{why}"
