"""Simplify a ReLU network on a bounded domain, each step with an exact bound on how far it moves the output.

Four kinds of step, each justified by exact interval arithmetic over the domain's bounding box:

* ``dead``: a neuron whose pre-activation ``z`` is ``<= 0`` on the box is 0 there; removing it
  changes nothing. When ``z <= hi`` with a small ``hi > 0``, removing it moves the neuron's value
  by at most ``hi``.
* ``linear``: a neuron with ``z >= 0`` on the box equals ``z`` there (``R(z) = z``); when
  ``z >= lo`` with a small ``lo < 0``, replacing ``R(z)`` by ``z`` moves its value by at most ``-lo``.
* ``merge``: two neurons at the same depth whose normalised pre-activations ``z_i / s_i`` and
  ``z_j / s_j`` (``s`` the largest absolute weight or bias) nearly agree: ``s_j R(z_j / s_j)`` is
  replaced by ``s_j R(z_i / s_i)``, i.e. ``j``'s readers read ``i`` with their weight times
  ``s_j / s_i``; the value moves by at most ``s_j max |z_j / s_j - z_i / s_i|`` over the box.
* ``mirror``: the same when ``z_j / s_j`` nearly equals ``-z_i / s_i``: since ``R(-z) = R(z) - z``,
  ``s_j R(-z_i / s_i)`` is ``(s_j / s_i) (h_i - z_i)``; ``j``'s readers read ``i`` and a linear
  copy of ``z_i`` (a pair ``R(z)``, ``R(-z)`` rebuilds a linear function plus one ReLU).

A neuron's value moving by ``d`` moves the output by at most ``d`` times its *sensitivity*: the sum
over all paths to the output of the products of absolute weights (ReLUs are 1-Lipschitz). So each
step's ``cost`` is a proved bound on how far that step alone moves the network's output, and the
costs of the steps applied one after another (each computed on the network as it then was) add up
to a proved bound on ``|N - S|`` over the box (the triangle inequality). The exact distance is
measured afterwards anyway (:func:`verify.worst_case.max_error`); the costs choose the steps and
explain them.

>>> from symbolic.circuit import from_layers
>>> from verify.domain import Domain, RealInterval
>>> net = from_layers([([[1, 0], [1, Fraction(1, 100)], [-1, 1], [1, 1]], [0, 0, 0, -3]), ([[1, 1, -1, 5]], None)],
...                   inputs=['x1', 'x2'])
>>> box = Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(-1, 1)})
>>> out = simplify(net, box, budget=Fraction(1, 50))
>>> [(s.kind, s.neuron, s.into, str(s.cost)) for s in out.steps]
[('dead', 'h1_4', None, '0'), ('merge', 'h1_1', 'h1_2', '1/100')]
>>> [a.name for a in out.circuit.neurons]
['h1_2', 'h1_3']
>>> str(out.bound), out.home('h1_1'), out.home('h1_4')
('1/100', 'h1_2', None)
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from symbolic import errors
from symbolic.budget import Deadline
from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.exact import rational_of
from verify.domain import Domain
from verify.network_bounds import (Box, _weights, bounding_box, exact_range, intervals,  # noqa: F401 - re-exported
                                   sampled_ranges, sensitivities)

#: Pairs of neurons whose normalised pre-activations differ by more than this (largest absolute
#: difference of a weight or the bias) are not merge candidates: they compute different features.
MERGE_RADIUS = Fraction(1, 2)


@dataclasses.dataclass(frozen=True)
class Step:
    """One simplification: ``kind`` (dead / linear / merge) applied to ``neuron`` (merged ``into``
    another); ``change`` bounds how far the neuron's value moves on the box and ``cost`` how far
    the network's output moves (both exact, proved by interval arithmetic)."""

    kind: str
    neuron: str
    change: Fraction
    cost: Fraction
    into: str | None = None
    ratio: Fraction = Fraction(1)  # merge: j's readers read ``ratio * i``; mirror: ``ratio * (i - z_i)``

    def describe(self) -> str:
        what = {"dead": "removed (0 on the domain" if self.change == 0 else f"removed (at most {_short(self.change)}",
                "linear": "made linear (active on the whole domain" if self.change == 0
                else f"made linear (R(z) = z up to {_short(self.change)}",
                "merge": f"merged into {self.into} (values within {_short(self.change)}",
                "mirror": f"merged into {self.into} as its mirror image R(-z) = R(z) - z "
                          f"(values within {_short(self.change)}"}[self.kind]
        return f"{self.neuron}: {what}); output moves by at most {_short(self.cost)}"


@dataclasses.dataclass(frozen=True)
class Simplified:
    """The simplified network and the steps that made it; ``bound`` (the sum of the costs) is a
    proved bound on ``|N - circuit|`` over the domain's box."""

    original: Circuit
    circuit: Circuit
    steps: tuple[Step, ...]

    @property
    def bound(self) -> Fraction:
        return sum((s.cost for s in self.steps), Fraction(0))

    def fate(self) -> dict[str, Step | None]:
        """Each hidden neuron of the original: the step that removed, linearised or merged it
        (None: it survives as itself). A merge chain ends at a surviving neuron (see :meth:`home`)."""
        out: dict[str, Step | None] = {a.name: None for a in self.original.neurons}
        for step in self.steps:
            out[step.neuron] = step
        return out

    def home(self, neuron: str) -> str | None:
        """The surviving neuron that now carries ``neuron`` (itself, or the end of its merge chain);
        None when it was removed or made linear."""
        fate = self.fate()
        seen = set()
        while fate.get(neuron) is not None:
            step = fate[neuron]
            if step.kind not in ("merge", "mirror") or neuron in seen:
                return None
            seen.add(neuron)
            neuron = step.into
        return neuron


def _normalised(a: Assignment) -> tuple[dict[str, Fraction], Fraction]:
    """``(vector, scale)``: ``a``'s weights and bias (key "") divided by their largest absolute value."""
    weights, bias = _weights(a)
    vector = {**weights, "": bias}
    scale = max((abs(v) for v in vector.values()), default=Fraction(0))
    if scale == 0:
        return vector, Fraction(1)
    return {k: v / scale for k, v in vector.items()}, scale


#: A deeper neuron gets exact bounds when its sampled pre-activation keeps one sign up to this
#: fraction of its size (a candidate to remove or make linear cheaply).
NEARLY = 0.05


def candidate_steps(circuit: Circuit, box: Box, deadline: Deadline | None = None,
                    exact: dict | None = None, depth_only: int | None = None) -> list[Step]:
    """Every single step available on ``circuit`` with its exact cost, cheapest first (``exact``:
    see :func:`intervals`), only on the neurons at depth ``depth_only`` when given."""
    depth = circuit.depth()
    outputs = set(circuit.outputs)
    relus = [a for a in circuit.assignments if a.activation is Activation.RELU and a.name not in outputs
             and (depth_only is None or depth[a.name] == depth_only)]
    refine = set()
    if exact is not None and any(depth[a.name] > 1 for a in relus):
        sampled = sampled_ranges(circuit, box)
        for a in relus:
            lo, hi = sampled[a.name]
            size = max(abs(lo), abs(hi)) or 1.0
            if lo >= -NEARLY * size or hi <= NEARLY * size:
                refine.add(a.name)
    pre = intervals(circuit, box, exact, deadline, refine)
    sense = sensitivities(circuit)
    steps = []
    for a in relus:
        lo, hi = pre[a.name]
        s = sense.get(a.name, Fraction(0))
        steps.append(Step("dead", a.name, max(hi, Fraction(0)), s * max(hi, Fraction(0))))
        if hi > 0:
            steps.append(Step("linear", a.name, max(-lo, Fraction(0)), s * max(-lo, Fraction(0))))
    normal = {a.name: _normalised(a) for a in relus}
    magnitude = {name: max(abs(pre[name][0]), abs(pre[name][1])) for name in pre}
    near = _near_pairs(relus, normal, depth)
    for i, a in enumerate(relus):
        if deadline is not None:
            deadline.check("simplifying the network (merge candidates)")
        vi, si = normal[a.name]
        for b in relus[i + 1:]:
            if (a.name, b.name) not in near:
                continue
            vj, sj = normal[b.name]
            keys = set(vi) | set(vj)
            for kind, sign in (("merge", 1), ("mirror", -1)):
                diffs = {k: abs(vi.get(k, 0) - sign * vj.get(k, 0)) for k in keys}
                if max(diffs.values()) > MERGE_RADIUS:
                    continue
                gap = diffs.pop("") + sum(d * magnitude[k] for k, d in diffs.items() if d)  # max |z_j/s_j -+ z_i/s_i|
                for keep, drop, s_keep, s_drop in ((a.name, b.name, si, sj), (b.name, a.name, sj, si)):
                    change = s_drop * gap
                    steps.append(Step(kind, drop, change, sense.get(drop, Fraction(0)) * change,
                                      into=keep, ratio=s_drop / s_keep))
    steps.sort(key=lambda st: (st.cost, st.kind != "dead", st.neuron))
    return steps


def _near_pairs(relus, normal, depth) -> set[tuple[str, str]]:
    """Pairs at the same depth whose normalised vectors may agree (or be opposite) within
    :data:`MERGE_RADIUS`: a float prefilter with a margin far above its rounding, so every pair it
    drops is exactly out of range too; the exact test follows for the pairs it keeps."""
    import numpy as np

    keys = sorted({k for v, _ in normal.values() for k in v})
    index = {k: n for n, k in enumerate(keys)}
    names = [a.name for a in relus]
    if not names:
        return set()
    vectors = np.zeros((len(names), len(keys)))
    for row, name in enumerate(names):
        for k, value in normal[name][0].items():
            vectors[row, index[k]] = float(value)
    same = np.abs(vectors[:, None, :] - vectors[None, :, :]).max(axis=2, initial=0.0)
    opposite = np.abs(vectors[:, None, :] + vectors[None, :, :]).max(axis=2, initial=0.0)
    close = np.minimum(same, opposite) <= float(MERGE_RADIUS) + 1e-9
    levels = np.array([depth[n] for n in names])
    close &= levels[:, None] == levels[None, :]
    return {(names[i], names[j]) for i, j in zip(*np.nonzero(np.triu(close, 1)))}


def apply_step(circuit: Circuit, step: Step) -> Circuit:
    """``circuit`` with ``step`` done (the removed neuron's readers rewired)."""
    names = set(circuit.inputs) | set(circuit.by_name)
    linear = None
    if step.kind == "mirror":  # a linear copy of the kept neuron's pre-activation, placed after it
        linear = f"{step.into}_z"
        while linear in names:
            linear += "_"
    ratio = rational_of(step.ratio)
    assignments = []
    for a in circuit.assignments:
        if a.name == step.neuron:
            if step.kind == "linear":  # the neuron stays, as a linear assignment, where it was
                assignments.append(dataclasses.replace(a, activation=Activation.LINEAR))
            continue
        if step.neuron in a.sources and step.kind != "linear":
            terms = []
            for s, c in a.terms:
                if s != step.neuron:
                    terms.append((s, c))
                elif step.kind in ("merge", "mirror"):
                    terms.append((step.into, c * ratio))
                    if linear is not None:
                        terms.append((linear, -c * ratio))
            a = Assignment(a.name, tuple(terms), a.bias, a.activation)
        assignments.append(a)
        if a.name == step.into and linear is not None:
            assignments.append(Assignment(linear, a.terms, a.bias, Activation.LINEAR))
    return dataclasses.replace(circuit, assignments=tuple(assignments))


def inline_linear(circuit: Circuit) -> Circuit:
    """``circuit`` with every linear assignment that is not an output substituted into its readers
    (the same function; neurons keep their names, so a neuron's inputs are what it really reads).

    >>> from symbolic.circuit import from_layers
    >>> net = from_layers([([[2], [-1]], [0, 1]), ([[1, 1]], None)])
    >>> net = apply_step(net, Step("linear", "h1_1", Fraction(0), Fraction(0)))
    >>> print(inline_linear(net))
    inputs: x
    h1_2 = R(1 - x)
    y = h1_2 + 2*x
    outputs: y
    """
    outputs = set(circuit.outputs)
    env: dict[str, tuple[dict[str, object], object]] = {}  # inlined name -> (terms, bias)
    kept = []
    for a in circuit.assignments:
        terms: dict[str, object] = {}
        bias = a.bias
        for source, c in a.terms:
            if source in env:
                sub_terms, sub_bias = env[source]
                bias = bias + c * sub_bias
                for name, d in sub_terms.items():
                    terms[name] = terms.get(name, 0) + c * d
            else:
                terms[source] = terms.get(source, 0) + c
        if a.activation is Activation.LINEAR and a.name not in outputs:
            env[a.name] = (terms, bias)
            continue
        kept.append(Assignment(a.name, tuple(terms.items()), bias, a.activation))
    return dataclasses.replace(circuit, assignments=tuple(kept))


def simplify(circuit: Circuit, domain: Domain | Box, budget: Fraction, deadline: Deadline | None = None,
             max_rounds: int = 10_000, exact: dict | None = None, start: Simplified | None = None) -> Simplified:
    """Apply the cheapest steps, one at a time and re-costed on the network as it then is, while
    the costs together stay within ``budget`` (steps of cost 0 always apply). ``exact``: a cache
    dict to bound deeper neurons by their exact ranges (see :func:`intervals`). The layers are
    simplified in order, shallowest first, so a deeper neuron's exact range is computed once its
    sources are final. ``start``: the result of a smaller budget on the same network, continued."""
    box = domain if not isinstance(domain, Domain) else bounding_box(domain, circuit.inputs)
    budget = Fraction(budget)
    if budget < 0:
        raise errors.ClaimError(f"the simplification budget must be >= 0, got {budget}")
    current, done, spent = inline_linear(circuit), [], Fraction(0)
    if start is not None:
        if start.original is not circuit or start.bound > budget:
            raise ValueError("start must simplify the same network within a smaller budget")
        current, done, spent = start.circuit, list(start.steps), start.bound
    rounds = 0
    for level in range(1, max(circuit.depth().values(), default=0) + 1):  # shallow layers first
        while rounds < max_rounds:
            rounds += 1
            if deadline is not None:
                deadline.check("simplifying the network")
            chosen = next((s for s in candidate_steps(current, box, deadline, exact, level)
                           if spent + s.cost <= budget), None)
            if chosen is None:
                break
            current = inline_linear(apply_step(current, chosen))
            done.append(chosen)
            spent += chosen.cost
    return Simplified(circuit, current, tuple(done))


def _short(value: Fraction) -> str:
    if value == 0:
        return "0"
    if value.denominator == 1 or len(str(value)) <= 12:
        return str(value)
    return f"{float(value):.3g}"
