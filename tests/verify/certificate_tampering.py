"""Tamper tests' tools: every single-field change of a certificate, and the toolkit's own objects
rebuilt from a certificate's text (sympy, symbolic.circuit), independent of the checkers.

>>> [what for what, _ in mutations({"kind": "x", "a": ["1/2", True]})][:6]
['certificate: drop a', 'a: drop [0]', 'a: drop [1]', 'a: duplicate [0]', 'a: swap [0] and [1]', 'a.0: 1/2 -> 3/2']
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from fractions import Fraction

import sympy as sp

from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.relu import ReLU, sym
from verify.output_set import Atom, OutputSet

_RATIONAL = re.compile(r"-?[0-9]+(/[0-9]+)?")
SKIP = ("format", "version", "kind", "source", "stats")  # not part of what a checker checks


def _nudges(text: str) -> list[str]:
    v = Fraction(text)
    out = [v + 1, v - 1, v + Fraction(1, 1000), v - Fraction(1, 1000), v + Fraction(1, 10**12)]
    if v != 0:
        out += [-v, v / 2, v * 2, Fraction(0)]
    return [str(x) for x in dict.fromkeys(out) if x != v]


def _set(root, path, value):
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _get(root, path):
    for key in path:
        root = root[key]
    return root


def mutations(cert: dict, skip: tuple[str, ...] = SKIP, words: tuple[str, ...] = ()) -> Iterator[tuple[str, dict]]:
    """``(description, mutated copy)``: each number nudged, each word swapped for another word of
    the certificate (or of ``words``), each boolean flipped, each ``pattern`` character flipped, each
    integer moved, each list item dropped, the first duplicated, the first two swapped, each object
    key dropped; ``skip`` lists top-level fields left alone."""
    found_words = set(words)
    stack = [((), cert)]
    paths = []
    while stack:
        path, node = stack.pop()
        paths.append((path, node))
        if isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items() if path or k not in skip)
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
        elif isinstance(node, str) and not _RATIONAL.fullmatch(node):
            found_words.add(node)
    paths.sort(key=lambda item: [str(k) for k in item[0]])
    for path, node in paths:
        where = ".".join(str(k) for k in path) or "certificate"

        def changed(value, what):
            out = copy.deepcopy(cert) if path else copy.deepcopy(value)
            if path:
                _set(out, path, value)
            return f"{where}: {what}", out

        if isinstance(node, dict):
            for k in node:
                if not path and k in skip:
                    continue
                value = dict(node)
                del value[k]
                yield changed(value, f"drop {k}")
        elif isinstance(node, list):
            for i in range(len(node)):
                yield changed(node[:i] + node[i + 1:], f"drop [{i}]")
            if node:
                yield changed(node + [copy.deepcopy(node[0])], "duplicate [0]")
            if len(node) > 1 and node[0] != node[1]:
                yield changed([node[1], node[0]] + node[2:], "swap [0] and [1]")
        elif isinstance(node, bool):
            yield changed(not node, "flip")
        elif isinstance(node, int):
            for v in (node + 1, node - 1, 0):
                if v != node and v >= 0:
                    yield changed(v, f"{node} -> {v}")
        elif isinstance(node, str) and path and path[-1] == "pattern":
            for i, c in enumerate(node):
                yield changed(node[:i] + ("1" if c == "0" else "0") + node[i + 1:], f"flip bit {i}")
        elif isinstance(node, str) and _RATIONAL.fullmatch(node):
            for v in _nudges(node):
                yield changed(v, f"{node} -> {v}")
        elif isinstance(node, str):
            for w in sorted(found_words - {node})[:12]:
                yield changed(w, f"{node!r} -> {w!r}")


WRONG_TYPES = (None, 1, 10**30, "x", "", [], {}, True, [1, 2], {"a": 1}, ["var"], ["add"], "1/-2")


def retyped(cert: dict) -> Iterator[tuple[str, dict]]:
    """Each value (at any depth) replaced by each of :data:`WRONG_TYPES`: a checker must refuse
    these with CertificateError or reject them, never crash."""
    stack = [((), cert)]
    while stack:
        path, node = stack.pop()
        if path:
            for value in WRONG_TYPES:
                if type(value) is type(node) and value == node:
                    continue
                out = copy.deepcopy(cert)
                _set(out, path, copy.deepcopy(value))
                yield f"{'.'.join(map(str, path))} = {value!r}", out
        if isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))


def get(cert: dict, path: str):
    """The value at a dotted path (integers index lists)."""
    return _get(cert, [int(k) if k.isdigit() else k for k in path.split(".")])


_OPS = {"add": sp.Add, "mul": sp.Mul, "relu": ReLU, "abs": sp.Abs, "min": sp.Min, "max": sp.Max, "mod": sp.Mod,
        "floor": sp.floor, "ceiling": sp.ceiling, "and": sp.And, "or": sp.Or, "not": sp.Not, "<": sp.Lt,
        "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}


def to_sympy(tree):
    """A certificate expression as sympy (for the toolkit's evaluation)."""
    if isinstance(tree, bool):
        return sp.true if tree else sp.false
    if isinstance(tree, str):
        return sp.Rational(Fraction(tree))
    op, args = tree[0], tree[1:]
    if op == "var":
        return sym(args[0])
    if op == "pow":
        return to_sympy(args[0]) ** int(args[1])
    values = [to_sympy(a) for a in args]
    if op == "piecewise":
        return sp.Piecewise(*zip(values[::2], values[1::2]))
    if op == "heaviside":
        return sp.Heaviside(values[0], values[1] if len(values) == 2 else sp.nan)
    return _OPS[op](*values)


def circuit_of(net) -> Circuit:
    """A certificate's network as a toolkit Circuit."""
    acts = {"relu": Activation.RELU, "linear": Activation.LINEAR, "sigmoid": Activation.SIGMOID}
    return Circuit(net["inputs"], [Assignment(a["name"], tuple((s, sp.Rational(Fraction(w))) for s, w in a["terms"]),
                                              sp.Rational(Fraction(a["bias"])), acts[a["activation"]])
                                   for a in net["assignments"]], net["outputs"])


def output_set_of(unsafe) -> OutputSet:
    """A certificate's unsafe set as a toolkit OutputSet."""
    return OutputSet(tuple(tuple(Atom(tuple((n, Fraction(v)) for n, v in a["coeffs"].items()), a["op"],
                                      Fraction(a["rhs"])) for a in d) for d in unsafe))
