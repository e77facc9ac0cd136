"""The typed check pipeline (proofs/check.py): the verdict is the file's, the rounding sits beside it."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp

from proofs.check import CheckOptions, check_model
from symbolic import errors
from symbolic.circuit import from_layers
from symbolic.relu import sym
from verify.claim import Claim, Tolerance
from verify.domain import Domain, RealInterval

X1, X2 = sym("x1"), sym("x2")
NOISY_MIN = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, sp.Rational(-1001, 1000)]], None)],
                        inputs=["x1", "x2"])
BOX = Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(-1, 1)})


def test_the_verdict_is_the_files_and_the_rounding_is_a_simpler_circuit_beside_it():
    checked = check_model(Claim(NOISY_MIN, sp.Min(X1, X2), BOX), CheckOptions(round=True, cross_check=True))
    assert checked.result.verdict.value == "refuted" and checked.result.claim.circuit is NOISY_MIN
    assert checked.result.confirmation["agree"] is True
    assert checked.rounding.proved and checked.rounding.denominator == 1
    assert checked.worst.value == Fraction(2, 1000) == checked.rounding_error.value  # |x1 - x2| <= 2 on the box
    facts = checked.facts()
    assert facts["rounded_expression"] == "Min(x1, x2)" and facts["rounding_error"] == "1/500"


def test_a_rounding_that_satisfies_nothing_is_never_shown_as_a_circuit():
    claim = Claim(NOISY_MIN, sp.Min(X1, X2) + 1, BOX, Tolerance(Fraction(1, 10)))
    checked = check_model(claim, CheckOptions(round=True))
    facts = checked.facts()
    assert not checked.rounding.proved and checked.rounding_error is None
    assert facts["rounded_expression"] is None and facts["denominator"] is None
    assert facts["simpler_circuit"].startswith("none: no rounding")


def test_an_explicit_worst_case_error_on_an_unbounded_domain_is_the_users_error():
    with pytest.raises(errors.DomainError, match="bounded domain"):
        check_model(Claim(NOISY_MIN, sp.Min(X1, X2)), CheckOptions(require_max_error=True))
