"""What an edit does to a network: the closed form of ``N' - N``, proved, and its exact largest size on a domain.

Ablating or editing a neuron of a wide network changes only the neurons downstream of it. The
difference ``N' - N`` is built as one circuit in which the neurons both networks compute
identically are shared (:func:`verify.equivalence.difference_circuit`), so they cancel, and
canonicalised; what is left is usually small, and its closed form is proved equal to the
difference on the domain by the method chooser (regions, branch and bound or z3). On a bounded
domain the exact ``max |N' - N|`` and a point attaining it come from the worst-case engine.

>>> from symbolic.circuit import from_layers
>>> from verify.domain import Domain, RealInterval
>>> from proofs.analysis import ablate
>>> net = from_layers([([[1, 0], [-1, 0], [1, -1], [0, 1]], None), ([[1, -1, -1, 2]], None)], inputs=['x1', 'x2'])
>>> box = Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(-1, 1)})
>>> d = deviation(net, ablate(net, 'h1_4'), box)
>>> d.closed_form, d.proof.verdict.value, d.worst.value
(-2*R(x2), 'proved', Fraction(2, 1))
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from symbolic import errors
from symbolic.circuit import Circuit
from symbolic.circuit_to_canonical import canonicalize
from verify.claim import Claim
from verify.decide import Config, decide
from verify.domain import Domain
from verify.result import Result
from verify.worst_case import MaxError, max_error


@dataclasses.dataclass(frozen=True)
class Deviation:
    """``difference`` computes ``N' - N``; ``closed_form`` is proved equal to it on the domain by
    ``proof`` (None when the closed form was beyond the inlining limits); ``worst`` is the exact
    ``max |N' - N|`` on a bounded domain (None on an unbounded one)."""

    difference: Circuit
    closed_form: sp.Expr | None
    closed_form_note: str
    proof: Result | None
    worst: MaxError | None

    def to_json(self) -> dict:
        from symbolic.printing import show

        w = self.worst
        return {
            "deviation_neurons": len(self.difference.neurons),
            "deviation": None if self.closed_form is None else show(self.closed_form),
            "deviation_note": self.closed_form_note or None,
            "deviation_verdict": None if self.proof is None else self.proof.verdict.value,
            "deviation_method": None if self.proof is None else self.proof.method,
            "max_deviation": None if w is None or w.value is None else str(w.value),
            "max_deviation_at": None if w is None or w.at is None else {k: str(v) for k, v in w.at.items()},
            "max_deviation_bounds": None if w is None or w.value is not None else
            [None if w.lower is None else str(w.lower), None if w.upper is None else str(w.upper)],
            "max_deviation_method": None if w is None else w.method,
        }


def deviation(original: Circuit, edited: Circuit, domain: Domain, config: Config = Config()) -> Deviation:
    """The facts of the module docstring for ``edited`` against ``original`` on ``domain``."""
    from symbolic.circuit_to_closed_form import closed_form
    from verify.equivalence import difference_circuit

    config = config.started()
    deadline = config.deadline
    diff = canonicalize(difference_circuit(edited, original, True, deadline), deadline)
    worst = None
    if domain.is_bounded(diff.inputs):  # the number people ask for first: how far the edit moves N
        from symbolic.budget import Deadline

        worst = max_error(diff, sp.S.Zero, domain, deadline=Deadline(max(deadline.remaining() * 2 / 3, 0.01)))
    form, note, proof = None, "", None
    try:
        form = closed_form(diff, minmax=True, deadline=deadline)
    except (errors.LimitError, errors.TimeoutExpired) as exc:
        note = f"skipped: {exc}"
    if form is not None:
        proof = decide(Claim(diff, form, domain), config)
    return Deviation(diff, form, note, proof, worst)
