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
        from proofs.check import CheckOptions, check_model  # the one pipeline for trained models

        checked = check_model(self.claim, CheckOptions(round=True), config)
        rounding = checked.rounding
        result = dataclasses.replace(rounding.result, elapsed_s=rounding.elapsed_s,
                                     method=f"round(q<={rounding.denominator})+{rounding.result.method}")
        return result, {**checked.rounding_forms, **checked.trained_error(),
                        "trained_verdict": checked.result.verdict.value}

    @property
    def circuit(self) -> Circuit:
        return self.claim.template if isinstance(self.claim, Unrealizable) else self.claim.circuit

    def statement(self) -> str:
        return self.claim.statement()

    def domain(self) -> str:
        return self.claim.domain.describe(self.claim.variables)
