"""Lower a ReLU/linear circuit with numeric weights to levelled float64 matrices plus the exact data."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fractions import Fraction

import flint
import numpy as np

from symbolic import errors
from symbolic.activation import RELU_AND_LINEAR
from symbolic.circuit import Activation, Circuit
from symbolic.exact import fmpq_of, fraction_of


@dataclasses.dataclass(frozen=True, eq=False)
class Block:
    """The weights with which one level reads one earlier level (level 0 = the inputs).

    ``weights`` is the float64 nearest to each exact weight and ``radius`` an upper bound of
    ``|exact - weights|`` (all zeros when every weight is a float64, e.g. float32 weights);
    ``exact`` holds the weights as an exact ``flint.fmpq_mat`` of shape (this level, source level).
    """

    source: int
    weights: np.ndarray
    radius: np.ndarray
    exact: flint.fmpq_mat


@dataclasses.dataclass(frozen=True, eq=False)
class Level:
    """The assignments whose longest path from an input has ``index`` steps, read through blocks."""

    index: int
    names: tuple[str, ...]
    relu: np.ndarray           # bool per assignment: ReLU (True) or linear (False)
    blocks: tuple[Block, ...]
    bias: np.ndarray
    bias_radius: np.ndarray
    bias_exact: tuple[Fraction, ...]

    @property
    def size(self) -> int:
        return len(self.names)


@dataclasses.dataclass(frozen=True, eq=False)
class Layers:
    """A circuit as levels: level k holds the assignments whose sources all lie in levels < k and
    at least one in level k - 1 (so skip connections are blocks reading further down).

    ``outputs[i] = (level, index)`` locates output i (level 0: an input). ``position[name]`` does
    the same for every name. ``exact_floats`` tells whether every weight and bias is a float64.

    >>> from symbolic.circuit import from_layers
    >>> layers = circuit_to_layers(from_layers([([[1, 2], [3, 4]], [0, 1]), ([[1, -1]], None)]))
    >>> [lv.names for lv in layers.levels], layers.outputs, layers.exact_floats
    ([('h1_1', 'h1_2'), ('y',)], ((2, 0),), True)
    """

    inputs: tuple[str, ...]
    levels: tuple[Level, ...]        # levels[k - 1] is level k
    outputs: tuple[tuple[int, int], ...]
    position: dict[str, tuple[int, int]]
    exact_floats: bool

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def level(self, k: int) -> Level:
        """Level ``k`` (1-based; level 0 is the inputs and has no Level object)."""
        return self.levels[k - 1]

    def width(self, k: int) -> int:
        """Number of variables in level ``k`` (``k = 0``: the inputs)."""
        return self.n_inputs if k == 0 else self.levels[k - 1].size

    @property
    def relu_names(self) -> tuple[str, ...]:
        """Every ReLU assignment, level by level."""
        return tuple(n for lv in self.levels for n, r in zip(lv.names, lv.relu) if r)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Float64 outputs for a batch of inputs ``x`` of shape (B, n): a guide, never a verdict.

        >>> from symbolic.circuit import from_layers
        >>> circuit_to_layers(from_layers([([[1], [-1]], None), ([[1, 1]], None)])).forward(np.array([[-2.0]]))
        array([[2.]])
        """
        values = self.forward_all(x)
        return np.stack([values[k][:, i] for k, i in self.outputs], axis=1)

    def forward_all(self, x: np.ndarray) -> list[np.ndarray]:
        """Values of every level (post-activation), level 0 being ``x`` itself."""
        values = [np.asarray(x, dtype=np.float64)]
        for lv in self.levels:
            pre = np.broadcast_to(lv.bias, (len(values[0]), lv.size)) + sum(
                (values[b.source] @ b.weights.T for b in lv.blocks), np.zeros((len(values[0]), lv.size)))
            values.append(np.where(lv.relu, np.maximum(pre, 0.0), pre))
        return values


def _nearest(values: Sequence[Fraction]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest float64 of each rational and a bound on the rounding error (0 when exact)."""
    mid = np.array([float(v) for v in values], dtype=np.float64)
    exact = np.array([Fraction(m) == v for m, v in zip(mid.tolist(), values)], dtype=bool)
    radius = np.where(exact, 0.0, np.spacing(np.abs(mid)))
    return mid, radius


def circuit_to_layers(circuit: Circuit) -> Layers:
    """Level a ReLU/linear circuit: each assignment's level is 1 + the max level of its sources.

    Raises :class:`~symbolic.errors.InvalidCircuitError` for symbolic weights or sigmoids.
    """
    if circuit.parameters:
        raise errors.InvalidCircuitError("circuit_to_layers needs numeric weights, not parameters")
    position: dict[str, tuple[int, int]] = {n: (0, i) for i, n in enumerate(circuit.inputs)}
    members: list[list] = []
    for a in circuit.assignments:
        if a.activation not in RELU_AND_LINEAR:
            raise errors.InvalidCircuitError(f"{a.name} is a {a.activation.value} neuron: only ReLU and linear")
        k = 1 + max((position[s][0] for s in a.sources), default=0)
        while len(members) < k:
            members.append([])
        position[a.name] = (k, len(members[k - 1]))
        members[k - 1].append(a)
    levels, all_exact = [], True
    for k, group in enumerate(members, start=1):
        sources = sorted({position[s][0] for a in group for s in a.sources})
        blocks = []
        for src in sources:
            rows = [[Fraction(0)] * _width(position, members, circuit, src) for _ in group]
            for r, a in enumerate(group):
                for s, c in a.terms:
                    lvl, idx = position[s]
                    if lvl == src:
                        rows[r][idx] += fraction_of(c)
            flat = [v for row in rows for v in row]
            mid, rad = _nearest(flat)
            all_exact &= not rad.any()
            shape = (len(group), len(rows[0]))
            blocks.append(Block(src, mid.reshape(shape), rad.reshape(shape),
                                flint.fmpq_mat(shape[0], shape[1], [fmpq_of(v) for v in flat])))
        bias = [fraction_of(a.bias) for a in group]
        b_mid, b_rad = _nearest(bias)
        all_exact &= not b_rad.any()
        relu = np.array([a.activation is Activation.RELU for a in group], dtype=bool)
        levels.append(Level(k, tuple(a.name for a in group), relu, tuple(blocks), b_mid, b_rad, tuple(bias)))
    outputs = tuple(position[o] for o in circuit.outputs)
    return Layers(tuple(circuit.inputs), tuple(levels), outputs, position, all_exact)


def _width(position, members, circuit, level: int) -> int:
    return len(circuit.inputs) if level == 0 else len(members[level - 1])
