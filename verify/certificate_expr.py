"""Read and evaluate the exact expression format of certificates (targets, conditions) with flint rationals.

An expression is JSON (docs/certificates.md, "Expressions"):

- ``"p/q"``: an exact rational (the strict text of :func:`verify.certificate.rational`);
- ``true`` / ``false``: a condition's constant;
- ``["var", NAME]``: a variable;
- ``[OP, ARG, ...]`` with OP one of ``add mul`` (one or more numbers), ``pow`` (a number and an
  integer exponent text ``"k"``, ``|k| <= 64``), ``relu abs floor ceiling`` (one number),
  ``min max`` (one or more), ``mod`` (two), ``heaviside`` (``[z]`` or ``[z, value at 0]``),
  ``piecewise`` (``value, condition, value, condition, ...``: the first true condition's value),
  the comparisons ``< <= > >= == !=`` (two numbers), ``and or`` (one or more conditions), ``not``.

Every node is typed (number or condition) when it is read, so evaluation never meets a type error,
and its degree in the variables is bounded (:data:`MAX_DEGREE`; products and ``mod`` add degrees,
``pow`` multiplies them, sums and the rest take the largest): with the node cap, this keeps the
digits of every value polynomial in the certificate's size (nested powers could not be).
Values follow the toolkit's exact semantics (:func:`symbolic.evaluate.evaluate_expr`): every operand
is evaluated; a value can be *undefined* (``mod`` by 0, ``0`` to a negative power, ``heaviside`` at 0
without a value, a ``piecewise`` where no condition holds), and an undefined operand makes its parent
undefined except in ``piecewise`` (only the chosen piece and the conditions up to it matter) and
``heaviside`` (its value at 0 only matters there). Reading is iterative (a flat postfix program), with
caps on nodes and depth; nothing is ever ``eval``'d.

>>> e = parse(["piecewise", "3", ["==", ["var", "x"], "3"], "-5", True], "target")
>>> e.kind, sorted(e.variables), e.evaluate({"x": flint.fmpq(3)}), e.evaluate({"x": flint.fmpq(-5)})
('number', ['x'], 3, -5)
>>> parse(["mod", ["var", "x"], "0"], "t").evaluate({"x": flint.fmpq(1)})
Undefined(why='mod by 0')
>>> parse(["add", ["var", "x"], True], "t")
Traceback (most recent call last):
symbolic.errors.CertificateError: t[2]: a condition where a number is needed
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import flint

from symbolic.errors import CertificateError
from verify.certificate import Limits, name, rational

NUMBER, CONDITION = "number", "condition"
MAX_NODES = 100_000
MAX_DEPTH = 500
MAX_EXPONENT = 64
MAX_DEGREE = 1024  # of the expression as a rational function: bounds how fast values' digits grow

# op -> (argument kinds, result kind); a tuple of one kind with "+" repeats it (one or more)
_N, _C = NUMBER, CONDITION
_SIGNATURES: dict[str, tuple[tuple[str, ...], str]] = {
    "add": ((_N, "+"), _N), "mul": ((_N, "+"), _N), "min": ((_N, "+"), _N), "max": ((_N, "+"), _N),
    "relu": ((_N,), _N), "abs": ((_N,), _N), "floor": ((_N,), _N), "ceiling": ((_N,), _N),
    "mod": ((_N, _N), _N), "pow": ((_N,), _N),
    "<": ((_N, _N), _C), "<=": ((_N, _N), _C), ">": ((_N, _N), _C), ">=": ((_N, _N), _C),
    "==": ((_N, _N), _C), "!=": ((_N, _N), _C),
    "and": ((_C, "+"), _C), "or": ((_C, "+"), _C), "not": ((_C,), _C),
}
OPS = frozenset(_SIGNATURES) | {"heaviside", "piecewise"}


@dataclasses.dataclass(frozen=True)
class Undefined:
    """The value of an expression that has none at a point (the reason says why)."""

    why: str


@dataclasses.dataclass(frozen=True)
class Expr:
    """A parsed expression: a postfix ``program`` of ``(op, arity, payload)``, its ``kind``
    (``"number"`` or ``"condition"``), its ``variables`` and node count."""

    program: tuple[tuple[str, int, object], ...]
    kind: str
    variables: frozenset[str]
    nodes: int

    def evaluate(self, point: Mapping[str, flint.fmpq]) -> flint.fmpq | bool | Undefined:
        """The exact value at ``point`` (every variable must be given), or :class:`Undefined`."""
        stack: list = []
        for op, arity, payload in self.program:
            if op == "num":
                stack.append(payload)
            elif op == "var":
                stack.append(point[payload])
            else:
                args = stack[len(stack) - arity:]
                del stack[len(stack) - arity:]
                stack.append(_apply(op, args, payload))
        return stack[0]


def _expected(kinds: tuple[str, ...], count: int) -> tuple[str, ...] | None:
    if len(kinds) == 2 and kinds[1] == "+":
        return (kinds[0],) * count if count >= 1 else None
    return kinds if count == len(kinds) else None


def parse(value: object, where: str, limits: Limits = Limits()) -> Expr:
    """Read an expression strictly (types, arities, caps), iteratively; raises CertificateError."""
    program: list[tuple[str, int, object]] = []
    kinds: list[str] = []
    degrees: list[int] = []  # beside kinds: a bound on each value's degree in the variables
    variables: set[str] = set()
    nodes = 0
    # a node's path is a chain (parent's path, index), rendered only for a message
    work: list[tuple[object, tuple | None, int, bool]] = [(value, None, 0, False)]
    while work:
        node, chain, depth, ready = work.pop()
        path = _Path(where, chain)
        if not ready:
            nodes += 1
            if nodes > MAX_NODES:
                raise CertificateError(f"{where}: more than {MAX_NODES} nodes")
            if depth > MAX_DEPTH:
                raise CertificateError(f"{path}: nested deeper than {MAX_DEPTH}")
            if isinstance(node, bool):
                program.append(("num", 0, node))
                kinds.append(CONDITION)
                degrees.append(0)
            elif isinstance(node, str):
                program.append(("num", 0, rational(node, path, limits)))
                kinds.append(NUMBER)
                degrees.append(0)
            elif isinstance(node, list) and node and isinstance(node[0], str):
                op = node[0]
                if op == "var":
                    if len(node) != 2:
                        raise CertificateError(f"{path}: a variable is [\"var\", NAME]")
                    variables.add(name(node[1], f"{path}[1]", limits))
                    program.append(("var", 0, node[1]))
                    kinds.append(NUMBER)
                    degrees.append(1)
                    continue
                if op not in OPS:
                    raise CertificateError(f"{path}: {op[:40]!r} is not an operation of the expression format")
                args = node[1:]
                if op == "pow":
                    if len(args) != 2 or not isinstance(args[1], str):
                        raise CertificateError(f"{path}: pow is [\"pow\", base, \"k\"] with an integer text k")
                    k = rational(args[1], f"{path}[2]", limits)
                    if k.q != 1 or abs(k) > MAX_EXPONENT:
                        raise CertificateError(f"{path}[2]: the exponent {k} is not an integer in "
                                               f"[-{MAX_EXPONENT}, {MAX_EXPONENT}]")
                    args = args[:1]
                work.append((node, chain, depth, True))
                for i in range(len(args) - 1, -1, -1):
                    work.append((args[i], (chain, i + 1), depth + 1, False))
            else:
                raise CertificateError(f"{path}: expected a number \"p/q\", true/false, [\"var\", NAME] or "
                                       f"[OP, ...], got {_show(node)}")
            continue
        op = node[0]
        count = 1 if op == "pow" else len(node) - 1
        got = tuple(kinds[len(kinds) - count:]) if count else ()
        del kinds[len(kinds) - count:]
        below = degrees[len(degrees) - count:]
        del degrees[len(degrees) - count:]
        if op == "piecewise":
            want = (NUMBER, CONDITION) * (count // 2) if count >= 2 and count % 2 == 0 else None
            result = NUMBER
        elif op == "heaviside":
            want = (NUMBER,) * count if count in (1, 2) else None
            result = NUMBER
        else:
            spec, result = _SIGNATURES[op]
            want = _expected(spec, count)
        if want is None:
            raise CertificateError(f"{path}: {op} does not take {count} arguments")
        for i, (have, need) in enumerate(zip(got, want)):
            if have != need:
                raise CertificateError(f"{path}[{i + 1}]: a {have} where a {need} is needed")
        payload = int(rational(node[2], path, limits).p) if op == "pow" else None
        degree = (abs(payload) * below[0] if op == "pow" else
                  sum(below) if op in ("mul", "mod") else max(below, default=0))
        if degree > MAX_DEGREE:
            raise CertificateError(f"{path}: the expression's degree exceeds {MAX_DEGREE} (powers and "
                                   "products nested too deep)")
        program.append((op, count, payload))
        kinds.append(result)
        degrees.append(degree)
    return Expr(tuple(program), kinds[0], frozenset(variables), nodes)


class _Path:
    """``where[1][2]...`` of a node, from its chain of indices (long paths keep their last steps)."""

    def __init__(self, where: str, chain: tuple | None) -> None:
        self.where, self.chain = where, chain

    def __str__(self) -> str:
        steps, chain = [], self.chain
        while chain is not None:
            chain, index = chain
            steps.append(index)
        steps.reverse()
        shown = "".join(f"[{i}]" for i in steps[-8:])
        return f"{self.where}{'[...]' if len(steps) > 8 else ''}{shown}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_ZERO, _ONE = flint.fmpq(0), flint.fmpq(1)
_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _apply(op: str, args: list, payload: object):  # noqa: C901 - one case per operation
    """One operation on already-evaluated (and type-checked) arguments."""
    if op == "piecewise":
        for i in range(0, len(args), 2):
            cond = args[i + 1]
            if isinstance(cond, Undefined):
                return cond
            if cond:
                return args[i]
        return Undefined("no condition of a piecewise holds")
    if op == "heaviside":
        z = args[0]
        if isinstance(z, Undefined) or z != _ZERO:
            return z if isinstance(z, Undefined) else (_ONE if z > _ZERO else _ZERO)
        return args[1] if len(args) == 2 else Undefined("heaviside at 0 without a value")
    for a in args:
        if isinstance(a, Undefined):
            return a
    if op == "add":
        total = _ZERO
        for a in args:
            total += a
        return total
    if op == "mul":
        total = _ONE
        for a in args:
            total *= a
        return total
    if op in _COMPARE:
        return _COMPARE[op](args[0], args[1])
    if op == "and":
        return all(args)
    if op == "or":
        return any(args)
    if op == "not":
        return not args[0]
    if op == "min":
        return min(args)
    if op == "max":
        return max(args)
    a = args[0]
    if op == "relu":
        return a if a > _ZERO else _ZERO
    if op == "abs":
        return a if a >= _ZERO else -a
    if op == "floor":
        return flint.fmpq(a.floor())
    if op == "ceiling":
        return flint.fmpq(a.ceil())
    if op == "mod":
        m = args[1]
        if m == _ZERO:
            return Undefined("mod by 0")
        return a - m * flint.fmpq((a / m).floor())
    assert op == "pow"
    if a == _ZERO and payload < 0:
        return Undefined("0 to a negative power")
    return a ** payload
