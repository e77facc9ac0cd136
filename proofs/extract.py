"""Extract a small exact circuit ``C`` from a trained network ``N``: prove ``C = f`` and the exact ``|N - C|``.

The stages, each from its own module (the shape of :mod:`proofs.check`):

1. simplify ``N`` on the domain's box (:func:`verify.simplification.simplify`): remove neurons that
   are dead there, make linear those active everywhere, merge neurons (or mirror pairs) whose
   normalised pre-activations nearly agree; every step carries an exact bound on how far it moves
   the output, and the steps taken stay within a budget;
2. round what is left and decide the claim on it (:func:`verify.rounding.round_and_prove`); the
   budgets are tried smallest first, and the first rounding that satisfies the claim (with at most
   ``max_neurons`` ReLUs) is kept;
3. tidy ``C`` (neurons dead or always active on the domain become nothing or linear, the same
   function there), canonicalise it, and decide the claim on that final ``C`` (its certificate);
4. the exact worst-case distance ``delta = max |N - C|`` (:func:`verify.worst_case.max_error`) and
   a proof of ``|N - C| <= delta`` with its certificate (:func:`verify.equivalence.equivalence`,
   or the branch-and-bound certificate of the maximum);
5. a map from each neuron of ``N`` to the feature of ``C`` it serves, and the share of ``N``'s
   output each feature carries (:mod:`proofs.extract_features`).

Floating point only chooses: which budget, which neuron of ``C`` a surviving neuron resembles, the
shares (measured on a grid and labelled so). Both verdicts and ``delta`` are exact.

>>> import sympy as sp
>>> from symbolic.circuit import from_layers
>>> from symbolic.relu import sym
>>> from verify.claim import Claim
>>> from verify.domain import Domain, RealInterval
>>> from fractions import Fraction as F
>>> wide = from_layers([([[1, 0], [F(49, 50), F(1, 100)], [-1, 0], [1, -1], [F(99, 100), -1], [1, 1]], [0, 0, 0, 0, 0, -3]),
...                     ([[0.5, 0.5, -1, -0.5, -0.5, 7]], None)], inputs=['x1', 'x2'])
>>> box = Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(-1, 1)})
>>> ex = extract(Claim(wide, sp.Min(sym('x1'), sym('x2')), box))
>>> ex.result.verdict.value, len(ex.circuit.neurons), ex.proof.verdict.value
('proved', 1, 'proved')
>>> print(ex.circuit.to_expr())
x1 - R(x1 - x2)
>>> str(ex.distance.value), [r.feature for r in ex.features]
('1/100', ['linear part', 'linear part', 'linear part', 'h1_1: greaterness detector x1 > x2', 'h1_1: greaterness detector x1 > x2', 'dead on the domain'])
"""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction

from symbolic import errors
from symbolic.activation import RELU_AND_LINEAR
from symbolic.circuit import Activation, Circuit
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_rounded import DENOMINATORS
from verify.claim import Claim, Equality, Tolerance
from verify.decide import Config, decide
from verify.result import Result, Verdict
from verify.rounding import Rounding, round_and_prove
from verify.simplification import Simplified, bounding_box, simplify
from verify.worst_case import MaxError, max_error

#: Simplification budgets, as fractions of the network's output scale, tried smallest first. The
#: costs are proved but pessimistic for deep networks (path sums of absolute weights), so the
#: list reaches past 1: the final distance is measured exactly whatever the budget.
BUDGETS = tuple(Fraction(b) for b in ("0", "1/1000", "1/300", "1/100", "1/30", "1/10", "3/10", "1", "3"))


#: A circuit worth extracting has simple weights: its rounding stops at denominators <= 16 (the
#: search then tries the next budget instead of ever finer roundings of the same network).
SMALL_DENOMINATORS = tuple(q for q in DENOMINATORS if q <= 16)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One budget tried: the ReLUs left after simplifying, and the rounding's verdict on them."""

    budget: Fraction
    relus: int
    bound: Fraction  # proved bound on |N - S| from the steps
    verdict: str
    denominator: int | None
    relus_after_rounding: int | None


@dataclasses.dataclass(frozen=True)
class Extraction:
    """What :func:`extract` found. ``result`` decides the claim on ``circuit`` (``C``);
    ``distance`` is the exact ``max |N - C|`` and ``proof`` the verdict on ``|N - C| <= delta``
    (None when no circuit was found); ``features`` maps every hidden neuron of ``N``."""

    claim: Claim
    circuit: Circuit | None
    result: Result
    simplified: Simplified | None
    rounding: Rounding | None
    distance: MaxError | None
    proof: Result | None
    proof_certificate: dict | None
    attempts: tuple[Attempt, ...]
    features: tuple  # of proofs.extract_features.NeuronRole
    shares: dict  # feature label -> share of N's output (measured)
    elapsed_s: float

    @property
    def found(self) -> bool:
        return self.circuit is not None and self.result.verdict is Verdict.PROVED

    @property
    def family_key(self) -> str:
        """``C``'s canonical form up to the input permutations that leave the target unchanged
        (two runs with the same key found the same circuit); "" when nothing was found."""
        if not self.found:
            return ""
        from proofs.extract_features import family_key

        return family_key(self.circuit, self.claim.target)

    def facts(self) -> dict:
        """JSON-ready facts (exact numbers as strings)."""
        from proofs.extract_features import extraction_facts

        return extraction_facts(self)


def output_scale(circuit: Circuit, box) -> Fraction:
    """A round number near ``max |N|`` on a grid of the box (it only scales the budgets)."""
    import numpy as np

    from verify.network_bounds import forward

    names = circuit.inputs
    side = 9 if len(names) <= 4 else 3
    axes = [np.linspace(float(box[n][0]), float(box[n][1]), side) for n in names]
    grid = np.meshgrid(*axes, indexing="ij")
    values = forward(circuit, {n: g.ravel() for n, g in zip(names, grid)})
    biggest = max(float(np.max(np.abs(values[o]))) for o in circuit.outputs)
    return max(Fraction(biggest).limit_denominator(10), Fraction(1, 100))


def extract(claim: Claim, max_neurons: int | None = None, config: Config = Config(),
            budgets=BUDGETS) -> Extraction:
    """Run the stages of the module docstring on ``claim`` (``N`` is ``claim.circuit``)."""
    start = time.perf_counter()
    config = config.started()
    deadline = config.deadline
    network = claim.circuit
    if not isinstance(claim.kind, (Equality, Tolerance)):
        raise errors.ClaimError("extract needs an equality or tolerance target (a function, not a condition)")
    if any(a.activation not in RELU_AND_LINEAR for a in network.assignments):
        raise errors.ClaimError("extract works on ReLU and linear networks (this one has a sigmoid)")
    if max_neurons is not None and max_neurons < 0:
        raise errors.ClaimError(f"--max-neurons must be >= 0, got {max_neurons}")
    box = bounding_box(claim.domain, network.inputs)
    scale = output_scale(network, box)
    attempts: list[Attempt] = []
    chosen: tuple[Simplified, Rounding] | None = None
    last: Rounding | None = None
    simplified, cache, seen = None, {}, set()
    try:
        for budget in budgets:
            simplified = simplify(network, box, budget * scale, deadline, exact=cache, start=simplified)
            relus = _relus(simplified.circuit)
            if relus in seen:
                continue  # the same network as a smaller budget gave
            seen.add(relus)
            rounding = round_and_prove(dataclasses.replace(claim, circuit=simplified.circuit), config,
                                       denominators=SMALL_DENOMINATORS)
            last = rounding
            after = len(_relus(rounding.rounded)) if rounding.proved else None
            attempts.append(Attempt(budget * scale, len(relus), simplified.bound, rounding.result.verdict.value,
                                    rounding.denominator if rounding.proved else None, after))
            if rounding.proved and (max_neurons is None or after <= max_neurons):
                chosen = (simplified, rounding)
                break
            if deadline.expired():
                break
    except errors.TimeoutExpired as exc:
        return _nothing(claim, simplified, last, attempts, start, f"the budget ran out: {exc}")
    if chosen is None:
        why = (f"no simplification within the budgets tried rounds to a circuit that satisfies the claim"
               + ("" if max_neurons is None else f" with at most {max_neurons} ReLUs"))
        return _nothing(claim, simplified, last, attempts, start, why)
    simplified, rounding = chosen
    return _finish(claim, simplified, rounding, attempts, config, start)


def _relus(circuit: Circuit) -> tuple:
    return tuple(a.name for a in circuit.assignments if a.activation is Activation.RELU and a.name not in circuit.outputs)


def _nothing(claim, simplified, rounding, attempts, start, why: str) -> Extraction:
    result = Result(claim, Verdict.UNKNOWN, "extract", time.perf_counter() - start, reason=why)
    return Extraction(claim, None, result, simplified, rounding, None, None, None, tuple(attempts), (), {},
                      time.perf_counter() - start)


def _finish(claim: Claim, simplified: Simplified, rounding: Rounding, attempts, config: Config,
            start: float) -> Extraction:
    from proofs.extract_features import neuron_roles, output_shares
    from verify.equivalence import equivalence

    deadline = config.deadline
    box = bounding_box(claim.domain, claim.circuit.inputs)
    tidy = canonicalize(simplify(rounding.rounded, box, Fraction(0), deadline).circuit, deadline)
    circuit = tidy if len(tidy.neurons) <= len(rounding.rounded.neurons) else rounding.rounded
    result = decide(dataclasses.replace(claim, circuit=circuit), config)  # the proof is about the final C
    if result.verdict is not Verdict.PROVED:  # tidying never changes the function on the domain;
        circuit = rounding.rounded  # should the decision time out, keep the proof already made
        result = rounding.result
    network = claim.circuit
    from symbolic.budget import Deadline

    proof = certificate = None
    quick = dataclasses.replace(config, deadline=Deadline(max(min(2.0, deadline.remaining() / 10), 0.01)))
    same = equivalence(network, circuit, claim.domain, 0, quick, distance=False)  # N = C exactly?
    if same.result.verdict is Verdict.PROVED:
        distance = MaxError(Fraction(0), None, Fraction(0), Fraction(0), f"N = C ({same.result.method})",
                            same.result.elapsed_s)
        proof = same.result
    else:
        half = Deadline(max(deadline.remaining() / 2, 0.01))  # leave time to prove the lower end tight
        distance = max_error(network, circuit, claim.domain, deadline=half)
    if distance.value is None and distance.lower is not None and distance.at is not None:
        # the search found a point at distance ``lower`` but could not close the gap (at a kink,
        # e.g. N = C exactly): prove |N - C| <= lower outright, which makes it the exact maximum
        tight = equivalence(network, circuit, claim.domain, distance.lower, config, distance=False)
        if tight.result.verdict is Verdict.PROVED:
            distance = dataclasses.replace(distance, value=distance.lower, upper=distance.lower,
                                           method=f"{distance.method} + {tight.result.method}", reason="")
            proof = tight.result
    if distance.value is not None and proof is None:
        # a maximum found by z3's optimiser is proved tight by z3 itself (bab has no margin there)
        solver = dataclasses.replace(config, engine=False) if "z3" in distance.method else config
        same = equivalence(network, circuit, claim.domain, distance.value, solver, distance=False)
        proof = same.result
        if proof.verdict is not Verdict.PROVED and distance.certificate is not None:
            proof = Result(same.result.claim, Verdict.PROVED, "bab (maximum)", distance.elapsed_s,
                           evidence=f"branch and bound bounds |N - C| by {distance.value}, exactly checked",
                           certificate=distance.certificate)
            certificate = dict(distance.certificate)
    roles = neuron_roles(network, simplified, circuit, box)
    shares = output_shares(network, roles, box)
    return Extraction(claim, circuit, result, simplified, rounding, distance, proof, certificate, tuple(attempts),
                      tuple(roles), shares, time.perf_counter() - start)
