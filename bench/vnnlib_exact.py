"""Read a VNN-LIB property exactly and replay a counterexample on it (with :mod:`bench.onnx_exact`).

The benchmark's own judge, independent of the toolkit under test (no import from ``networks``,
``verify`` or ``proofs``), so that every tool's answer -- mathcircuits' included -- is checked by
the same small, separate code. Weights are float32: each is its exact binary rational
(``Fraction(float(w))``); VNN-LIB constants are exact decimals (``0.679857769`` is
679857769/10^9); a tool's float answer is converted with ``Fraction(float)``. A counterexample
counts only when the point satisfies every input constraint *and* its exact outputs satisfy the
output constraints, i.e. the whole asserted formula holds exactly.

>>> prop = parse_vnnlib('''(declare-const X_0 Real) (declare-const Y_0 Real)
... (assert (<= X_0 0.5)) (assert (>= X_0 -0.5))
... (assert (or (and (>= Y_0 0.25)) (and (<= Y_0 (- 1)))))''')
>>> prop.holds({"X_0": Fraction(1, 2), "Y_0": Fraction(1, 4)}), prop.holds({"X_0": Fraction(1), "Y_0": Fraction(1)})
(True, False)
>>> prop.failures({"X_0": Fraction(1), "Y_0": Fraction(0)})
['X_0 <= 0.5 fails by 1/2', 'none of 2 output disjuncts holds']
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

_TOKEN = re.compile(r"\s*(?:(;[^\n]*)|(\()|(\))|([^\s();]+))")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_VAR = re.compile(r"^[XY]_\d+$")
_OPS = ("<=", ">=", "<", ">")


class VnnlibError(ValueError):
    """A VNN-LIB text outside the subset this reader understands (message names line and column)."""


@dataclasses.dataclass(frozen=True)
class Atom:
    """``sum(coeffs[v] * v) + const  op  0`` with exact coefficients."""

    coeffs: tuple[tuple[str, Fraction], ...]
    const: Fraction
    op: str
    text: str

    def slack(self, values: Mapping[str, Fraction]) -> Fraction:
        """``lhs`` with every term moved left: the atom holds when ``slack op 0``."""
        return sum((c * values[v] for v, c in self.coeffs), self.const)

    def holds(self, values: Mapping[str, Fraction]) -> bool:
        s = self.slack(values)
        return {"<=": s <= 0, ">=": s >= 0, "<": s < 0, ">": s > 0}[self.op]

    def inputs_only(self) -> bool:
        return all(v.startswith("X_") for v, _ in self.coeffs)


@dataclasses.dataclass(frozen=True)
class Formula:
    """``and``/``or`` of atoms (``kind`` ``"and"``, ``"or"`` or ``"atom"``)."""

    kind: str
    parts: tuple = ()
    atom: Atom | None = None

    def holds(self, values: Mapping[str, Fraction]) -> bool:
        if self.kind == "atom":
            return self.atom.holds(values)
        results = (p.holds(values) for p in self.parts)
        return all(results) if self.kind == "and" else any(results)


@dataclasses.dataclass(frozen=True)
class Property:
    """The asserted formulas of a VNN-LIB file and its declared ``X_i``/``Y_j`` counts."""

    inputs: int
    outputs: int
    asserts: tuple[Formula, ...]

    def holds(self, values: Mapping[str, Fraction]) -> bool:
        """Whether every assert holds at ``values`` (``X_i`` and ``Y_j``), exactly."""
        return all(f.holds(values) for f in self.asserts)

    def box(self) -> dict[str, tuple[Fraction | None, Fraction | None]]:
        """Bounds of the inputs from top-level single-variable atoms (``X_i <= c``, ``X_i >= c``).

        >>> parse_vnnlib("(assert (<= X_0 0.5)) (assert (>= (* 2 X_0) -1))").box()
        {'X_0': (Fraction(-1, 2), Fraction(1, 2))}
        """
        out: dict[str, list] = {}
        for f in self.asserts:
            if f.kind != "atom" or len(f.atom.coeffs) != 1 or not f.atom.inputs_only():
                continue
            (name, c), = f.atom.coeffs
            bound = -f.atom.const / c
            upper = (f.atom.op in ("<=", "<")) == (c > 0)
            lo, hi = out.setdefault(name, [None, None])
            if upper:
                out[name][1] = bound if hi is None else min(hi, bound)
            else:
                out[name][0] = bound if lo is None else max(lo, bound)
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    def failures(self, values: Mapping[str, Fraction]) -> list[str]:
        """Why the formula fails at ``values``: each violated input atom with its amount, and
        whether the output part fails (empty list: the formula holds)."""
        out = []
        for f in self.asserts:
            if f.holds(values):
                continue
            if f.kind == "atom" and f.atom.inputs_only():
                out.append(f"{f.atom.text} fails by {_amount(abs(f.atom.slack(values)))}")
            elif f.kind == "or":
                out.append(f"none of {len(f.parts)} output disjuncts holds")
            else:
                out.append(f"{_describe(f)} fails")
        return out


def _amount(value: Fraction) -> str:
    """An exact amount, shown exactly when short, else as ``~1.1e-17``."""
    text = str(value)
    return text if len(text) <= 24 else f"~{float(value):.3g}"


def _describe(f: Formula) -> str:
    return f.atom.text if f.kind == "atom" else f"({f.kind} of {len(f.parts)})"


def _tokens(text: str):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                return
            raise VnnlibError(f"{_where(text, pos)}: cannot read {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group(1):
            continue
        tok = m.group(2) or m.group(3) or m.group(4)
        if tok:
            yield tok, m.start(m.lastindex)


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def _sexprs(text: str) -> list:
    stack: list[list] = [[]]
    starts: list[int] = []
    for tok, pos in _tokens(text):
        if tok == "(":
            stack.append([])
            starts.append(pos)
        elif tok == ")":
            if len(stack) == 1:
                raise VnnlibError(f"{_where(text, pos)}: unbalanced ')'")
            done = stack.pop()
            stack[-1].append((done, starts.pop()))
        else:
            stack[-1].append((tok, pos))
    if len(stack) > 1:
        raise VnnlibError(f"{_where(text, starts[-1])}: unclosed '('")
    return stack[0]


def _linear(node, text: str) -> tuple[dict[str, Fraction], Fraction]:
    """A term as ``(coefficients, constant)``; only linear terms are accepted."""
    value, pos = node
    if isinstance(value, str):
        if _NUMBER.match(value):
            return {}, Fraction(value)
        if _VAR.match(value):
            return {value: Fraction(1)}, Fraction(0)
        raise VnnlibError(f"{_where(text, pos)}: unknown symbol {value!r}")
    if not value or not isinstance(value[0][0], str):
        raise VnnlibError(f"{_where(text, pos)}: expected an operator")
    op, args = value[0][0], [_linear(a, text) for a in value[1:]]
    if op == "+" and args:
        return _combine(args, [1] * len(args))
    if op == "-" and len(args) == 1:
        return _combine(args, [-1])
    if op == "-" and args:
        return _combine(args, [1] + [-1] * (len(args) - 1))
    if op == "*" and len(args) == 2:
        (ca, ka), (cb, kb) = args
        if ca and cb:
            raise VnnlibError(f"{_where(text, pos)}: a product of two variables is not linear")
        coeffs, const, k = (ca, ka, kb) if ca else (cb, kb, ka)
        return {v: k * c for v, c in coeffs.items()}, k * const
    if op == "/" and len(args) == 2 and not args[1][0] and args[1][1] != 0:
        (ca, ka), (_, k) = args
        return {v: c / k for v, c in ca.items()}, ka / k
    raise VnnlibError(f"{_where(text, pos)}: unsupported term {op!r} with {len(args)} argument(s)")


def _combine(args, signs) -> tuple[dict[str, Fraction], Fraction]:
    coeffs: dict[str, Fraction] = {}
    const = Fraction(0)
    for (c, k), s in zip(args, signs):
        for v, w in c.items():
            coeffs[v] = coeffs.get(v, Fraction(0)) + s * w
        const += s * k
    return coeffs, const


def _formula(node, text: str) -> Formula:
    value, pos = node
    if isinstance(value, str) or not value or not isinstance(value[0][0], str):
        raise VnnlibError(f"{_where(text, pos)}: expected (and ...), (or ...) or a comparison")
    op = value[0][0]
    if op in ("and", "or"):
        if len(value) < 2:
            raise VnnlibError(f"{_where(text, pos)}: empty ({op})")
        return Formula(op, tuple(_formula(a, text) for a in value[1:]))
    if op in _OPS and len(value) == 3:
        (ca, ka), (cb, kb) = _linear(value[1], text), _linear(value[2], text)
        coeffs = dict(ca)
        for v, w in cb.items():
            coeffs[v] = coeffs.get(v, Fraction(0)) - w
        items = tuple(sorted((v, c) for v, c in coeffs.items() if c != 0))
        shown = text[pos:_close(text, pos)]
        return Formula("atom", atom=Atom(items, ka - kb, op, _compact(shown)))
    raise VnnlibError(f"{_where(text, pos)}: unsupported formula {op!r}")


def _close(text: str, pos: int) -> int:
    depth = 0
    for i in range(pos, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return len(text)


def _compact(sexpr: str) -> str:
    """``(<= X_0 0.5)`` -> ``X_0 <= 0.5`` for messages (binary comparisons of atoms only)."""
    parts = sexpr.strip("()").split()
    if len(parts) == 3 and parts[0] in _OPS and "(" not in sexpr[1:]:
        return f"{parts[1]} {parts[0]} {parts[2]}"
    return " ".join(sexpr.split())


def parse_vnnlib(text: str) -> Property:
    """The :class:`Property` of a VNN-LIB text (declarations and asserts; nothing is evaluated)."""
    inputs = outputs = 0
    asserts = []
    for node in _sexprs(text):
        value, pos = node
        if isinstance(value, str) or not value:
            raise VnnlibError(f"{_where(text, pos)}: expected (declare-const ...) or (assert ...)")
        head = value[0][0]
        if head == "declare-const" and len(value) == 3 and value[2][0] == "Real" and _VAR.match(str(value[1][0])):
            name = value[1][0]
            if name.startswith("X_"):
                inputs = max(inputs, int(name[2:]) + 1)
            else:
                outputs = max(outputs, int(name[2:]) + 1)
        elif head == "assert" and len(value) == 2:
            asserts.append(_formula(value[1], text))
        else:
            raise VnnlibError(f"{_where(text, pos)}: unsupported command {head!r}")
    return Property(inputs, outputs, tuple(asserts))


def read_vnnlib(path: str | Path) -> Property:
    """:func:`parse_vnnlib` of a file."""
    return parse_vnnlib(Path(path).read_text(encoding="utf-8"))


def read_result(text: str) -> tuple[str, dict[str, Fraction]]:
    """A VNN-COMP result file: its status (``sat``, ``unsat``, ``timeout``, ``unknown``, ...) and, after
    ``sat``, the assignment ``((X_0 v) ... (Y_0 v) ...)`` with exact values (decimals, ``p/q``,
    ``(/ p q)``, ``(- v)``).

    >>> read_result("sat\\n((X_0 0.5)\\n (X_1 (- 1/3))\\n (Y_0 (/ 1 4)))")
    ('sat', {'X_0': Fraction(1, 2), 'X_1': Fraction(-1, 3), 'Y_0': Fraction(1, 4)})
    """
    status, _, rest = text.strip().partition("\n")
    values: dict[str, Fraction] = {}
    for node in _sexprs(rest):
        pairs = node[0] if isinstance(node[0], list) else []
        for pair, pos in pairs:
            if not isinstance(pair, list) or len(pair) != 2 or not _VAR.match(str(pair[0][0])):
                raise VnnlibError(f"{_where(rest, pos)}: expected (X_i value) or (Y_j value)")
            values[pair[0][0]] = _value(pair[1], rest)
    return status.strip().lower(), values


def _value(node, text: str) -> Fraction:
    value, pos = node
    if isinstance(value, str):
        try:
            return Fraction(value)
        except (ValueError, ZeroDivisionError):
            raise VnnlibError(f"{_where(text, pos)}: not a number: {value!r}") from None
    op = value[0][0] if value and isinstance(value[0][0], str) else None
    args = [_value(a, text) for a in value[1:]]
    if op == "-" and len(args) == 1:
        return -args[0]
    if op == "/" and len(args) == 2 and args[1] != 0:
        return args[0] / args[1]
    raise VnnlibError(f"{_where(text, pos)}: expected a number, (- v) or (/ p q)")


@dataclasses.dataclass(frozen=True)
class Replay:
    """The exact replay of one counterexample: ``ok`` when the whole property holds at the point."""

    ok: bool
    inputs: tuple[Fraction, ...]
    outputs: tuple[Fraction, ...]
    why: str  # empty when ok; else every failed constraint


def replay(prop: Property, evaluate, inputs) -> Replay:
    """Evaluate the network exactly at ``inputs`` (``X_0, X_1, ...``; floats are converted with
    ``Fraction(float)``) and check every assert of ``prop`` exactly.

    >>> prop = parse_vnnlib("(assert (<= X_0 1)) (assert (>= Y_0 (* 2 X_0)))")
    >>> replay(prop, lambda xs: [xs[0] * 3], [0.5]).ok, replay(prop, lambda xs: [xs[0]], [0.5]).why
    (True, '(>= Y_0 (* 2 X_0)) fails')
    """
    xs = tuple(v if isinstance(v, Fraction) else Fraction(v) for v in inputs)
    if len(xs) < prop.inputs:
        return Replay(False, xs, (), f"{len(xs)} input values for {prop.inputs} declared inputs")
    ys = tuple(Fraction(v) for v in evaluate(list(xs)))
    if len(ys) < prop.outputs:
        return Replay(False, xs, ys, f"the network has {len(ys)} outputs, the property declares {prop.outputs}")
    values = {f"X_{i}": v for i, v in enumerate(xs)}
    values.update({f"Y_{j}": v for j, v in enumerate(ys)})
    why = prop.failures(values)
    return Replay(not why, xs, ys, "; ".join(why))
