"""Search the simplest rounding of a trained circuit that proves a claim; never loosen the claim."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from fractions import Fraction

import sympy as sp

from symbolic import errors
from symbolic.budget import Deadline
from symbolic.circuit import Circuit
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_closed_form import closed_form
from symbolic.printing import show
from symbolic.circuit_to_rounded import DENOMINATORS, largest_denominator, round_weights, rounding_shift
from verify.claim import Claim, Equality, Tolerance
from verify.decide import Config, decide
from verify.domain import Domain
from verify.result import Result, Verdict


@dataclasses.dataclass(frozen=True)
class Rounding:
    """The outcome of the search: the rounded circuit and its verdict (``proved`` on success).

    ``denominator`` is the bound that worked (or the last one tried); ``attempts`` lists
    ``(bound, verdict)`` for every bound, smallest first, with verdict ``None`` where the bound
    was skipped because it moved the weights too far.
    """

    canonical: Circuit
    rounded: Circuit
    denominator: int
    result: Result
    attempts: tuple[tuple[int, Verdict | None], ...]
    elapsed_s: float

    @property
    def largest_denominator(self) -> int:
        """The largest denominator actually present in the rounded weights."""
        return largest_denominator(self.rounded)

    @property
    def proved(self) -> bool:
        return self.result.verdict is Verdict.PROVED

    def forms(self, deadline: Deadline | None = None) -> dict:
        """The rounding's closed forms as sympy objects (Min/Max form and ReLU form), its bound and
        every attempt; a closed form beyond the inlining limits or the budget is the text
        ``skipped: <why>``. Printed only where shown (:meth:`facts`, the reports)."""
        return {
            "rounded_expression": _closed_form(self.rounded, True, deadline),
            "rounded_relu_form": _closed_form(self.rounded, False, deadline),
            "denominator": self.denominator,
            "rounding_attempts": rounding_attempts(self),
        }

    def facts(self, deadline: Deadline | None = None) -> dict:
        """:meth:`forms` with the closed forms printed (JSON-ready)."""
        return {k: show(v) if isinstance(v, sp.Basic) else v for k, v in self.forms(deadline).items()}


def _closed_form(circuit: Circuit, minmax: bool, deadline: Deadline | None) -> sp.Expr | str:
    try:
        return closed_form(circuit, minmax=minmax, deadline=deadline)
    except (errors.LimitError, errors.TimeoutExpired) as exc:
        return f"skipped: {exc}"


#: A rounding may move each weight by at most this fraction of its assignment's largest weight:
#: snapping a weight of 0.5 to 0 or 1 is not "the simplest nearby rational", it is another network.
MAX_SHIFT = sp.Rational(1, 5)


def simplest_rounding(circuit: Circuit, claim_of: Callable[[Circuit], Claim], config: Config = Config(),
                      denominators: Sequence[int] = DENOMINATORS, max_shift=MAX_SHIFT) -> Rounding:
    """The one rounding rule (``check --round``, ``simplify``, the catalogue): canonicalise
    ``circuit``, then for each denominator bound (smallest first) round its weights and decide
    ``claim_of(rounded)``; stop at the first proof. Bounds that would move a weight by more than
    ``max_shift`` (relative to its assignment's largest weight) are skipped; the finest is always
    tried.

    If no bound proves it, the last attempt's verdict (refuted with a replayed counterexample,
    or unknown) is returned: the claim itself is never weakened. The whole search shares one
    budget (``config.deadline``, or ``config.timeout_s`` from now); when it ends the result is
    ``unknown`` with the reason.
    """
    start = time.perf_counter()
    config = config.started()  # one budget for the whole search
    attempts: list[tuple[int, Verdict | None]] = []
    canonical = rounded = circuit
    result, bound = None, denominators[0]
    try:
        canonical = rounded = canonicalize(circuit, config.deadline)
        for bound in denominators:
            finest = bound == denominators[-1]  # the finest is always tried
            if not finest and rounding_shift(canonical, bound, config.deadline) > max_shift:
                attempts.append((bound, None))
                continue
            rounded = round_weights(canonical, bound, config.deadline)
            result = decide(claim_of(rounded), config)
            attempts.append((bound, result.verdict))
            if result.verdict is Verdict.PROVED or config.deadline.expired():
                break
    except errors.TimeoutExpired as exc:
        result = Result(claim_of(rounded), Verdict.UNKNOWN, "rounding", time.perf_counter() - start, reason=str(exc))
    return Rounding(canonical, rounded, bound, result, tuple(attempts), time.perf_counter() - start)


def round_and_prove(claim: Claim, config: Config = Config(),
                    denominators: Sequence[int] = DENOMINATORS, max_shift=MAX_SHIFT) -> Rounding:
    """The simplest rounding of ``claim.circuit`` that proves the *same* claim
    (:func:`simplest_rounding` on ``claim`` with the circuit replaced).

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> trained = from_layers([([[0.7, -0.7001], [0.5, 0.0], [-0.4, 0.0]], None),
    ...                        ([[-1.4285, 2.0, -2.5]], None)], inputs=['x1', 'x2'])
    >>> r = round_and_prove(Claim(trained, sp.Min(sym('x1'), sym('x2'))))
    >>> r.proved, r.denominator
    (True, 1)
    """
    return simplest_rounding(claim.circuit, lambda rounded: dataclasses.replace(claim, circuit=rounded),
                             config, denominators, max_shift)


def round_within(circuit: Circuit, domain: Domain, tolerance, config: Config = Config(),
                 denominators: Sequence[int] = DENOMINATORS, max_shift=MAX_SHIFT) -> Rounding:
    """The simplest rounding ``N_q`` of ``circuit`` proved within ``tolerance`` of ``circuit`` itself
    on ``domain`` (``|N - N_q| <= tolerance``, decided on their difference circuit), by the same
    rule as :func:`round_and_prove` (``simplify`` without a target).

    >>> from symbolic.circuit import from_layers
    >>> from verify.domain import RealInterval
    >>> trained = from_layers([([[0.7001], [-0.4999]], None), ([[1.0002, 2.0]], None)])
    >>> box = Domain({'x': RealInterval(-1, 1)})
    >>> r = round_within(trained, box, sp.Rational(1, 100))
    >>> r.proved, r.denominator, str(r.rounded.to_expr(r.rounded.outputs[0]))
    (True, 10, 'R(-x) + 7*R(x)/10')
    """
    from verify.equivalence import difference_circuit

    kind = Equality() if tolerance == 0 else Tolerance(Fraction(tolerance))

    def claim_of(rounded: Circuit) -> Claim:
        return Claim(difference_circuit(circuit, rounded, deadline=config.deadline), sp.S.Zero, domain, kind)

    return simplest_rounding(circuit, claim_of, config.started(), denominators, max_shift)


def rounding_attempts(rounding: Rounding) -> list[list]:
    """``[[bound, verdict or 'skipped: ...'], ...]`` for reports and JSON."""
    return [[q, v.value if v else "skipped: moves weights too far"] for q, v in rounding.attempts]
