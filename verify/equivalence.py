"""Equivalence of two networks: prove ``|N1(x) - N2(x)| <= eps`` on a domain, or refute it exactly.

Both networks become one *difference circuit*: the first network's assignments renamed ``n1_*``,
the second's ``n2_*`` (the prefixes grow until no renamed name equals an input name, and the two
prefixes can never produce the same name), neurons the two compute identically shared, and one
linear output ``d = N1 - N2``. The claim ``d = 0`` (``eps = 0``) or ``|d - 0| <= eps`` on that
circuit goes to the normal method chooser (:func:`verify.decide.decide`): exhaustive evaluation,
exact regions for 1-2 inputs, falsification then branch and bound with a certificate on boxes, z3
last; all under one budget. A refutation's
point is replayed exactly through the claim by the method that found it, and here once more through
both networks separately: ``N1(x) - N2(x)`` must equal the difference circuit's value and exceed
``eps`` in absolute value.

The networks must read the same inputs: the same names (in any order), or, when no name is shared,
the same number of inputs, matched by position (the second network's inputs take the first's
names). Each network must have exactly one output. Anything else is a
:class:`~symbolic.errors.ClaimError` naming what differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from symbolic import budget, errors
from symbolic.budget import Deadline
from symbolic.activation import RELU_AND_LINEAR
from symbolic.circuit import Activation, Assignment, Circuit, to_fraction
from verify.claim import Claim, Equality, Tolerance
from verify.decide import Config, decide
from verify.domain import Domain
from verify.result import Result, Verdict, exact_str
from verify.worst_case import MaxError, max_error

#: The exact worst-case distance is computed when the inputs are at most this many (region
#: enumeration) or the domain has at most ``Config.max_points`` points, within at most
#: ``DISTANCE_SHARE`` times the time deciding took (at least 1 s) and the command's budget.
DISTANCE_MAX_INPUTS = 2
DISTANCE_SHARE = 2.0


@dataclasses.dataclass(frozen=True)
class Equivalence:
    """The verdict on ``|N1 - N2| <= eps`` and the facts behind it.

    ``result`` is the decided claim on ``difference`` (its counterexample's network value is
    ``N1(x) - N2(x)``, its target 0). ``second`` is the second network with its inputs renamed to
    the first's when they were matched by position (``matching`` lists ``(old, new)``, empty when
    matched by name). At a refutation, ``first_value`` and ``second_value`` are ``N1(x)`` and
    ``N2(x)``, exact. ``distance`` is the exact ``sup |N1 - N2|`` when it was computed (see
    :data:`DISTANCE_MAX_INPUTS`), else None with ``distance_note`` saying why.
    """

    result: Result
    first: Circuit
    second: Circuit
    difference: Circuit
    eps: Fraction
    matching: tuple[tuple[str, str], ...] = ()
    first_value: Fraction | None = None
    second_value: Fraction | None = None
    distance: MaxError | None = None
    distance_note: str = ""

    @property
    def verdict(self) -> Verdict:
        return self.result.verdict

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.first.inputs

    def statement(self) -> str:
        """``N1(x1, x2) = N2(x1, x2)`` or ``|N1(x1, x2) - N2(x1, x2)| <= 1/10``."""
        args = ", ".join(self.inputs)
        if self.eps == 0:
            return f"N1({args}) = N2({args})"
        return f"|N1({args}) - N2({args})| <= {self.eps}"

    def to_json(self) -> dict:
        """The facts as JSON-ready values (exact numbers as strings)."""
        r, cex = self.result, self.result.counterexample
        out = {
            "statement": self.statement(),
            "verdict": r.verdict.value,
            "method": r.method,
            "elapsed_s": round(r.elapsed_s, 6),
            "domain": r.claim.domain.describe(self.inputs),
            "tolerance": str(self.eps),
            "inputs": list(self.inputs),
            "inputs_matched_by_position": dict(self.matching) or None,
            "neurons": [len(self.first.neurons), len(self.second.neurons)],
            "counterexample": None if cex is None else {k: exact_str(v) for k, v in cex.point.items()},
            "n1_value": None if self.first_value is None else exact_str(self.first_value),
            "n2_value": None if self.second_value is None else exact_str(self.second_value),
            "difference_value": None if cex is None else exact_str(cex.network_value),
            "reason": r.reason,
            "evidence": r.evidence,
            "certificate": r.certificate is not None,
        }
        if r.stats is not None:
            out["stats"] = dict(r.stats)
        d = self.distance
        out.update({
            "max_distance": None if d is None or d.value is None else str(d.value),
            "max_distance_at": None if d is None or d.at is None else {k: str(v) for k, v in d.at.items()},
            "max_distance_attained": None if d is None or d.value is None else d.attained,
            "max_distance_bounds": None if d is None or d.value is not None else
            [None if d.lower is None else str(d.lower), None if d.upper is None else str(d.upper)],
            "max_distance_method": None if d is None else d.method,
            "max_distance_s": None if d is None else round(d.elapsed_s, 6),
            "max_distance_note": self.distance_note or (d.note or d.reason if d is not None else "") or None,
        })
        return out


def match_inputs(first: Circuit, second: Circuit) -> tuple[Circuit, tuple[tuple[str, str], ...]]:
    """``second`` over the inputs of ``first``: unchanged when both name the same inputs, renamed
    by position when they share no name and have as many inputs, else a ClaimError.

    >>> from symbolic.circuit import from_layers
    >>> net = from_layers([([[1, -1]], None), ([[1]], None)])
    >>> other, matching = match_inputs(net, net.renamed({'x1': 'a', 'x2': 'b'}))
    >>> other.inputs, matching
    (('x1', 'x2'), (('a', 'x1'), ('b', 'x2')))
    """
    for which, net in (("first", first), ("second", second)):
        if len(net.outputs) != 1:
            raise errors.ClaimError(
                f"the {which} network has {len(net.outputs)} outputs ({', '.join(net.outputs)}); "
                "equivalence compares networks with one output each")
        if net.parameters:
            raise errors.ClaimError(f"the {which} network has symbolic weights "
                                    f"({', '.join(map(str, net.parameters))}); equivalence needs numeric weights")
    if set(first.inputs) == set(second.inputs):
        return second, ()
    a, b = ", ".join(first.inputs) or "none", ", ".join(second.inputs) or "none"
    if len(first.inputs) != len(second.inputs):
        raise errors.ClaimError(f"the first network reads {len(first.inputs)} inputs ({a}), the second "
                                f"{len(second.inputs)} ({b}); equivalence needs the same inputs")
    shared = sorted(set(first.inputs) & set(second.inputs))
    if shared:
        raise errors.ClaimError(f"the networks share the input names {', '.join(shared)} but not the others "
                                f"(first: {a}; second: {b}); give both the same names (--inputs)")
    mapping = dict(zip(second.inputs, first.inputs))
    return second.renamed(mapping), tuple(mapping.items())


def difference_circuit(first: Circuit, second: Circuit, share: bool = True,
                       deadline: Deadline | None = None) -> Circuit:
    """One circuit computing ``N1(x) - N2(x)`` over the inputs of ``first`` (``second`` must read
    the same names): every assignment renamed apart, the output named ``d`` (``d_`` ... when an
    input is called ``d``), and only what ``d`` reads is kept.

    With ``share``, an assignment of ``second`` identical to one of ``first`` (same activation, bias
    and exact weights over sources already shared) is computed once, and linear outputs are folded
    into ``d`` (unless that would turn float64 weights into other rationals), so a neuron both
    networks read with the same weight drops out of ``d``. These are exact identities, and what
    makes a network and its edited copy decidable by bounds: a shared neuron's relaxation error
    cancels in ``N1 - N2`` instead of adding up.

    >>> from symbolic.circuit import from_layers
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])   # |x|
    >>> print(difference_circuit(net, from_layers([([[1]], None), ([[1]], None)])))  # |x| - R(x)
    inputs: x
    n1_h1_2 = R(-x)
    d = n1_h1_2
    outputs: d
    >>> print(difference_circuit(net, from_layers([([[1]], None), ([[1]], None)]), share=False))
    inputs: x
    n1_h1_1 = R(x)
    n1_h1_2 = R(-x)
    n1_y = n1_h1_1 + n1_h1_2
    n2_h1_1 = R(x)
    n2_y = n2_h1_1
    d = n1_y - n2_y
    outputs: d
    """
    if set(first.inputs) != set(second.inputs):
        raise errors.ClaimError(f"cannot compare a network over {', '.join(second.inputs)} with one over "
                                f"{', '.join(first.inputs)}")
    inputs = set(first.inputs)
    prefixes = []
    for stem, net in (("n1_", first), ("n2_", second)):
        prefix = stem  # n1_..., n1__...: never an input; never equal to an n2_... name
        while any(prefix + a.name in inputs for a in net.assignments):
            prefix += "_"
        prefixes.append(prefix)
    kept: list[Assignment] = []
    known: dict[tuple, str] = {}  # what an assignment of N1 computes -> its name
    one = {n: n for n in inputs}
    for a in first.assignments:
        budget.check(deadline, "building the difference circuit")
        one[a.name] = prefixes[0] + a.name
        kept.append(Assignment(one[a.name], tuple((one[s], c) for s, c in a.terms), a.bias, a.activation))
        known.setdefault(_key(kept[-1]), kept[-1].name)
    two = {n: n for n in inputs}  # a name of N2 -> its name in the difference (maybe one of N1's)
    for a in second.assignments:
        budget.check(deadline, "building the difference circuit")
        renamed = Assignment(prefixes[1] + a.name, tuple((two[s], c) for s, c in a.terms), a.bias, a.activation)
        shared = known.get(_key(renamed)) if share else None
        two[a.name] = shared or renamed.name
        if shared is None:
            kept.append(renamed)
    name = "d"
    while name in inputs:
        name += "_"
    outputs = ((one[first.output], 1), (two[second.output], -1))
    diff = Assignment(name, outputs, 0, Activation.LINEAR)
    if share:
        folded = _fold(name, outputs, {a.name: a for a in kept})
        if _all_float64([folded]) or not _all_float64(kept):  # keep float64 weights for the fast bounds
            diff = folded
    needed = set(diff.sources)
    for a in reversed(kept):
        if a.name in needed:
            needed.update(a.sources)
    return Circuit(first.inputs, (*(a for a in kept if a.name in needed), diff), (name,))


def _key(a: Assignment) -> tuple:
    """What an assignment computes, given the names of its sources: equal keys, equal values (its
    terms are already merged by source, zeros dropped)."""
    return a.activation, a.bias, frozenset(a.terms)


def _fold(name: str, outputs, assignments: Mapping[str, Assignment]) -> Assignment:
    """``d = o1 - o2`` with each linear output replaced by its own affine form: the weights of a
    shared neuron then meet in one coefficient (zero when both networks use the same one)."""
    terms: list[tuple[str, sp.Expr]] = []
    bias = sp.S.Zero
    for source, sign in outputs:
        a = assignments.get(source)
        if a is None or a.activation is not Activation.LINEAR:
            terms.append((source, sp.Integer(sign)))
            continue
        terms.extend((s, sign * c) for s, c in a.terms)
        bias += sign * a.bias
    return Assignment(name, tuple(terms), bias, Activation.LINEAR)


def _all_float64(assignments) -> bool:
    """Whether every weight and bias is exactly a float64."""
    def is_float(c: sp.Expr) -> bool:  # int / int is correctly rounded, so this is the nearest float
        return c.is_Rational and (int(c.p) / int(c.q)).as_integer_ratio() == (int(c.p), int(c.q))

    return all(is_float(c) for a in assignments for c in (a.bias, *(c for _, c in a.terms)))


def equivalence(first: Circuit, second: Circuit, domain: Domain, eps: object = 0,
                config: Config = Config(), *, distance: bool = True, share: bool = True) -> Equivalence:
    """Decide ``|N1(x) - N2(x)| <= eps`` for every ``x`` in ``domain`` (``eps = 0``: ``N1 = N2``).

    ``domain`` speaks of the first network's input names. The verdict is proved (regions, exact
    evaluation, z3, or branch and bound with a certificate in ``result.certificate``), refuted with
    a point replayed exactly through both networks, or unknown with the reason. With ``distance``
    and a bounded domain over at most :data:`DISTANCE_MAX_INPUTS` inputs (or a small finite one),
    the exact ``sup |N1 - N2|`` is added when cheap (see :data:`DISTANCE_SHARE`); it must agree with
    the verdict.
    ``share=False`` keeps the two networks apart (see :func:`difference_circuit`; for measuring).
    If the budget runs out while the difference circuit is built, before anything is decided,
    :class:`~symbolic.errors.TimeoutExpired` is raised (the CLI exits 3 with the reason).

    >>> from symbolic.circuit import from_layers
    >>> from verify.domain import RealInterval
    >>> box = Domain({'x': RealInterval(-1, 1)})
    >>> absolute = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    >>> relu = from_layers([([[1]], None), ([[1]], None)])
    >>> e = equivalence(absolute, relu, box, Fraction(1, 2))
    >>> e.verdict.value, e.first_value, e.second_value, e.distance.value
    ('refuted', Fraction(1, 1), Fraction(0, 1), Fraction(1, 1))
    >>> equivalence(absolute, relu, box, 1).verdict.value
    'proved'
    """
    eps = to_fraction(eps, "tolerance")
    if eps < 0:
        raise errors.ClaimError(f"tolerance {eps} is negative")
    config = config.started()
    second, matching = match_inputs(first, second)
    diff = difference_circuit(first, second, share, config.deadline)
    kind = Equality() if eps == 0 else Tolerance(eps)
    result = decide(Claim(diff, sp.S.Zero, domain, kind), config)
    first_value = second_value = None
    cex = result.counterexample
    if cex is not None:
        first_value, second_value = _values_at(first, second, cex.point, cex.network_value, eps)
    worst, note = None, ""
    if distance:
        worst, note = _distance(diff, domain, config, result.elapsed_s)
        if worst is not None and worst.value is not None:
            _agree(result.verdict, worst, eps)
    return Equivalence(result, first, second, diff, eps, matching, first_value, second_value, worst, note)


def _values_at(first: Circuit, second: Circuit, point: Mapping[str, Fraction], d: object,
               eps: Fraction) -> tuple[Fraction, Fraction]:
    """``N1(point)``, ``N2(point)``, checked against the difference circuit's value ``d``."""
    one, two = first.evaluate(point)[0], second.evaluate(point)[0]
    if one - two != d or not abs(one - two) > eps:
        shown = ", ".join(f"{k} = {v}" for k, v in point.items())
        raise errors.ReplayError(f"at {shown}: N1 = {one}, N2 = {two}, but the difference circuit gave {d} "
                                 f"(tolerance {eps})")
    return one, two


def _distance(diff: Circuit, domain: Domain, config: Config, spent: float) -> tuple[MaxError | None, str]:
    """The exact ``sup |N1 - N2|`` (of the difference circuit) when it is cheap, else ``(None, why not)``.
    Its budget is what is left, but at most ``DISTANCE_SHARE`` times what deciding took (>= 1 s)."""
    inputs = diff.inputs
    if any(a.activation not in RELU_AND_LINEAR for a in diff.assignments):
        return None, "not computed: sigmoid networks"
    if not domain.is_bounded(inputs):
        return None, "not computed: the domain is unbounded"
    if len(inputs) > DISTANCE_MAX_INPUTS and domain.size(inputs) > config.max_points:
        return None, f"not computed: more than {DISTANCE_MAX_INPUTS} inputs"
    left = min(config.deadline.remaining(), max(1.0, DISTANCE_SHARE * spent))
    if left <= 0:
        return None, "not computed: the budget is spent"
    return max_error(diff, sp.S.Zero, domain, max_points=config.max_points, max_cells=config.max_cells,
                     deadline=Deadline(left)), ""


def _agree(verdict: Verdict, worst: MaxError, eps: Fraction) -> None:
    """The worst-case distance and the verdict are two exact answers: they must agree."""
    if (verdict is Verdict.PROVED and worst.value > eps) or (verdict is Verdict.REFUTED and worst.value <= eps):
        raise errors.ReplayError(f"the verdict {verdict.value} disagrees with the exact worst-case distance "
                                 f"{worst.value} ({worst.method}) for tolerance {eps}")
