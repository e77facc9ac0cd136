"""The hand-written z3 baseline: the straightforward encoding a competent user writes.

Real inputs (with the box as bounds, or free on R^2), one fresh Real per hidden ReLU constrained
to ``If(pre > 0, pre, 0)``, weights converted *exactly* from the JSON floats with
``Fraction(float)``, ``min`` as ``If(x1 < x2, x1, x2)`` (``min3``, ``min4``, ``median3`` and
``range4`` as the same ``If`` chains, :meth:`bench.target_functions.Target.z3`), the negated claim
asserted, one ``solver.check()`` with a timeout. ``is_even`` is the same with an Int input and Int neurons.

Imports z3 only (no sympy, no toolkit), so its worker process starts as fast as z3 allows.

>>> layers = [([[Fraction(1), Fraction(0)], [Fraction(-1), Fraction(0)], [Fraction(1), Fraction(-1)]],
...            [Fraction(0)] * 3), ([[Fraction(1), Fraction(-1), Fraction(-1)]], [Fraction(0)])]
>>> solve_min(layers, eps=None, box=False, timeout_s=10)["verdict"]
'proved'
"""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import z3

Layers = list[tuple[list[list[Fraction]], list[Fraction]]]


def load_layers(path: str | Path) -> Layers:
    """Dense layers ``[(W, b), ...]`` of a JSON weights file, every float as its exact Fraction."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    layers = []
    for layer in data["layers"]:
        rows = [[Fraction(w) for w in row] for row in layer["W"]]
        bias = [Fraction(v) for v in layer.get("b") or [0] * len(rows)]
        layers.append((rows, bias))
    return layers


def _num(value: Fraction, integer: bool = False) -> z3.ArithRef:
    if integer:
        return z3.IntVal(int(value))
    return z3.RealVal(f"{value.numerator}/{value.denominator}")


def encode(layers: Layers, inputs: list[z3.ArithRef], integer: bool = False,
           relu_output: bool = False) -> tuple[list[z3.ArithRef], list[z3.BoolRef]]:
    """Outputs of the MLP and the ReLU constraints: ``h == If(pre > 0, pre, 0)`` per hidden neuron.

    A ReLU follows every layer but the last (and the last too when ``relu_output``).
    """
    make = z3.Int if integer else z3.Real
    zero = _num(Fraction(0), integer)
    constraints: list[z3.BoolRef] = []
    values = list(inputs)
    for k, (rows, bias) in enumerate(layers):
        activated = relu_output or k < len(layers) - 1
        out = []
        for i, (row, b) in enumerate(zip(rows, bias)):
            terms = [_num(w, integer) * v for w, v in zip(row, values) if w != 0]
            pre = z3.Sum(terms + [_num(b, integer)]) if terms else _num(b, integer)
            if activated:
                h = make(f"h{k + 1}_{i + 1}")
                constraints.append(h == z3.If(pre > 0, pre, zero))
                out.append(h)
            else:
                out.append(pre)
        values = out
    return values, constraints


def model_fraction(model: z3.ModelRef, var: z3.ArithRef) -> Fraction:
    """The exact value z3's model gives ``var`` (linear arithmetic: always a rational)."""
    value = model.eval(var, model_completion=True)
    if z3.is_int_value(value):
        return Fraction(value.as_long())
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    raise ValueError(f"z3 gave the non-rational value {value} for {var}")


def _check(solver: z3.Solver, names: dict[str, z3.ArithRef], start: float) -> dict:
    answer = solver.check()
    elapsed = time.perf_counter() - start
    if answer == z3.unsat:
        return {"verdict": "proved", "method": "z3", "solve_s": elapsed, "point": None, "note": ""}
    if answer == z3.unknown:
        return {"verdict": "unknown", "method": "z3", "solve_s": elapsed, "point": None,
                "note": solver.reason_unknown()}
    model = solver.model()
    point = {n: model_fraction(model, v) for n, v in names.items()}
    return {"verdict": "refuted", "method": "z3", "solve_s": time.perf_counter() - start, "point": point,
            "note": ""}


def solve_min(layers: Layers, eps: Fraction | None, box: bool, timeout_s: float) -> dict:
    """Decide ``|N - min| <= eps`` (``eps=None``: ``N = min``) on [-1, 1]^2 or R^2.

    Returns ``{"verdict": proved|refuted|unknown, "solve_s", "point": {x1, x2: Fraction} | None}``;
    the time covers building the formula and ``check()``.
    """
    return solve_target(layers, "min2", eps, box, timeout_s)


def solve_target(layers: Layers, target: str, eps: Fraction | None, box: bool, timeout_s: float) -> dict:
    """Decide ``|N - f| <= eps`` (``eps=None``: ``N = f``) on [-1, 1]^n or R^n for a target of
    :data:`bench.target_functions.TARGETS`; returns as :func:`solve_min`."""
    from bench.target_functions import TARGETS

    start = time.perf_counter()
    spec = TARGETS[target]
    xs = [z3.Real(f"x{i + 1}") for i in range(spec.inputs)]
    (y,), constraints = encode(layers, xs)
    f = spec.z3(xs)
    solver = z3.Solver()
    solver.set("timeout", max(1, int(timeout_s * 1000)))
    if box:
        solver.add(*[c for x in xs for c in (x >= -1, x <= 1)])
    solver.add(*constraints)
    if eps is None:
        solver.add(y != f)
    else:
        e = _num(eps)
        solver.add(z3.Or(y - f > e, f - y > e))
    return _check(solver, {f"x{i + 1}": x for i, x in enumerate(xs)}, start)


def is_even_layers(bits: int) -> Layers:
    """The article's parity net written out by hand: ``f_b(s) = R(b - s) + R(s - b)`` for the
    offsets ``2^(bits-1), ..., 2, 1, 1``, the running value ``s`` being the sum of the last pair."""
    offsets = [2 ** k for k in range(bits - 1, -1, -1)] + [1]
    layers: Layers = []
    width = 1
    for b in offsets:
        rows = [[Fraction(-1)] * width, [Fraction(1)] * width]
        layers.append((rows, [Fraction(b), Fraction(-b)]))
        width = 2
    layers.append(([[Fraction(1), Fraction(1)]], [Fraction(0)]))
    return layers


def solve_is_even(bits: int, timeout_s: float) -> dict:
    """Decide ``N(x) = x mod 2`` for integers ``0 <= x < 2^bits`` (ReLU on the output too)."""
    start = time.perf_counter()
    x = z3.Int("x")
    (y,), constraints = encode(is_even_layers(bits), [x], integer=True, relu_output=True)
    solver = z3.Solver()
    solver.set("timeout", max(1, int(timeout_s * 1000)))
    solver.add(x >= 0, x <= 2 ** bits - 1, *constraints, y != x % 2)
    return _check(solver, {"x": x}, start)
