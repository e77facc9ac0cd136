"""Turn a ReLU expression such as ``R(x1) - R(-x1) - R(x1 - x2)`` into a circuit, one neuron per ReLU."""

from __future__ import annotations

import re
from collections.abc import Sequence

import sympy as sp

from symbolic import errors
from symbolic.circuit import Activation, Assignment, Builder, Circuit
from symbolic.relu import ReLU, sym


def natural_key(name: str):
    """Sort ``x2`` before ``x10``.

    >>> sorted(['x10', 'x2', 'a'], key=natural_key)
    ['a', 'x2', 'x10']
    """
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class _Lowering:
    def __init__(self, inputs: Sequence[str], parameters: Sequence[str]):
        self.builder = Builder(inputs)
        self.inputs = set(inputs)
        self.parameters = {sym(p) for p in parameters}
        self.memo: dict[sp.Basic, sp.Symbol] = {}

    def affine(self, expr: sp.Expr) -> tuple[dict[str, sp.Expr], sp.Expr]:
        """``expr`` (with activations already replaced by neuron symbols) as weights and bias."""
        weights: dict[str, sp.Expr] = {}
        bias = sp.S.Zero
        for term in sp.Add.make_args(sp.expand(expr)):
            varying = [f for f in sp.Mul.make_args(term) if f.free_symbols - self.parameters]
            if not varying:
                bias += term
                continue
            if len(varying) != 1 or not varying[0].is_Symbol:
                raise errors.NonPiecewiseLinearError(
                    f"{term} is not a constant times one input or neuron: the network is not piecewise-linear"
                )
            name = varying[0].name
            weights[name] = weights.get(name, sp.S.Zero) + term / varying[0]
        return weights, bias

    def neuron(self, arg: sp.Expr, activation: Activation) -> sp.Symbol:
        key = (activation, arg)
        if key not in self.memo:
            weights, bias = self.affine(self.lower(arg))
            name = self.builder.add(weights, bias, activation)
            self.memo[key] = sym(name)
        return self.memo[key]

    def lower(self, expr: sp.Expr) -> sp.Expr:  # noqa: C901 - one case per construct
        """Replace every activation (and Abs/Min/Max, via ReLUs) by a neuron symbol."""
        if expr.is_Symbol:
            if expr.name not in self.inputs and expr not in self.parameters:
                raise errors.InvalidCircuitError(f"{expr.name} is neither an input nor a parameter")
            return expr
        if expr.is_Number:
            if not expr.is_Rational:
                raise errors.NonPiecewiseLinearError(f"{expr} is not an exact rational weight")
            return expr
        activation = Activation.of_function(expr)
        if activation is not None:
            return self.neuron(expr.args[0], activation)
        if isinstance(expr, sp.Abs):
            z = expr.args[0]
            return self.lower(ReLU(z) + ReLU(-z))
        if isinstance(expr, (sp.Min, sp.Max)):
            acc = expr.args[0]
            for other in expr.args[1:]:
                acc = acc - ReLU(acc - other) if isinstance(expr, sp.Min) else acc + ReLU(other - acc)
            return self.lower(acc)
        if isinstance(expr, (sp.Add, sp.Mul)):
            return expr.func(*(self.lower(a) for a in expr.args))
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer and not (expr.base.free_symbols - self.parameters):
            return expr
        raise errors.NonPiecewiseLinearError(
            f"{expr} ({type(expr).__name__}) cannot be written as ReLU neurons; use relu, abs, min, max "
            "and + - * by constants"
        )


def expr_to_circuit(
    expr: sp.Expr,
    inputs: Sequence[str] | None = None,
    parameters: Sequence[str] = (),
    output: str = "y",
) -> Circuit:
    """A circuit computing ``expr``: each distinct ``ReLU(...)`` becomes one neuron (``Abs``,
    ``Min`` and ``Max`` are lowered to ReLUs), the rest becomes the linear output.

    Inputs default to the free symbols that are not parameters, in natural order. The output is
    called ``output`` (``y``), or ``y_out`` etc. when an input already has that name.

    >>> from symbolic.relu import R
    >>> x1, x2 = sym('x1'), sym('x2')
    >>> c = expr_to_circuit(R(x1) - R(-x1) - R(x1 - x2) + abs(x1 - x2))
    >>> c.inputs, len(c.neurons), c.evaluate({'x1': 3, 'x2': -5})
    (('x1', 'x2'), 4, (Fraction(3, 1),))
    """
    if not isinstance(expr, sp.Expr):
        raise errors.InvalidCircuitError(f"a network must be a numeric expression, got the condition {expr}")
    parameters = list(parameters)
    names = sorted({s.name for s in expr.free_symbols} - set(parameters), key=natural_key)
    if inputs is None:
        inputs = names
    missing = [n for n in names if n not in inputs]
    if missing:
        raise errors.InvalidCircuitError(
            f"the network uses {', '.join(missing)}, which is not among the inputs {', '.join(inputs)}"
        )
    lowering = _Lowering(inputs, parameters)
    taken = set(inputs) | set(parameters)
    while output in taken:
        output += "_out"
    weights, bias = lowering.affine(lowering.lower(expr))
    lowering.builder.add(weights, bias, Activation.LINEAR, name=output)
    return lowering.builder.build([output])


def difference_circuit(circuit: Circuit, target: sp.Expr, output: str | None = None) -> Circuit:
    """One circuit computing ``N(x) - f(x)``: the target is lowered to ReLU neurons (so it must be
    continuous piecewise-linear: affine, ``Abs``, ``Min``, ``Max``, ``ReLU``) and appended.

    >>> from symbolic.circuit import from_layers
    >>> d = difference_circuit(from_layers([([[1], [-1]], None), ([[1, 1]], None)]), sp.Abs(sym('x')))
    >>> d.evaluate({'x': -3})
    (Fraction(0, 1),)
    """
    return circuits_difference(circuit, expr_to_circuit(target, circuit.inputs), output)


def circuits_difference(circuit: Circuit, other: Circuit, output: str | None = None) -> Circuit:
    """One circuit computing ``N(x) - M(x)`` for two circuits over the same inputs; ``other``'s
    names get a prefix that no name of ``circuit`` has. Nothing is inlined (any depth works).

    >>> from symbolic.circuit import from_layers
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    >>> circuits_difference(net, from_layers([([[1]], None), ([[1]], None)])).evaluate({'x': -3})
    (Fraction(3, 1),)
    """
    output = output or circuit.output
    if set(other.inputs) != set(circuit.inputs):
        raise errors.InvalidCircuitError(f"cannot subtract a network over {other.inputs} from one over {circuit.inputs}")
    taken = {a.name for a in circuit.assignments} | set(circuit.inputs)
    prefix = "target_"
    while any(prefix + a.name in taken for a in other.assignments):
        prefix += "_"
    mapping = {n: n for n in circuit.inputs} | {a.name: prefix + a.name for a in other.assignments}
    moved = other.renamed(mapping)
    name = "difference"
    while name in taken or name in mapping.values():
        name += "_"
    diff = Assignment(name, ((output, 1), (moved.output, -1)), 0, Activation.LINEAR)
    return Circuit(circuit.inputs, circuit.assignments + moved.assignments + (diff,), (name,))
