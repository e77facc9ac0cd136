"""Check a model against a claim: one typed pipeline from a loaded network to the facts people see.

The ``check`` command and ``make reproduce`` both run :func:`check_model`; it returns a frozen
:class:`ModelCheck` that the command line prints, the reports render and reproduce reads, so none
of them parses another's printed output. The stages, each from its own module:

1. the verdict on the file's network, weight for weight (:func:`verify.decide.decide`);
2. with ``cross_check``: a second, independent route (:mod:`verify.cross_check`);
3. with ``round``: a simpler circuit, the simplest rounding of the weights that satisfies the
   same claim, if any (:func:`verify.rounding.round_and_prove`), never presented as the file's;
4. on a bounded domain: the file's exact worst-case error (:func:`verify.worst_case.max_error`),
   and the exact distance between the file and the rounding that satisfies the claim; on all of
   R^n, for a network without biases and a positively homogeneous target, the exact relative bound
   ``|N - f| <= c max|x_i|`` (:func:`verify.homogeneous.relative_bound`).

The catalogue's trained rows (:class:`proofs.theorem.Theorem` with ``round_first``), the census,
``make reproduce`` and the ``check`` command all run this one function.

All stages share one wall-clock budget (``config.deadline``).

>>> import sympy as sp
>>> from symbolic.circuit import from_layers
>>> from symbolic.relu import sym
>>> from verify.claim import Claim
>>> from verify.domain import Domain, RealInterval
>>> net = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1.001]], None)], inputs=['x1', 'x2'])
>>> box = Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(-1, 1)})
>>> checked = check_model(Claim(net, sp.Min(sym('x1'), sym('x2')), box), CheckOptions(round=True))
>>> checked.result.verdict.value, checked.rounding.result.verdict.value, checked.rounding.denominator
('refuted', 'proved', 1)
>>> checked.facts()["simpler_circuit"].startswith("its rounding to denominators <= 1 satisfies the claim")
True
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from symbolic import errors
from symbolic.activation import RELU_AND_LINEAR
from verify.claim import Claim, Equality, Predicate, Tolerance
from verify.decide import Config, decide
from verify.result import Result
from verify.rounding import Rounding, round_and_prove
from verify.worst_case import MaxError, max_error

NOT_PIECEWISE_LINEAR = "not computed: the worst-case error is exact for ReLU and linear networks only"


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """What to do beyond the verdict: ``round`` (search a simpler circuit), ``require_max_error``
    (a worst-case error that cannot be computed is the user's error), ``cross_check``."""

    round: bool = False
    require_max_error: bool = False
    cross_check: bool = False


@dataclasses.dataclass(frozen=True)
class ModelCheck:
    """The facts of one check. ``result`` is about the file's network; ``rounding`` (with its exact
    distance ``rounding_error`` when it satisfies the claim) about a simpler circuit beside it."""

    claim: Claim
    result: Result
    worst: MaxError | None
    worst_reason: str | None
    rounding: Rounding | None
    rounding_error: MaxError | None
    rounding_forms: dict  # closed forms of the rounding as sympy objects (or "skipped: <why>"), bound, attempts
    relative: object = None  # verify.homogeneous.RelativeBound: |N - f| <= c max|x_i| on all of R^n

    @property
    def rounding_texts(self) -> dict:
        """:attr:`rounding_forms` printed (for JSON and terminals)."""
        from symbolic.printing import show

        return {k: show(v) if isinstance(v, sp.Basic) else v for k, v in self.rounding_forms.items()}

    def trained_error(self) -> dict:
        """The file's own error beside a verdict about its rounding, as reports show it: the exact
        worst case on a bounded domain, or on all of R^n the bound ``|N - f| <= c * max|x_i|`` for a
        network without biases and a positively homogeneous target; empty when neither applies."""
        inputs = list(self.claim.circuit.inputs)
        worst, bound = self.worst, self.relative
        if worst is not None:
            short = None if worst.value is None else \
                f"trained network: max |N - f| = {float(worst.value):.3g} (exact below)"
            return {"max_error": worst.value, "max_error_at": worst.at, "trained_error_short": short}
        if bound is None:
            return {}
        return {"trained_error": f"the trained network itself: {bound.statement(inputs)}, c about "
                                 f"{float(bound.c):.6g} (no biases, so N - f is positively homogeneous; c is "
                                 f"its exact maximum on [-1, 1]^{len(inputs)}, by {bound.method})",
                "relative_error_c": bound.c, "relative_error_at": bound.at,
                "trained_error_short": f"trained network: |N - f| <= {float(bound.c):.3g} * max|x_i| on "
                                       f"R^{len(inputs)} (exact c below)"}

    @property
    def simpler_circuit(self) -> str | None:
        """One line about the rounding: the bound that satisfies the claim, or that none does."""
        rounding = self.rounding
        if rounding is None:
            return None
        if rounding.proved:
            return (f"its rounding to denominators <= {rounding.denominator} satisfies the claim "
                    f"({rounding.result.method}, {rounding.result.elapsed_s:.3f} s)")
        tried = [bound for bound, verdict in rounding.attempts if verdict is not None]
        why = rounding.result.reason or \
            f"each rounding tried was {', '.join(sorted({v.value for _, v in rounding.attempts if v}))}"
        return (f"none: no rounding to denominators up to {max(tried, default=rounding.denominator)} "
                f"satisfies the claim ({why})")

    def facts(self) -> dict:
        """The JSON-ready facts beside the verdict (the ``check`` command prints them in this order)."""
        circuit = self.claim.circuit
        out: dict = {"inputs": list(circuit.inputs), "neurons": len(circuit.neurons)}
        if self.rounding is not None:
            from verify.rounding import rounding_attempts

            proved = self.rounding.proved
            texts = self.rounding_texts
            out.update({"rounded_expression": texts["rounded_expression"] if proved else None,
                        "rounded_relu_form": texts["rounded_relu_form"] if proved else None,
                        "denominator": self.rounding.denominator if proved else None,
                        "rounding_attempts": rounding_attempts(self.rounding),
                        "rounded_verdict": self.rounding.result.verdict.value,
                        "simpler_circuit": self.simpler_circuit})
        worst = self.worst
        if worst is None:
            out.update({"max_error": None, "max_error_at": None})
            if self.worst_reason:
                out["max_error_reason"] = self.worst_reason
            return out
        out.update({"max_error": None if worst.value is None else str(worst.value),
                    "max_error_at": None if worst.at is None else {k: str(v) for k, v in worst.at.items()}})
        if worst.value is not None and not worst.attained:
            out.update({"max_error_attained": False, "max_error_note": worst.note})
        if worst.value is None:
            out["max_error_bounds"] = [None if worst.lower is None else str(worst.lower),
                                       None if worst.upper is None else str(worst.upper)]
            out["max_error_reason"] = worst.reason
        if self.rounding_error is not None:
            value = self.rounding_error.value
            out["rounding_error"] = None if value is None else str(value)
        return out


def check_model(claim: Claim, options: CheckOptions = CheckOptions(), config: Config = Config()) -> ModelCheck:
    """Run the stages of the module docstring on ``claim`` (its circuit is the model as loaded)."""
    config = config.started()  # one budget for every stage
    deadline = config.deadline
    circuit, domain = claim.circuit, claim.domain
    sigmoid = any(a.activation not in RELU_AND_LINEAR for a in circuit.assignments)  # not piecewise linear
    bounded = domain.is_bounded(circuit.inputs)
    if options.require_max_error and sigmoid:
        raise errors.ClaimError("--max-error: the worst-case error is computed for ReLU and linear networks only")
    if options.require_max_error and not bounded and not isinstance(claim.kind, Predicate):
        raise errors.DomainError("--max-error needs a bounded domain, e.g. --domain \"[-1, 1]^2\"")
    result = decide(claim, config)
    if options.cross_check:
        from verify.cross_check import confirmed

        result = confirmed(result, deadline.remaining())
    rounding, texts = None, {}
    if options.round:
        rounding = round_and_prove(claim, config)
        texts = rounding.forms(deadline)
    worst = distance = None
    reason = NOT_PIECEWISE_LINEAR if sigmoid and bounded else None
    if bounded and not sigmoid and not isinstance(claim.kind, Predicate):
        worst = max_error(circuit, claim.target, domain, deadline=deadline)
        if rounding is not None and rounding.proved:
            distance = max_error(circuit, rounding.rounded, domain, deadline=deadline)
    relative = None
    if not bounded and not sigmoid and isinstance(claim.kind, (Equality, Tolerance)) and not circuit.parameters:
        from verify.homogeneous import relative_bound

        relative = relative_bound(circuit, claim.target, claim.output, deadline)
    return ModelCheck(claim, result, worst, reason, rounding, distance, texts, relative)
