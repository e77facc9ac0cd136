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
from verify.output_set import OutputSet


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


@dataclasses.dataclass(frozen=True)
class Unreachable:
    """No point of the domain reaches ``unsafe``: holds (PROVED) / violated (REFUTED).

    The claim's circuit may have several outputs; ``unsafe`` is a set over output and input names.
    """

    unsafe: OutputSet

    def __post_init__(self) -> None:
        if not isinstance(self.unsafe, OutputSet):
            raise errors.ClaimError(f"Unreachable needs an OutputSet, got {type(self.unsafe).__name__}")

    def describe(self, network: str, target: str) -> str:
        return f"{network} never reaches {self.unsafe}"


Kind = Equality | Tolerance | Predicate | Unreachable


def unreachable_claim(circuit: Circuit, unsafe: OutputSet, domain: Domain | None = None) -> Claim:
    """The claim "no input in ``domain`` makes the outputs of ``circuit`` reach ``unsafe``".

    >>> from symbolic.circuit import from_layers
    >>> from verify.output_set import Atom
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1], [1, -1]], None)])  # y1 = |x|, y2 = x
    >>> claim = unreachable_claim(net, OutputSet(((Atom((('y1', 1), ('y2', -1)), '<', 0),),)))
    >>> claim.statement(), claim.holds_at({'x': Fraction(-2)})
    ('N(x) never reaches y1 < y2', (True, {'y1': Fraction(2, 1), 'y2': Fraction(-2, 1)}, None))
    """
    return Claim(circuit, unsafe.to_sympy(), domain or Domain(), Unreachable(unsafe))


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
        if isinstance(self.kind, Unreachable):
            return self._check_unreachable()
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

    def _check_unreachable(self) -> None:
        """An Unreachable claim speaks of all outputs (``output`` stays None) and its target is the
        output set's own condition (see :func:`unreachable_claim`)."""
        if self.output is not None:
            raise errors.ClaimError("an unreachable claim covers all outputs; do not name one")
        if self.target != self.kind.unsafe.to_sympy():
            raise errors.ClaimError("the target of an unreachable claim must be its output set's condition "
                                    "(build it with verify.claim.unreachable_claim)")
        known = set(self.variables) | set(self.circuit.outputs)
        extra = sorted(self.kind.unsafe.names() - known)
        if extra:
            raise errors.ClaimError(
                f"the output set uses {', '.join(extra)}, which is not an input or output of the network "
                f"(inputs: {', '.join(self.circuit.inputs) or 'none'}; outputs: {', '.join(self.circuit.outputs)})")
        unknown = sorted(n for n in self.domain.sets if n not in self.variables)
        if unknown:
            raise errors.ClaimError(
                f"the domain names {', '.join(unknown)}, which is not an input or parameter "
                f"(inputs: {', '.join(self.circuit.inputs)})")

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
        For an :class:`Unreachable` claim it is ``(holds, outputs, index of the reached disjunct or None)``.
        """
        env = self.circuit.evaluate_all(point)
        if isinstance(self.kind, Unreachable):
            reached = self.kind.unsafe.reached(env)
            return reached is None, {o: env[o] for o in self.circuit.outputs}, reached
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
