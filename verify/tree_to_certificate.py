"""The branch-and-bound split tree, and its rendering as a certificate (docs/certificates.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction

from symbolic.circuit import Circuit
from symbolic.exact import fraction_of


def exact_text(value) -> str:
    """An exact rational as ``"p/q"`` or ``"p"`` (floats are converted exactly).

    >>> exact_text(0.375), exact_text(Fraction(-2, 1)), exact_text(3)
    ('3/8', '-2', '3')
    """
    return str(Fraction(value))


@dataclasses.dataclass(frozen=True)
class Proof:
    """One disjunct's multipliers: ``mu`` (atom index -> value), ``beta`` and ``alpha`` (neuron
    name -> value); values are floats (dyadic rationals, written exactly) or Fractions."""

    mu: tuple[tuple[int, float], ...]
    beta: tuple[tuple[str, float], ...] = ()
    alpha: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict:
        out = {"mu": {str(i): exact_text(v) for i, v in self.mu if v != 0}}
        if any(v != 0 for _, v in self.beta):
            out["beta"] = {n: exact_text(v) for n, v in self.beta if v != 0}
        if self.alpha:
            out["alpha"] = {n: exact_text(v) for n, v in self.alpha}
        return out


class Tree:
    """Nodes by integer id (0 is the root): each is open, split (input at a point, or a ReLU) or a
    leaf (one Proof per disjunct, or ``"empty"``).

    >>> t = Tree()
    >>> lo, hi = t.split(0, ("input", "x", 0.5))
    >>> t.close(lo, [Proof(((0, 1.0),))]); t.close(hi, "empty")
    >>> t.to_json()
    {'split': {'input': 'x', 'at': '1/2'}, 'children': [{'leaf': [{'mu': {'0': '1'}}]}, {'leaf': 'empty'}]}
    """

    def __init__(self) -> None:
        self.splits: list[tuple | None] = [None]
        self.children: list[tuple[int, int] | None] = [None]
        self.leaves: dict[int, object] = {}
        self.depth: list[int] = [0]

    def split(self, node: int, how: tuple) -> tuple[int, int]:
        """Split ``node``: ``("input", name, at)`` (children: <= at, >= at) or ``("relu", name)``
        (children: active, inactive). Returns the two new ids."""
        first = len(self.splits)
        for _ in range(2):
            self.splits.append(None)
            self.children.append(None)
            self.depth.append(self.depth[node] + 1)
        self.splits[node] = how
        self.children[node] = (first, first + 1)
        return first, first + 1

    def close(self, node: int, proofs) -> None:
        """Make ``node`` a leaf with ``proofs`` (a list of Proof) or ``"empty"``."""
        self.leaves[node] = proofs

    @property
    def size(self) -> int:
        return len(self.splits)

    @property
    def max_depth(self) -> int:
        return max(self.depth[n] for n in self.leaves) if self.leaves else 0

    def to_json(self) -> dict:
        """The NODE object of the root (iteratively: deep trees do not recurse)."""
        out: dict[int, dict] = {}
        order, stack = [], [0]
        while stack:
            node = stack.pop()
            order.append(node)
            if self.children[node] is not None:
                stack.extend(self.children[node])
        for node in reversed(order):
            if node in self.leaves:
                proofs = self.leaves[node]
                out[node] = {"leaf": proofs if proofs == "empty" else [p.to_json() for p in proofs]}
            elif self.children[node] is not None:
                how = self.splits[node]
                split = {"input": how[1], "at": exact_text(how[2])} if how[0] == "input" else {"relu": how[1]}
                a, b = self.children[node]
                out[node] = {"split": split, "children": [out.pop(a), out.pop(b)]}
            else:
                raise ValueError(f"node {node} is neither split nor closed")
        return out[0]


def network_json(circuit: Circuit) -> dict:
    """The certificate's ``network`` object of a ReLU/linear circuit with rational weights."""
    return {
        "inputs": list(circuit.inputs),
        "assignments": [
            {"name": a.name, "terms": [[s, exact_text(fraction_of(c))] for s, c in a.terms],
             "bias": exact_text(fraction_of(a.bias)),
             "activation": a.activation.value}
            for a in circuit.assignments],
        "outputs": list(circuit.outputs),
    }


def certificate(circuit: Circuit, box: Sequence[tuple[Fraction, Fraction]], unsafe: Sequence[Sequence],
                tree: Tree, source: Mapping | None, stats: Mapping) -> dict:
    """The whole certificate object (format version 1, kind "bab")."""
    return {
        "format": "mathcircuits-certificate",
        "version": 1,
        "kind": "bab",
        "network": network_json(circuit),
        "box": {n: [exact_text(lo), exact_text(hi)] for n, (lo, hi) in zip(circuit.inputs, box)},
        "unsafe": [[{"coeffs": {n: exact_text(c) for n, c in atom.coeffs}, "op": atom.op,
                     "rhs": exact_text(atom.rhs)} for atom in disjunct] for disjunct in unsafe],
        "tree": tree.to_json(),
        "source": dict(source or {}),
        "stats": dict(stats),
    }
