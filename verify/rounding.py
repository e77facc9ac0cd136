"""Search the simplest rounding of a trained circuit that proves a claim; never loosen the claim."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import sympy as sp

from symbolic import errors
from symbolic.budget import Deadline
from symbolic.circuit import Circuit
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_closed_form import closed_form
from symbolic.printing import show
from symbolic.circuit_to_rounded import DENOMINATORS, largest_denominator, round_weights, rounding_shift
from verify.claim import Claim
from verify.decide import Config, decide
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

    def facts(self, deadline: Deadline | None = None) -> dict:
        """What reports and JSON show about the rounding: closed forms, bound, every attempt.
        A closed form beyond the inlining limits or the budget is ``skipped: <why>``."""
        return {
            "rounded_expression": _closed_form_text(self.rounded, True, deadline),
            "rounded_relu_form": _closed_form_text(self.rounded, False, deadline),
            "denominator": self.denominator,
            "rounding_attempts": rounding_attempts(self),
        }


def _closed_form_text(circuit: Circuit, minmax: bool, deadline: Deadline | None) -> str:
    try:
        return show(closed_form(circuit, minmax=minmax, deadline=deadline))
    except (errors.LimitError, errors.TimeoutExpired) as exc:
        return f"skipped: {exc}"


#: A rounding may move each weight by at most this fraction of its assignment's largest weight:
#: snapping a weight of 0.5 to 0 or 1 is not "the simplest nearby rational", it is another network.
MAX_SHIFT = sp.Rational(1, 5)


def round_and_prove(claim: Claim, config: Config = Config(),
                    denominators: Sequence[int] = DENOMINATORS, max_shift=MAX_SHIFT) -> Rounding:
    """Canonicalise ``claim.circuit``, then for each denominator bound (smallest first) round
    its weights and decide the *same* claim on the rounded circuit; stop at the first proof.
    Bounds that would move a weight by more than ``max_shift`` (relative) are skipped.

    If no bound proves it, the last attempt's verdict (refuted with a replayed counterexample,
    or unknown) is returned: the claim itself is never weakened. The whole search shares one
    budget (``config.deadline``, or ``config.timeout_s`` from now); when it ends the result is
    ``unknown`` with the reason.

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> trained = from_layers([([[0.7, -0.7001], [0.5, 0.0], [-0.4, 0.0]], None),
    ...                        ([[-1.4285, 2.0, -2.5]], None)], inputs=['x1', 'x2'])
    >>> r = round_and_prove(Claim(trained, sp.Min(sym('x1'), sym('x2'))))
    >>> r.proved, r.denominator
    (True, 1)
    """
    start = time.perf_counter()
    config = config.started()  # one budget for the whole search
    attempts: list[tuple[int, Verdict | None]] = []
    canonical = rounded = claim.circuit
    result, bound = None, denominators[0]
    try:
        canonical = rounded = canonicalize(claim.circuit, config.deadline)
        for bound in denominators:
            finest = bound == denominators[-1]  # the finest is always tried
            if not finest and rounding_shift(canonical, bound, config.deadline) > max_shift:
                attempts.append((bound, None))
                continue
            rounded = round_weights(canonical, bound, config.deadline)
            result = decide(dataclasses.replace(claim, circuit=rounded), config)
            attempts.append((bound, result.verdict))
            if result.verdict is Verdict.PROVED or config.deadline.expired():
                break
    except errors.TimeoutExpired as exc:
        result = Result(dataclasses.replace(claim, circuit=rounded), Verdict.UNKNOWN, "rounding",
                        time.perf_counter() - start, reason=str(exc))
    return Rounding(canonical, rounded, bound, result, tuple(attempts), time.perf_counter() - start)


def rounding_attempts(rounding: Rounding) -> list[list]:
    """``[[bound, verdict or 'skipped: ...'], ...]`` for reports and JSON."""
    return [[q, v.value if v else "skipped: moves weights too far"] for q, v in rounding.attempts]
