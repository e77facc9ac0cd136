"""Read an SMT-LIB 2 query strictly (whitelisted commands, sorts, operators) and print it canonically."""

from __future__ import annotations

import re

from symbolic.errors import CertificateError
from verify.certificate import Limits

#: The SMT-LIB text of a certificate may have at most this many characters.
MAX_TEXT = 64 << 20
#: ... and nest at most this deep (cvc5 was measured parsing 400,000 nested lets).
MAX_DEPTH = 100_000
LOGICS = frozenset({"QF_LRA", "QF_LIA", "QF_LIRA", "QF_NRA", "QF_NIA", "QF_NIRA", "QF_RDL", "QF_IDL", "ALL"})
INFO_KEYS = frozenset({":status", ":smt-lib-version", ":source", ":license", ":category", ":notes"})
SORTS = frozenset({"Real", "Int", "Bool"})
OPERATORS = frozenset("not => and or xor = distinct ite - + * / div mod abs <= < >= > to_real to_int is_int".split())
COMMANDS = ("set-logic", "set-info", "set-option", "declare-fun", "declare-const", "define-fun", "assert",
            "check-sat", "exit")
ANSWERS = ("sat", "unsat", "unknown")
_DELIMITER = r"(?=[ \t\r\n();]|\Z)"
_SIMPLE = r"[A-Za-z~!$%^&*_+=<>?/-][A-Za-z0-9~!@$%^&*_+=<>.?/-]*"  # not @ or . first: reserved for solvers
_TOKEN = re.compile(rf"""
    (?P<space>[ \t\r\n]+)
  | (?P<comment>;[^\r\n]*)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<atom>(?:0|[1-9][0-9]*)(?:\.[0-9]+)?{_DELIMITER}
           | :[A-Za-z0-9~!@$%^&*_+=<>.?/-]+{_DELIMITER}
           | {_SIMPLE}{_DELIMITER}
           | \|[ -\[\]-{{}}~]*\|{_DELIMITER})
""", re.VERBOSE | re.ASCII)
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


# -- reading the text -------------------------------------------------------------------------------
def canonical(text: object, limits: Limits = Limits()) -> str:
    """The query as cvc5 will read it: one command per line, tokens separated by single spaces,
    ``(set-logic ...)`` first; raises :class:`CertificateError` unless it is a plain query (see the
    module docstring)."""
    if not isinstance(text, str):
        raise CertificateError(f"smtlib: expected the SMT-LIB text as a string, got {_short(text)}")
    if len(text) > MAX_TEXT:
        raise CertificateError(f"smtlib: {len(text)} characters is more than the cap of {MAX_TEXT}")
    commands = _commands(_tree(text, limits))
    return "".join(_print(c) + "\n" for c in commands)


def _tree(text: str, limits: Limits) -> list:
    """The s-expressions of ``text``: atoms are strings, lists are lists, each with its line number
    as the first item of the top-level lists (``[line, head, ...]``)."""
    root: list = []
    stack = [root]
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CertificateError(f"smtlib: line {line}: unexpected {_short(text[pos:pos + 10])} (only parentheses, "
                                   "numerals, decimals, symbols, keywords and comments are read)")
        kind, value = m.lastgroup, m.group()
        pos = m.end()
        if kind == "space":
            line += value.count("\n")
        elif kind == "open":
            node: list = [line] if len(stack) == 1 else []
            stack[-1].append(node)
            stack.append(node)
            if len(stack) > MAX_DEPTH + 1:
                raise CertificateError(f"smtlib: line {line}: nested deeper than the cap of {MAX_DEPTH}")
        elif kind == "close":
            if len(stack) == 1:
                raise CertificateError(f"smtlib: line {line}: ')' without a matching '('")
            stack.pop()
        elif kind == "atom":
            number = _NUMBER.fullmatch(value)
            if number and max(len(part) for part in value.split(".")) > limits.max_digits:
                raise CertificateError(f"smtlib: line {line}: a number with more than {limits.max_digits} digits")
            if len(stack) == 1:
                raise CertificateError(f"smtlib: line {line}: {_short(value)} outside a command")
            stack[-1].append(value)
    if len(stack) != 1:
        raise CertificateError("smtlib: the text ends inside an unclosed '('")
    return root


def _commands(root: list) -> list:
    """The commands without their line numbers, checked in order (see the module docstring)."""
    out, logic, declared, functions, checked = [], None, False, set(), False
    for command in root:
        line, body = command[0], command[1:]
        where = f"smtlib: line {line}"
        if not body or not isinstance(body[0], str) or body[0] not in COMMANDS:
            head = body[0] if body and isinstance(body[0], str) else "(...)" if body else "()"
            raise CertificateError(f"{where}: the command {_short(head)} is not allowed "
                                   f"(only {', '.join(COMMANDS)})")
        name = body[0]
        where = f"{where}, {name}"
        if checked and name != "exit":
            raise CertificateError(f"{where}: nothing but exit may follow check-sat")
        if name == "set-logic":
            if logic is not None or declared or len(body) != 2 or body[1] not in LOGICS:
                raise CertificateError(f"{where}: one set-logic, first, with a logic of {', '.join(sorted(LOGICS))}")
            logic = body[1]
        elif name == "set-info":
            if len(body) != 3 or body[1] not in INFO_KEYS or not isinstance(body[2], str) \
                    or body[1] == ":status" and body[2] not in ANSWERS:
                raise CertificateError(f"{where}: expected (set-info KEY VALUE) with KEY one of "
                                       f"{', '.join(sorted(INFO_KEYS))}")
        elif name == "set-option":
            if body[1:] not in ([":produce-models", "true"], [":produce-models", "false"]):
                raise CertificateError(f"{where}: only (set-option :produce-models true|false) is allowed")
        elif name in ("declare-fun", "declare-const"):
            sort = body[3] if name == "declare-fun" and len(body) == 4 and body[2] == [] else \
                body[2] if name == "declare-const" and len(body) == 3 else None
            if not _is_symbol(body[1] if len(body) > 1 else None) or sort not in SORTS:
                raise CertificateError(f"{where}: only constants of sort {', '.join(sorted(SORTS))} are declared")
            declared = True
        elif name == "define-fun":
            if len(body) != 5 or not _is_symbol(body[1]) or not isinstance(body[2], list) or body[3] not in SORTS \
                    or not all(isinstance(p, list) and len(p) == 2 and _is_symbol(p[0]) and p[1] in SORTS
                               for p in body[2]):
                raise CertificateError(f"{where}: expected (define-fun NAME ((ARG SORT) ...) SORT TERM) over "
                                       f"{', '.join(sorted(SORTS))}")
            _check_term(body[4], functions, where)
            if body[2]:
                functions.add(body[1])
            declared = True
        elif name == "assert":
            if len(body) != 2:
                raise CertificateError(f"{where}: expected (assert TERM)")
            _check_term(body[1], functions, where)
            declared = True
        elif name == "check-sat":
            if len(body) != 1:
                raise CertificateError(f"{where}: check-sat takes no arguments")
            checked = True
        elif not checked or len(body) != 1:  # exit
            raise CertificateError(f"{where}: exit may only follow check-sat")
        out.append(body)
    if logic is None:
        raise CertificateError("smtlib: the query has no set-logic")
    if not checked:
        raise CertificateError("smtlib: the query has no check-sat")
    out.sort(key=lambda c: c[0] != "set-logic")  # set-logic first (only set-info may precede it)
    return out


def _is_symbol(value: object) -> bool:
    return isinstance(value, str) and (value[0] == "|" or not value[0].isdigit() and value[0] != ":")


def _check_term(term: object, functions: set, where: str) -> None:
    """Every list is an allowed operator applied to terms, or a ``let``; atoms are not keywords."""
    stack = [term]
    while stack:
        t = stack.pop()
        if isinstance(t, str):
            if t[0] == ":":
                raise CertificateError(f"{where}: the keyword {_short(t)} in a term (annotations are not allowed)")
            continue
        if not t or not isinstance(t[0], str) or t[0][0] == "|":
            raise CertificateError(f"{where}: a term's operator must be a plain symbol")
        head = t[0]
        if head == "let":
            if len(t) != 3 or not isinstance(t[1], list) or not t[1] or not all(
                    isinstance(b, list) and len(b) == 2 and _is_symbol(b[0]) for b in t[1]):
                raise CertificateError(f"{where}: expected (let ((NAME TERM) ...) TERM)")
            stack.extend(b[1] for b in t[1])
            stack.append(t[2])
            continue
        if head not in OPERATORS and head not in functions:
            raise CertificateError(f"{where}: the operator {_short(head)} is not allowed (only Core and arithmetic "
                                   "operators, let, and defined functions)")
        if len(t) < 2:
            raise CertificateError(f"{where}: ({head}) has no arguments")
        stack.extend(t[1:])


def _print(command: list) -> str:
    """An s-expression with single spaces (iterative: the depth is capped, not small)."""
    parts, stack = [], [(command, 0)]
    while stack:
        node, k = stack.pop()
        if k == 0:
            parts.append("(")
        if k < len(node):
            stack.append((node, k + 1))
            child = node[k]
            if k:
                parts.append(" ")
            if isinstance(child, list):
                stack.append((child, 0))
            else:
                parts.append(child)
        else:
            parts.append(")")
    return "".join(parts)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
