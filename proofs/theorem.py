"""A catalogue theorem: a named claim with its expected verdict, and how it is decided.

Its own module so that the catalogue and its trained-model rows (proofs/trained_catalogue.py) both
build on it without importing each other.
"""

from __future__ import annotations

import dataclasses

from symbolic.circuit import Circuit
from verify.claim import Claim
from verify.decide import Config, decide
from verify.realizability import Unrealizable, decide_unrealizable
from verify.result import Result, Verdict
from verify.rounding import round_and_prove


@dataclasses.dataclass(frozen=True)
class Theorem:
    """A named statement from the seed material with the verdict we expect for it."""

    name: str
    source: str
    claim: Claim | Unrealizable
    expected: Verdict
    round_first: bool = False  # trained models: canonicalise and round, then prove the same claim

    def run(self, config: Config = Config()) -> Result:
        """Decide the claim (never returns a verdict it does not have evidence for)."""
        return self.run_with_facts(config)[0]

    def run_with_facts(self, config: Config = Config()) -> tuple[Result, dict]:
        """The result, and the facts a report shows beside it (closed form; rounding for trained nets)."""
        if isinstance(self.claim, Unrealizable):
            return decide_unrealizable(self.claim, config.timeout_s), {}
        if not self.round_first:
            return decide(self.claim, config), {}
        rounding = round_and_prove(self.claim, config)
        result = dataclasses.replace(rounding.result, elapsed_s=rounding.elapsed_s,
                                     method=f"round(q<={rounding.denominator})+{rounding.result.method}")
        return result, {**rounding.facts(), **trained_error(self.claim, config)}

    @property
    def circuit(self) -> Circuit:
        return self.claim.template if isinstance(self.claim, Unrealizable) else self.claim.circuit

    def statement(self) -> str:
        return self.claim.statement()

    def domain(self) -> str:
        return self.claim.domain.describe(self.claim.variables)


def trained_error(claim: Claim, config: Config = Config()) -> dict:
    """The trained network's own exact error, beside a verdict about its rounding: the worst case on
    a bounded domain, or on all of R^n the bound ``|N - f| <= c * max|x_i|`` when N has no biases and
    f is positively homogeneous (:mod:`verify.homogeneous`); empty when neither applies."""
    from verify.claim import Predicate
    from verify.homogeneous import relative_bound
    from verify.worst_case import max_error

    if isinstance(claim.kind, Predicate) or claim.circuit.parameters:
        return {}
    deadline = config.started().deadline
    if claim.domain.is_bounded(claim.circuit.inputs):
        worst = max_error(claim.circuit, claim.target, claim.domain, deadline=deadline, output=claim.output)
        short = None if worst.value is None else f"trained network: max |N - f| = {float(worst.value):.3g} (exact below)"
        return {"max_error": worst.value, "max_error_at": worst.at, "trained_error_short": short}
    bound = relative_bound(claim.circuit, claim.target, claim.output, deadline)
    if bound is None:
        return {}
    return {"trained_error": f"the trained network itself: {bound.statement(list(claim.circuit.inputs))}, c about "
                             f"{float(bound.c):.6g} "
                             f"(no biases, so N - f is positively homogeneous; c is its exact maximum on "
                             f"[-1, 1]^{len(claim.circuit.inputs)}, by {bound.method})",
            "relative_error_c": bound.c, "relative_error_at": bound.at,
            "trained_error_short": f"trained network: |N - f| <= {float(bound.c):.3g} * max|x_i| on R^"
                                   f"{len(claim.circuit.inputs)} (exact c below)"}
