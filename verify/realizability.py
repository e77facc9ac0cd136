"""Minimality claims: no network of a given shape (any weights) agrees with a target on given points."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping, Sequence
from fractions import Fraction

import sympy as sp
import z3

from symbolic import errors
from symbolic.circuit import Assignment, Circuit, to_fraction
from symbolic.evaluate import evaluate_expr
from symbolic.exact import rational_of
from symbolic.printing import show
from verify.circuit_to_z3 import Encoder, model_value
from verify.claim_to_smtlib import Certificate
from verify.domain import Domain
from verify.result import Counterexample, Result, Verdict


@dataclasses.dataclass(frozen=True)
class Unrealizable:
    """``template`` has symbolic weights (its parameters); the claim is that for *every* choice
    of weights there is a point among ``points`` where the network differs from ``target``.

    Finitely many witness points make this a sound certificate of the stronger statement that
    no network of this shape computes ``target`` on any domain containing them. It is proved by
    z3 finding ``AND_p N_w(p) = f(p)`` unsatisfiable over the weights ``w``; a satisfying
    assignment is a network of this shape that fits every point (replayed exactly).
    """

    template: Circuit
    target: sp.Expr
    points: tuple[Mapping[str, Fraction], ...]
    parameter_domain: Domain = dataclasses.field(default_factory=Domain)

    def __post_init__(self) -> None:
        if not self.template.parameters:
            raise errors.ClaimError("an unrealizability claim needs a template with symbolic weights")
        points = tuple({k: to_fraction(v, k) for k, v in p.items()} for p in self.points)
        if not points:
            raise errors.ClaimError("an unrealizability claim needs at least one witness point")
        for p in points:
            if set(p) != set(self.template.inputs):
                raise errors.ClaimError(f"witness point {p} does not give exactly the inputs {self.template.inputs}")
        object.__setattr__(self, "points", points)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.template.parameters)

    @property
    def domain(self) -> Domain:
        return self.parameter_domain

    def statement(self, network: str | None = None) -> str:
        network = network or f"N_w({', '.join(self.template.inputs)})"
        return f"for all weights w: {network} != {show(self.target)} at one of {len(self.points)} points"

    def fits(self, weights: Mapping[str, Fraction]) -> tuple[bool, list, list]:
        """Whether the network with ``weights`` equals the target at every witness point."""
        nets, targets = [], []
        for p in self.points:
            nets.append(self.template.evaluate({**p, **weights})[0])
            targets.append(evaluate_expr(self.target, p))
        return nets == targets, nets, targets


def decide_unrealizable(claim: Unrealizable, timeout_s: float = 10.0) -> Result:
    """Prove that no weights fit (unsat), or return fitting weights (replayed), or unknown."""
    start = time.perf_counter()
    solver = z3.Solver()
    solver.set("timeout", max(1, int(timeout_s * 1000)))
    assertions = witness_assertions(claim)
    solver.add(*assertions)
    answer = solver.check()
    elapsed = time.perf_counter() - start
    if answer == z3.unsat:
        return Result(claim, Verdict.PROVED, "z3-witness-points", elapsed,
                      evidence=f"no weights fit the {len(claim.points)} witness points (z3 unsat)",
                      certificate=Certificate(claim, assertions, "z3-witness-points"))
    if answer == z3.unknown:
        return Result(claim, Verdict.UNKNOWN, "z3-witness-points", elapsed, reason=f"z3: {solver.reason_unknown()}")
    model = solver.model()
    weights = {name: model_value(model, z3.Real(name))[0] for name in claim.variables}
    ok, nets, targets = claim.fits(weights)
    if not ok:
        return Result(claim, Verdict.UNKNOWN, "z3-witness-points", time.perf_counter() - start,
                      reason="z3 found fitting weights that are irrational; their approximation does not fit")
    witness = Counterexample(weights, tuple(nets), tuple(targets))
    return Result(claim, Verdict.REFUTED, "z3-witness-points", time.perf_counter() - start, witness,
                  evidence="weights that fit every witness point, replayed exactly")


def witness_assertions(claim: Unrealizable) -> list[z3.BoolRef]:
    """The query of :func:`decide_unrealizable` (also exported as SMT-LIB): per witness point, the
    template's neurons over the weights (prefix ``p<k>_``, ``k`` the assertions so far) and
    ``N_w(p) = f(p)``."""
    out: list[z3.BoolRef] = []
    for p in claim.points:
        enc = Encoder(claim.parameter_domain, (), claim.variables)
        values = enc.encode_circuit(_bind(claim.template, p), prefix=f"p{len(out)}_")
        out.extend(enc.constraints)
        out.append(values[claim.template.output] == enc.expr(claim.target.subs(_subs(p))))
    return out


def _subs(point: Mapping[str, Fraction]) -> dict:
    return {sp.Symbol(k, real=True): rational_of(v) for k, v in point.items()}


def _bind(template: Circuit, point: Mapping[str, Fraction]) -> Circuit:
    """The template with its inputs replaced by the constants of ``point`` (a circuit of no inputs)."""
    subs = {name: rational_of(v) for name, v in point.items()}
    assignments = []
    for a in template.assignments:
        bias = a.bias + sum((c * subs[s] for s, c in a.terms if s in subs), sp.S.Zero)
        terms = tuple((s, c) for s, c in a.terms if s not in subs)
        assignments.append(Assignment(a.name, terms, bias, a.activation))
    return Circuit((), tuple(assignments), template.outputs)


def grid(names: Sequence[str], values: Sequence[int]) -> tuple[dict[str, Fraction], ...]:
    """All points of ``values^n`` over ``names``, e.g. the witness grid ``{-1, 0, 1, 2}^2``."""
    return tuple({n: Fraction(v) for n, v in zip(names, combo)} for combo in itertools.product(values, repeat=len(names)))
