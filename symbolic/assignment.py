"""One assignment of a circuit: ``name = activation(sum(coeff * source) + bias)``."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import sympy as sp

from symbolic import errors
from symbolic.activation import Activation
from symbolic.exact import to_exact

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Assignment:
    """``name = activation(sum(coeff * source) + bias)`` with exact coefficients.

    Coefficients are exact sympy numbers, or expressions in symbolic *parameters*
    (e.g. ``1/w1`` in the identity family).
    """

    name: str
    terms: tuple[tuple[str, sp.Expr], ...]
    bias: sp.Expr = sp.S.Zero
    activation: Activation = Activation.RELU

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise errors.InvalidCircuitError(f"assignment name {self.name!r} is not an identifier")
        if not isinstance(self.activation, Activation):
            raise errors.InvalidCircuitError(
                f"activation of {self.name} must be an Activation, got {self.activation!r}"
            )
        merged: dict[str, sp.Expr] = {}
        for source, coeff in self.terms:
            if not isinstance(source, str):
                raise errors.InvalidCircuitError(f"{self.name}: source {source!r} is not a name")
            value = coeff if isinstance(coeff, sp.Rational) else to_exact(coeff, f"weight of {source} in {self.name}")
            merged[source] = merged[source] + value if source in merged else value
        terms = tuple((s, c) for s, c in merged.items() if c != 0)
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "bias", to_exact(self.bias, f"bias of {self.name}"))

    @property
    def sources(self) -> tuple[str, ...]:
        """The names this assignment reads."""
        return tuple(s for s, _ in self.terms)

    def coefficient(self, source: str) -> sp.Expr:
        """The weight of ``source`` (zero when absent)."""
        for s, c in self.terms:
            if s == source:
                return c
        return sp.S.Zero

    def pre_activation(self, env: Mapping[str, sp.Expr]) -> sp.Expr:
        """The affine pre-activation with each source replaced by ``env[source]``."""
        return sp.Add(*(c * env[s] for s, c in self.terms), self.bias)

    def apply(self, pre: sp.Expr) -> sp.Expr:
        """Wrap ``pre`` in this assignment's activation."""
        return self.activation.exact(pre)
