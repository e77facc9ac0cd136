"""A whitelist parser from VNN-LIB properties (and our ``--unsafe`` text) to exact input boxes and output sets.

VNN-LIB, as the competition (VNN-COMP) uses it: ``(declare-const X_i Real)`` / ``(declare-const
Y_j Real)`` and ``(assert F)`` where ``F`` is ``and``/``or`` (nested) of ``<=``, ``>=``, ``<``, ``>``
over terms built from numbers, declared names, ``+``, ``-`` (unary and n-ary), ``*`` by constants and
``/`` by constants; ``;`` starts a comment. Numbers are read exactly (``0.679857769`` is
679857769/10^9, ``1e-3`` is 1/1000, ``-0.5`` and ``(- 0.5)`` are -1/2). Nothing is evaluated. The
asserts are conjoined and put in disjunctive normal form; single-input bounds of each disjunct form
its input box, the other atoms its part of the output set; disjuncts are grouped by box (one
:class:`Case` per box) and a disjunct whose box is empty is dropped (it can never be reached).

>>> spec = parse_vnnlib('''(declare-const X_0 Real) (declare-const Y_0 Real) (declare-const Y_1 Real)
... (assert (<= X_0 0.5)) (assert (>= X_0 -0.5))  ; the box
... (assert (or (<= Y_0 Y_1) (> (* 2 Y_1) (+ Y_0 1e-3))))''')
>>> spec.inputs, spec.outputs, str(spec.cases[0].box), str(spec.cases[0].unsafe)
(('X_0',), ('Y_0', 'Y_1'), 'X_0 in [-1/2, 1/2]', 'Y_0 <= Y_1 or 2*Y_1 > Y_0 + 1/1000')
"""

from __future__ import annotations

import dataclasses
import re
import stat
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from proofs.text_to_unsafe import linear_sum, parse_unsafe
from symbolic import errors
from symbolic.circuit import Circuit
from verify.claim import Claim, unreachable_claim
from verify.domain import Domain, FiniteSet, RealInterval
from verify.output_set import FLIP, OPS, Atom, OutputSet, dnf

MAX_BYTES = 16 * 2**20  # size of one VNN-LIB file
MAX_DEPTH = 64  # nesting of parentheses
MAX_DIGITS = 400  # digits of one number
MAX_EXPONENT = 400  # |e| of 1e-3
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?$")
_SYMBOL = re.compile(r"^[A-Za-z~!@$%^&*_+=<>.?/-][A-Za-z0-9~!@$%^&*_+=<>.?/-]*$")
_CHUNK = re.compile(r"[ \t\r\n\f]+|;[^\n]*|[()]|[^ \t\r\n\f();]+")
_VARIABLE = re.compile(r"^([XY])_(0|[1-9][0-9]{0,6})$")


@dataclasses.dataclass(frozen=True)
class Case:
    """One input box and the part of the output set that starts from it; ``disjuncts[i]`` is the
    index in the property's disjunctive normal form of the output set's disjunct ``i``."""

    box: Domain
    unsafe: OutputSet
    disjuncts: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Spec:
    """A property: it holds when no case's box reaches its output set."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    cases: tuple[Case, ...]
    disjuncts: int  # of the whole property's disjunctive normal form, empty boxes included
    empty: int = 0  # disjuncts dropped because their input box is empty

    def describe(self) -> str:
        boxes = f"{len(self.cases)} input box{'es' * (len(self.cases) != 1)}"
        return f"{len(self.inputs)} inputs, {len(self.outputs)} outputs, {boxes}, {self.disjuncts} disjunct(s)"

    def claims(self, circuit: Circuit) -> list[Claim]:
        """One unreachable claim per case on ``circuit``, whose inputs and outputs must be the
        declared ``X_0..`` and ``Y_0..`` (see :func:`proofs.spec_to_vnnlib.with_vnnlib_names`). A box
        that is a single point becomes a finite domain (decided by exact evaluation)."""
        for what, declared, have in (("inputs", self.inputs, circuit.inputs), ("outputs", self.outputs, circuit.outputs)):
            if tuple(have) != declared:
                raise errors.ClaimError(f"the property declares {len(declared)} {what} "
                                        f"({_span(declared)}) but the network has {len(have)} ({_span(have)})")
        out = []
        for case in self.cases:
            box, sets = case.box, [case.box.of(n) for n in circuit.inputs]
            if all(isinstance(v, RealInterval) and v.bounded and v.lo == v.hi for v in sets):
                box = Domain({n: FiniteSet((v.lo,)) for n, v in zip(circuit.inputs, sets)})
            out.append(unreachable_claim(circuit, case.unsafe, box))
        return out


def _span(names: Sequence[str]) -> str:
    return "none" if not names else names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"


@dataclasses.dataclass(frozen=True)
class _Tok:
    text: str
    line: int
    col: int


@dataclasses.dataclass(frozen=True)
class _List:
    items: tuple
    line: int
    col: int


class _Reader:
    """S-expressions with positions; every error is one ParseError ``source:line:col: message``."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source = text, source

    def fail(self, message: str, where) -> None:
        raise errors.ParseError(f"{self.source}:{where.line}:{where.col}: {message}")

    def read(self) -> list:
        if not isinstance(self.text, str):
            raise errors.ParseError(f"{self.source}: expected text, got {type(self.text).__name__}")
        if len(self.text) > MAX_BYTES:
            raise errors.ParseError(f"{self.source}: {len(self.text)} characters is more than {MAX_BYTES}")
        top: list = []
        stack: list[tuple[list, _Tok]] = []
        line, start = 1, 0
        for match in _CHUNK.finditer(self.text):
            chunk, pos = match.group(), match.start()
            here = _Tok(chunk, line, pos - start + 1)
            if chunk[0] in " \t\r\n\f;":
                newlines = chunk.count("\n")
                if newlines:
                    line, start = line + newlines, pos + chunk.rindex("\n") + 1
                continue
            if chunk == "(":
                if len(stack) >= MAX_DEPTH:
                    self.fail(f"nesting deeper than {MAX_DEPTH} levels", here)
                stack.append(([], here))
            elif chunk == ")":
                if not stack:
                    self.fail("unbalanced ')'", here)
                items, opened = stack.pop()
                (stack[-1][0] if stack else top).append(_List(tuple(items), opened.line, opened.col))
            else:
                self.check_word(here)
                (stack[-1][0] if stack else top).append(here)
        if stack:
            self.fail("'(' is never closed", stack[-1][1])
        return top

    def check_word(self, tok: _Tok) -> None:
        if tok.text[0] in "\"|":
            self.fail(("strings" if tok.text[0] == '"' else "quoted symbols") + " are not part of VNN-LIB", tok)
        if _NUMBER.match(tok.text) or _SYMBOL.match(tok.text):
            return
        self.fail(f"unexpected {tok.text[:30]!r}", tok)

    def number(self, tok: _Tok) -> Fraction | None:
        match = _NUMBER.match(tok.text)
        if match is None:
            return None
        if sum(c.isdigit() for c in tok.text.split("e")[0].split("E")[0]) > MAX_DIGITS:
            self.fail(f"number with more than {MAX_DIGITS} digits", tok)
        if match.group(1) is not None and abs(int(match.group(1))) > MAX_EXPONENT:
            self.fail(f"exponent of {tok.text[:30]} beyond ±{MAX_EXPONENT}", tok)
        return Fraction(tok.text)


class _Vnnlib(_Reader):
    """Interprets the s-expressions of one VNN-LIB file."""

    def parse(self) -> Spec:
        self.declared: dict[str, _Tok] = {}
        asserts = []
        for node in self.read():
            if not isinstance(node, _List) or not node.items or not isinstance(node.items[0], _Tok):
                self.fail("expected a command such as (declare-const X_0 Real) or (assert ...)", node)
            head = node.items[0].text
            if head == "declare-const":
                self.declare(node)
            elif head == "assert":
                if len(node.items) != 2:
                    self.fail("assert takes exactly one formula", node)
                asserts.append(self.formula(node.items[1]))
            else:
                self.fail(f"unsupported command {head!r} (VNN-LIB properties use declare-const and assert)", node)
        inputs, outputs = self.names("X"), self.names("Y")
        if not inputs:
            raise errors.ParseError(f"{self.source}: no input X_0 is declared")
        return split_cases(dnf(("and", asserts)), inputs, outputs)

    def declare(self, node: _List) -> None:
        items = node.items
        if len(items) != 3 or not all(isinstance(i, _Tok) for i in items):
            self.fail("expected (declare-const NAME Real)", node)
        name, sort = items[1], items[2]
        if not _VARIABLE.match(name.text):
            self.fail(f"variable {name.text!r} is not named X_i (input) or Y_j (output)", name)
        if sort.text != "Real":
            self.fail(f"{name.text} has sort {sort.text!r}; only Real is supported", sort)
        if name.text in self.declared:
            first = self.declared[name.text]
            self.fail(f"{name.text} is declared twice (first at {first.line}:{first.col})", name)
        self.declared[name.text] = name

    def names(self, letter: str) -> tuple[str, ...]:
        indices = sorted(int(n[2:]) for n in self.declared if n[0] == letter)
        for expected, index in enumerate(indices):
            if index != expected:
                self.fail(f"{letter}_{expected} is not declared but {letter}_{index} is "
                          f"(declare {letter}_0 .. {letter}_{indices[-1]})", self.declared[f"{letter}_{index}"])
        return tuple(f"{letter}_{i}" for i in indices)

    def formula(self, node):
        if isinstance(node, _Tok) or not node.items or not isinstance(node.items[0], _Tok):
            self.fail("expected a formula such as (<= X_0 1), (and ...) or (or ...)", node)
        head, args = node.items[0].text, node.items[1:]
        if head in ("and", "or"):
            return (head, [self.formula(a) for a in args])
        if head in OPS:
            if len(args) < 2:
                self.fail(f"{head} takes at least two terms", node)
            terms = [self.term(a) for a in args]
            return ("and", [("rel", *linear_sum([a, b], [1, -1]), head) for a, b in zip(terms, terms[1:])])
        self.fail(f"unsupported formula {head!r} (expected and, or, <=, >=, <, >)", node)

    def term(self, node) -> tuple[dict[str, Fraction], Fraction]:
        if isinstance(node, _Tok):
            value = self.number(node)
            if value is not None:
                return {}, value
            if node.text not in self.declared:
                self.fail(f"{node.text!r} is not declared (declare-const it first)", node)
            return {node.text: Fraction(1)}, Fraction(0)
        if not node.items or not isinstance(node.items[0], _Tok):
            self.fail("expected a term: a number, a name or (+|-|*|/ ...)", node)
        head, args = node.items[0].text, node.items[1:]
        if head not in ("+", "-", "*", "/") or not args:
            self.fail(f"unsupported term {head!r} (expected +, -, * or / with arguments)", node)
        terms = [self.term(a) for a in args]
        if head == "+":
            return linear_sum(terms, [1] * len(terms))
        if head == "-":
            return linear_sum(terms, [-1] if len(terms) == 1 else [1] + [-1] * (len(terms) - 1))
        if head == "*":
            varying = [t for t in terms if t[0]]
            if len(varying) > 1:
                self.fail("a product of two terms with variables is not linear", node)
            scale = Fraction(1)
            for coeffs, constant in terms:
                scale *= constant if not coeffs else 1
            base = varying[0] if varying else ({}, Fraction(1))
            return {n: c * scale for n, c in base[0].items()}, base[1] * scale
        if len(terms) != 2 or terms[1][0] or terms[1][1] == 0:
            self.fail("(/ a b) needs a nonzero constant b", node)
        return {n: c / terms[1][1] for n, c in terms[0][0].items()}, terms[0][1] / terms[1][1]


def split_cases(disjuncts: Sequence[tuple[Atom, ...]], inputs: Sequence[str], outputs: Sequence[str]) -> Spec:
    """Group the disjuncts of a property by input box: single-input atoms bound the box, the other
    atoms (over outputs, or several inputs) form the case's output set."""
    known, groups, empty = set(inputs), {}, 0
    for index, conjunction in enumerate(disjuncts):
        bounds: dict[str, list] = {}
        rest = []
        for atom in conjunction:
            (name, coeff), *more = atom.coeffs
            if more or name not in known:
                rest.append(atom)
                continue
            op, value = (atom.op if coeff > 0 else FLIP[atom.op]), atom.rhs / coeff
            lo, lo_open, hi, hi_open = bounds.get(name, [None, False, None, False])
            if op in (">=", ">") and (lo is None or value > lo or (value == lo and op == ">")):
                lo, lo_open = value, op == ">"
            if op in ("<=", "<") and (hi is None or value < hi or (value == hi and op == "<")):
                hi, hi_open = value, op == "<"
            bounds[name] = [lo, lo_open, hi, hi_open]
        try:
            box = Domain({n: RealInterval(lo, hi, lo_open=lo_open, hi_open=hi_open)
                          for n, (lo, lo_open, hi, hi_open) in bounds.items()})
        except errors.DomainError:
            empty += 1
            continue
        groups.setdefault(box, []).append((index, tuple(rest)))
    cases = tuple(Case(box, OutputSet(tuple(r for _, r in members)), tuple(i for i, _ in members))
                  for box, members in groups.items())
    return Spec(tuple(inputs), tuple(outputs), cases, len(disjuncts), empty)


def parse_vnnlib(text: str, source: str = "<vnnlib>") -> Spec:
    """Parse the text of a VNN-LIB property (see the module docstring); one ParseError with the
    line and column of the first problem."""
    return _Vnnlib(text, source).parse()


def load_vnnlib(path: str | Path) -> Spec:
    """Read and parse a VNN-LIB file (at most MAX_BYTES)."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise errors.ParseError(f"{path} is not a regular file")
        if info.st_size > MAX_BYTES:
            raise errors.ParseError(f"{path}: {info.st_size} bytes is more than {MAX_BYTES}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.ParseError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise errors.ParseError(f"{path} is not UTF-8 text") from None
    return parse_vnnlib(text, str(path))


def parse_result(text: str, source: str = "<result>") -> tuple[str, dict[str, Fraction]]:
    """A competition result file: ``('unsat'|'sat'|'timeout'|'unknown'|..., {name: value})``;
    ``holds``/``violated`` (the 2021 words) read as ``unsat``/``sat``.

    >>> parse_result("sat\\n((X_0 -0.5)\\n (Y_0 (/ 1 3)))")
    ('sat', {'X_0': Fraction(-1, 2), 'Y_0': Fraction(1, 3)})
    """
    reader = _Vnnlib(text, source)
    reader.declared = {}
    nodes = reader.read()
    if not nodes or not isinstance(nodes[0], _Tok):
        raise errors.ParseError(f"{source}: a result file starts with sat, unsat, timeout or unknown")
    status = {"holds": "unsat", "violated": "sat"}.get(nodes[0].text, nodes[0].text)
    values: dict[str, Fraction] = {}
    if status == "sat":
        pairs = [n for node in nodes[1:] for n in (node.items if isinstance(node, _List) else [node])]
        for pair in pairs:
            if not (isinstance(pair, _List) and len(pair.items) == 2 and isinstance(pair.items[0], _Tok)):
                reader.fail("expected (NAME VALUE)", pair)
            coeffs, value = reader.term(pair.items[1])
            if coeffs:
                reader.fail("a value must be a number", pair)
            values[pair.items[0].text] = value
    elif len(nodes) > 1:
        reader.fail(f"nothing may follow {status!r}", nodes[1])
    return status, values
