"""Claims about circuits: equality, tolerance and predicate statements over a domain."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from symbolic import errors
from symbolic.circuit import Circuit, to_fraction
from symbolic.evaluate import evaluate_expr
from symbolic.interval import compare
from symbolic.printing import show
from verify.domain import Domain


@dataclasses.dataclass(frozen=True)
class Equality:
    """``N(x) = f(x)`` for every x in the domain."""

    def describe(self, network: str, target: str) -> str:
        return f"{network} = {target}"


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """``|N(x) - f(x)| <= eps`` for every x in the domain."""

    eps: Fraction

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", to_fraction(self.eps, "tolerance"))
        if self.eps < 0:
            raise errors.ClaimError(f"tolerance {self.eps} is negative")

    def describe(self, network: str, target: str) -> str:
        return f"|{network} - ({target})| <= {self.eps}"


PREDICATE_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclasses.dataclass(frozen=True)
class Predicate:
    """``N(x) op threshold`` holds exactly when the target condition holds (e.g. N > 0 iff x1 > x2)."""

    op: str = ">"
    threshold: Fraction = Fraction(0)

    def __post_init__(self) -> None:
        if self.op not in PREDICATE_OPS:
            raise errors.ClaimError(f"predicate operator {self.op!r} is not one of {sorted(PREDICATE_OPS)}")
        object.__setattr__(self, "threshold", to_fraction(self.threshold, "threshold"))

    def describe(self, network: str, target: str) -> str:
        if target == "True":
            return f"{network} {self.op} {self.threshold} everywhere"
        return f"({network} {self.op} {self.threshold}) <=> ({target})"


Kind = Equality | Tolerance | Predicate


def is_condition(expr: sp.Basic) -> bool:
    """Whether ``expr`` is a condition (a relation or boolean) rather than a number."""
    return isinstance(expr, (sp.logic.boolalg.Boolean, sp.Rel)) and not isinstance(expr, sp.Expr)


def indicator(condition: sp.Basic) -> sp.Expr:
    """The Iverson bracket ``[condition]`` as a Piecewise (1 where it holds, else 0)."""
    return sp.Piecewise((sp.S.One, condition), (sp.S.Zero, True))


@dataclasses.dataclass(frozen=True)
class Claim:
    """A statement about output ``output`` of ``circuit`` against ``target`` on ``domain``.

    Free symbols of the target must be inputs or parameters of the circuit; variables the
    domain does not list range over R.
    """

    circuit: Circuit
    target: sp.Basic
    domain: Domain = dataclasses.field(default_factory=Domain)
    kind: Kind = dataclasses.field(default_factory=Equality)
    output: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.target, sp.Basic):
            raise errors.ClaimError(f"target must be a sympy expression, got {type(self.target).__name__}")
        object.__setattr__(self, "output", self.output or self.circuit.output)
        if self.output not in self.circuit.outputs:
            raise errors.ClaimError(f"{self.output!r} is not an output of the circuit")
        known = set(self.variables)
        extra = sorted(str(s) for s in self.target.free_symbols if str(s) not in known)
        if extra:
            raise errors.ClaimError(
                f"the target uses {', '.join(extra)}, which the network does not have "
                f"(inputs: {', '.join(self.circuit.inputs) or 'none'})"
            )
        unknown = sorted(n for n in self.domain.sets if n not in known)
        if unknown:
            raise errors.ClaimError(
                f"the domain names {', '.join(unknown)}, which is not an input or parameter "
                f"(inputs: {', '.join(self.circuit.inputs)})"
            )
        condition = is_condition(self.target)
        if isinstance(self.kind, Predicate) and not condition:
            raise errors.ClaimError(f"a predicate claim needs a condition as target, got {self.target}")
        if not isinstance(self.kind, Predicate) and condition:
            raise errors.ClaimError(
                f"the target {self.target} is a condition; use [condition] for 0/1 values "
                "or a predicate claim"
            )

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.circuit.parameters)

    @property
    def variables(self) -> tuple[str, ...]:
        """Inputs then parameters: every universally quantified variable."""
        return tuple(self.circuit.inputs) + self.parameters

    def statement(self, network: str | None = None) -> str:
        """One-line statement, e.g. ``N(x1, x2) = Min(x1, x2)``."""
        network = network or f"N({', '.join(self.circuit.inputs)})"
        return self.kind.describe(network, show(self.target))

    def holds_at(self, point: Mapping[str, object]) -> tuple[bool, object, object]:
        """Exactly decide the claim at one point: ``(holds, network value, target value)``.

        A sigmoid makes the network value transcendental; it is then compared by rigorous
        interval enclosure, which raises :class:`symbolic.interval.Undecided` if it cannot tell.
        """
        env = self.circuit.evaluate_all(point)
        network = env[self.output]
        target = evaluate_expr(self.target, point)
        if isinstance(self.kind, Equality):
            return compare(network, target) == 0, network, target
        if isinstance(self.kind, Tolerance):
            low = compare(network, target - self.kind.eps) >= 0
            return low and compare(network, target + self.kind.eps) <= 0, network, target
        sign = compare(network, self.kind.threshold)
        fires = PREDICATE_OPS[self.kind.op](sign, 0)
        return fires == target, network, target
