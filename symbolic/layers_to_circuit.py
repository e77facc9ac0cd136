"""Circuits written neuron by neuron (:class:`Builder`) or layer by layer (:func:`from_layers`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from symbolic import errors
from symbolic.activation import Activation
from symbolic.assignment import Assignment
from symbolic.circuit import Circuit
from symbolic.exact import to_exact


class Builder:
    """Write a circuit neuron by neuron; names default to ``h1, h2, ...``.

    >>> b = Builder(['x1', 'x2'])
    >>> h = b.relu({'x1': 1, 'x2': -1})
    >>> y = b.linear({'x1': 1, h: -1}, name='y')
    >>> b.build([y]).to_expr()
    x1 - R(x1 - x2)
    """

    def __init__(self, inputs: Iterable[str]):
        self.inputs = tuple(inputs)
        self.assignments: list[Assignment] = []
        self._taken = set(self.inputs)
        self._counter = 0

    def fresh(self, prefix: str = "h") -> str:
        """A name not used yet."""
        while True:
            self._counter += 1
            name = f"{prefix}{self._counter}"
            if name not in self._taken:
                return name

    def add(
        self,
        weights: Mapping[str, object],
        bias: object = 0,
        activation: Activation = Activation.RELU,
        name: str | None = None,
    ) -> str:
        """Append ``name = activation(weights . sources + bias)``; return the name."""
        name = name or self.fresh()
        self.assignments.append(Assignment(name, tuple(weights.items()), bias, activation))
        self._taken.add(name)
        return name

    def relu(self, weights: Mapping[str, object], bias: object = 0, name: str | None = None) -> str:
        """Append a ReLU neuron."""
        return self.add(weights, bias, Activation.RELU, name)

    def linear(self, weights: Mapping[str, object], bias: object = 0, name: str | None = None) -> str:
        """Append a linear (activation-free) assignment."""
        return self.add(weights, bias, Activation.LINEAR, name)

    def dense(
        self,
        sources: Sequence[str],
        weight_rows: Sequence[Sequence[object]],
        biases: Sequence[object] | None = None,
        activation: Activation = Activation.RELU,
        prefix: str = "h",
        names: Sequence[str] | None = None,
    ) -> list[str]:
        """A dense layer ``activation(W @ sources + b)`` (``W`` of shape [out, in]).

        Concatenation is a list of names (``a + b``); a skip connection is a dense layer whose
        sources include earlier names.
        """
        if biases is not None and len(biases) != len(weight_rows):
            raise errors.InvalidCircuitError(
                f"layer has {len(weight_rows)} rows of weights but {len(biases)} biases"
            )
        out = []
        for i, row in enumerate(weight_rows):
            if len(row) != len(sources):
                raise errors.InvalidCircuitError(
                    f"weight row {i} has {len(row)} entries for {len(sources)} sources"
                )
            bias = 0 if biases is None else biases[i]
            name = names[i] if names is not None else self.fresh(prefix)
            out.append(self.add(dict(_pairs(sources, row)), bias, activation, name))
        return out

    def build(self, outputs: Sequence[str]) -> Circuit:
        """The finished circuit with the given outputs."""
        return Circuit(self.inputs, tuple(self.assignments), tuple(outputs))


def _pairs(sources: Sequence[str], row: Sequence[object]):
    merged: dict[str, object] = {}
    for s, w in zip(sources, row):
        merged[s] = to_exact(merged.get(s, 0), "weight") + to_exact(w, f"weight of {s}")
    return merged.items()


def from_layers(
    layers: Sequence[tuple[Sequence[Sequence[object]], Sequence[object] | None]],
    inputs: Sequence[str] | None = None,
    activations: Sequence[Activation] | None = None,
    outputs: Sequence[str] | None = None,
) -> Circuit:
    """A dense feed-forward net from ``[(W1, b1), (W2, b2), ...]`` (``b`` may be ``None``).

    ReLU follows every layer but the last unless ``activations`` says otherwise. Inputs default
    to ``x`` (one input) or ``x1..xn``; outputs to ``y`` or ``y1..ym``; hidden neurons are
    named ``h{layer}_{index}`` (``hh{layer}_{index}`` if an input or output is named like that).

    >>> from_layers([([[1], [-1]], None), ([[1, -1]], None)]).to_expr()
    -R(-x) + R(x)
    """
    if not layers:
        raise errors.InvalidCircuitError("a network needs at least one layer")
    width = len(layers[0][0][0]) if layers[0][0] else 0
    inputs = tuple(inputs) if inputs is not None else default_names("x", width)
    if len(inputs) != width:
        raise errors.InvalidCircuitError(f"first layer takes {width} inputs, {len(inputs)} named")
    if activations is None:
        activations = [Activation.RELU] * (len(layers) - 1) + [Activation.LINEAR]
    if len(activations) != len(layers):
        raise errors.InvalidCircuitError(f"{len(activations)} activations for {len(layers)} layers")
    builder = Builder(inputs)
    current = list(inputs)
    stem = "h"  # hidden names h{layer}_{index}, or hh... when an input or output has that shape
    while any(re.fullmatch(re.escape(stem) + r"\d+_\d+", n) for n in (*inputs, *(outputs or ()))):
        stem += "h"
    for k, ((weights, biases), activation) in enumerate(zip(layers, activations), start=1):
        last = k == len(layers)
        count = len(weights)
        if last:
            names = list(outputs) if outputs is not None else list(_default_outputs(inputs, count))
            if len(names) != count:
                raise errors.InvalidCircuitError(f"last layer has {count} outputs, {len(names)} named")
        else:
            names = [f"{stem}{k}_{i}" for i in range(1, count + 1)]
        current = builder.dense(current, weights, biases, activation, names=names)
    return builder.build(current)


def _default_outputs(inputs: Sequence[str], count: int) -> tuple[str, ...]:
    """``y``/``y1..ym``, or ``y_out``/``y_out1..`` when an input already has one of those names."""
    stem = "y"
    while set(default_names(stem, count)) & set(inputs):
        stem += "_out"
    return default_names(stem, count)


def default_names(stem: str, count: int) -> tuple[str, ...]:
    """``('x',)`` for one, ``('x1', ..., 'xn')`` for several.

    >>> default_names('x', 1), default_names('x', 3)
    (('x',), ('x1', 'x2', 'x3'))
    """
    if count == 1:
        return (stem,)
    return tuple(f"{stem}{i}" for i in range(1, count + 1))
