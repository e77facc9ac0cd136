"""Write our claims as ONNX + VNN-LIB (the target folded into the network) and results in the competition's format.

:func:`claim_to_spec` turns any claim on a numeric network into a network named ``X_0..``/``Y_0..``
and a :class:`~proofs.vnnlib_to_spec.Spec` whose unsafe set is where the claim fails: ``N = f``
becomes the network ``N - f`` (the target lowered to ReLUs) with unsafe set ``Y_0 < 0 or Y_0 > 0``;
``|N - f| <= eps`` gives ``Y_0 > eps or Y_0 < -eps``; a piecewise target with linear conditions
gives one output ``N - f_i`` per piece, each unsafe where its condition holds; ``(N > t) <=> c`` keeps ``N`` and writes
``(N > t and not c) or (N <= t and c)`` (``c`` must be linear in the inputs). A domain of finite
sets becomes a union of point boxes; on such a domain a target that cannot be folded (``x mod 2``,
``[x < 10]``, a table of examples) is evaluated exactly at each point instead, each point box with
its own unsafe set (``N < f(p) - eps or N > f(p) + eps``). :func:`spec_to_vnnlib` prints a Spec as VNN-LIB with exact
numbers: a decimal when the value has one, else ``(/ p q)``.

>>> from networks import library as lib
>>> from verify.claim import Claim
>>> net, spec = claim_to_spec(Claim(lib.make_minimum(), sp.Min(sym('x1'), sym('x2'))))
>>> net.inputs, net.outputs, str(spec.cases[0].unsafe)
(('X_0', 'X_1'), ('Y_0',), 'Y_0 < 0 or Y_0 > 0')
>>> print(spec_to_vnnlib(spec).splitlines()[-1])
(assert (or (< Y_0 0) (> Y_0 0)))
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import sympy as sp

from proofs.vnnlib_to_spec import Case, Spec
from symbolic import errors
from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.expr_to_circuit import difference_circuit
from symbolic.evaluate import evaluate_expr
from symbolic.exact import fraction_of
from symbolic.relu import sym  # noqa: F401 - the module docstring's example uses it
from verify.claim import Claim, Equality, Predicate, Tolerance, Unreachable
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval
from verify.output_set import NEGATE, Atom, OutputSet, conjoin, from_condition

MAX_BOXES = 4096  # points of a finite domain written as a union of boxes
MAX_DECIMALS = 400  # digits after the point of an exact decimal; longer values are written (/ p q)


def with_vnnlib_names(circuit: Circuit) -> Circuit:
    """The same network with inputs ``X_0..`` and outputs ``Y_0..`` in order (other names that
    clash are renamed; an output that is an input or repeats another becomes a linear copy).

    >>> from symbolic.circuit import from_layers
    >>> c = with_vnnlib_names(from_layers([([[1, -1]], None)]))
    >>> c.inputs, c.outputs, c.evaluate({'X_0': 3, 'X_1': 1})
    (('X_0', 'X_1'), ('Y_0',), (Fraction(2, 1),))
    """
    xs = [f"X_{i}" for i in range(len(circuit.inputs))]
    ys = [f"Y_{j}" for j in range(len(circuit.outputs))]
    if list(circuit.inputs) == xs and list(circuit.outputs) == ys:
        return circuit
    mapping = dict(zip(circuit.inputs, xs))
    copies = []
    for y, name in zip(ys, circuit.outputs):
        if name in circuit.by_name and name not in mapping:
            mapping[name] = y
        else:
            copies.append((y, name))
    taken = {a.name for a in circuit.assignments} | set(xs) | set(ys) | {str(p) for p in circuit.parameters}
    for a in circuit.assignments:
        if a.name not in mapping and re.match(r"^[XY]_\d+$", a.name):
            fresh = "h_" + a.name
            while fresh in taken:
                fresh += "_"
            mapping[a.name] = fresh
            taken.add(fresh)
    renamed = circuit.renamed(mapping)
    extra = tuple(Assignment(y, ((mapping.get(n, n), 1),), 0, Activation.LINEAR) for y, n in copies)
    return Circuit(renamed.inputs, renamed.assignments + extra, tuple(ys))


def number_text(value: Fraction) -> str:
    """An exact VNN-LIB number: ``-0.5``, ``3``, ``0.0001220703125``, or ``(/ 1 3)``.

    >>> [number_text(Fraction(v)) for v in ('-1/2', '3', '1/8192', '1/3', '-2/3')]
    ['-0.5', '3', '0.0001220703125', '(/ 1 3)', '(/ -2 3)']
    """
    value = Fraction(value)
    q, twos, fives = value.denominator, 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    digits = max(twos, fives)
    if q != 1 or digits > MAX_DECIMALS:
        return f"(/ {value.numerator} {value.denominator})"
    if digits == 0:
        return str(value.numerator)
    scaled = abs(value.numerator) * 10**digits // value.denominator
    whole, frac = divmod(scaled, 10**digits)
    return f"{'-' if value < 0 else ''}{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def _sum_text(terms: Sequence[tuple[str, Fraction]], constant: Fraction | None = None) -> str:
    parts = [name if c == 1 else f"(* {number_text(c)} {name})" for name, c in terms]
    if constant or not parts:
        parts.append(number_text(constant or Fraction(0)))
    return parts[0] if len(parts) == 1 else f"(+ {' '.join(parts)})"


def atom_text(atom: Atom) -> str:
    """``(op LEFT RIGHT)``: positive terms left, the rest and the constant right.

    >>> atom_text(Atom((('Y_3', 2), ('Y_4', -1)), '>=', Fraction(1, 10)))
    '(>= (* 2 Y_3) (+ Y_4 0.1))'
    """
    left, op, right, rhs = atom.sides()
    return f"({op} {_sum_text(left)} {_sum_text(right, rhs) if right else number_text(rhs)})"


def _box_atoms(box: Domain, inputs: Sequence[str]) -> list[str]:
    out = []
    for name in inputs:
        s = box.of(name)
        if not isinstance(s, RealInterval):
            raise errors.ClaimError(f"{name} in {s}: VNN-LIB boxes are real intervals")
        if s.lo is not None:
            out.append(f"({'>' if s.lo_open else '>='} {name} {number_text(s.lo)})")
        if s.hi is not None:
            out.append(f"({'<' if s.hi_open else '<='} {name} {number_text(s.hi)})")
    return out


def _set_text(unsafe: OutputSet) -> str | None:
    """One formula for the set (None when it is everything)."""
    if any(not d for d in unsafe.disjuncts):
        return None
    if not unsafe.disjuncts:
        return "(< 0 0)"
    ands = [atom_text(d[0]) if len(d) == 1 else f"(and {' '.join(map(atom_text, d))})" for d in unsafe.disjuncts]
    return ands[0] if len(ands) == 1 else f"(or {' '.join(ands)})"


def spec_to_vnnlib(spec: Spec, comment: str = "") -> str:
    """The VNN-LIB text of ``spec``: declarations, then the box and the unsafe set (one case), or
    one ``or`` over the cases (``and`` of each box and its unsafe set)."""
    lines = [f"; {line}" for line in comment.splitlines()] + [f"(declare-const {n} Real)" for n in spec.inputs]
    lines += [f"(declare-const {n} Real)" for n in spec.outputs] + [""]
    if not spec.cases:
        return "\n".join(lines + ["; every input box is empty: the property holds", "(assert (< 0 0))", ""])
    if len(spec.cases) == 1:
        case = spec.cases[0]
        lines += [f"(assert {a})" for a in _box_atoms(case.box, spec.inputs)]
        unsafe = case.unsafe.disjuncts
        body = [atom_text(a) for a in unsafe[0]] if len(unsafe) == 1 else [_set_text(case.unsafe)]
        return "\n".join(lines + [f"(assert {b})" for b in body if b is not None] + [""])
    ors = []
    for case in spec.cases:
        parts = _box_atoms(case.box, spec.inputs) + [t for t in [_set_text(case.unsafe)] if t is not None]
        ors.append(f"(and {' '.join(parts)})" if len(parts) > 1 else parts[0] if parts else "(<= 0 0)")
    return "\n".join(lines + [f"(assert (or {' '.join(ors)}))", ""])


# -- claims as (network, spec) ---------------------------------------------------------------------
def _boxes(domain: Domain, inputs: Sequence[str]) -> list[Domain]:
    """The domain as a union of real boxes (finite sets and bounded integer ranges become points)."""
    choices = []
    for name in inputs:
        s = domain.of(name)
        if isinstance(s, RealInterval):
            choices.append([s])
        elif isinstance(s, FiniteSet) or (isinstance(s, IntegerRange) and s.bounded):
            choices.append([RealInterval(v, v) for v in s.points()])
        else:
            raise errors.ClaimError(f"{name} ranges over {s}: VNN-LIB has only real variables, so an unbounded "
                                    "integer domain cannot be written")
    count = 1
    for c in choices:
        count *= len(c)
    if count > MAX_BOXES:
        raise errors.ClaimError(f"the domain has {count} points; at most {MAX_BOXES} are written as boxes")
    return [Domain({n: s for n, s in zip(inputs, combo) if s != RealInterval()}) for combo in itertools.product(*choices)]


def _renamed(unsafe: OutputSet, mapping: Mapping[str, str]) -> OutputSet:
    return OutputSet(tuple(tuple(Atom(tuple((mapping[n], c) for n, c in a.coeffs), a.op, a.rhs) for a in d)
                           for d in unsafe.disjuncts))


def _outside(name: str, lo: Fraction, hi: Fraction) -> OutputSet:
    return OutputSet(((Atom(((name, 1),), "<", lo),), (Atom(((name, 1),), ">", hi),)))


def _folded(claim: Claim) -> tuple[Circuit, OutputSet]:
    """The network and one unsafe set for the whole domain (ClaimError when there is none)."""
    circuit, kind = claim.circuit, claim.kind
    if isinstance(kind, Unreachable):
        return circuit, kind.unsafe
    if isinstance(kind, Predicate):
        circuit = Circuit(circuit.inputs, circuit.assignments, (claim.output,))
        fires, quiet = (OutputSet(((Atom(((claim.output, 1),), op, kind.threshold),),)) for op in (kind.op, NEGATE[kind.op]))
        if claim.target == sp.true:
            return circuit, quiet
        holds, fails = from_condition(claim.target), from_condition(sp.Not(claim.target))
        return circuit, OutputSet(tuple(conjoin([fires.disjuncts, fails.disjuncts]) + conjoin([quiet.disjuncts, holds.disjuncts])))
    eps = kind.eps if isinstance(kind, Tolerance) else Fraction(0)
    target = sp.piecewise_fold(claim.target)
    pieces = target.args if isinstance(target, sp.Piecewise) else ((target, sp.true),)
    base, names, unsafe, earlier = Circuit(circuit.inputs, circuit.assignments, (claim.output,)), [], [], []
    for value, condition in pieces:  # piece i: N - value_i on (condition_i and no earlier condition)
        try:
            folded = difference_circuit(base, value, claim.output)
            region = conjoin([from_condition(condition).disjuncts, *(from_condition(sp.Not(c)).disjuncts for c in earlier)])
        except errors.MathCircuitsError as exc:
            raise errors.ClaimError(f"the target {claim.target} cannot be folded into the network: {exc}") from None
        base, earlier = Circuit(base.inputs, folded.assignments, (claim.output,)), earlier + [condition]
        names.append(folded.output)
        unsafe += conjoin([region, _outside(folded.output, -eps, eps).disjuncts])
    return Circuit(base.inputs, base.assignments, tuple(names)), OutputSet(tuple(unsafe))


def _pointwise(claim: Claim, box: Domain) -> OutputSet:
    """The unsafe set of one point of a finite domain: the target evaluated there, exactly."""
    point = {n: s.lo for n, s in box.sets.items()}
    value = evaluate_expr(claim.target, point)
    kind = claim.kind
    if isinstance(kind, Predicate):
        return OutputSet(((Atom(((claim.output, 1),), NEGATE[kind.op] if value else kind.op, kind.threshold),),))
    eps = kind.eps if isinstance(kind, Tolerance) else Fraction(0)
    return _outside(claim.output, value - eps, value + eps)


def claim_to_spec(claim: Claim) -> tuple[Circuit, Spec]:
    """The network and the VNN-LIB property of ``claim`` (see the module docstring); ClaimError
    when it has no such form (symbolic weights, a target that is neither foldable nor on a finite
    domain, a nonlinear condition, an unbounded integer domain)."""
    if not isinstance(claim, Claim):
        raise errors.ClaimError(f"only claims on one network can be written as VNN-LIB, not {type(claim).__name__}")
    if claim.circuit.parameters:
        raise errors.ClaimError("the network has symbolic weights; VNN-LIB needs a numeric network")
    try:
        circuit, unsafe = _folded(claim)
        boxes = [(box, unsafe) for box in _boxes(claim.domain, claim.circuit.inputs)]
    except errors.ClaimError:
        finite = claim.domain.is_finite(claim.circuit.inputs) and claim.domain.size(claim.circuit.inputs) <= MAX_BOXES
        if isinstance(claim.kind, Unreachable) or not finite:
            raise
        circuit = Circuit(claim.circuit.inputs, claim.circuit.assignments, (claim.output,))
        try:
            boxes = [(box, _pointwise(claim, box)) for box in _boxes(claim.domain, circuit.inputs)]
        except (errors.MathCircuitsError, TypeError) as exc:
            raise errors.ClaimError(f"the target {claim.target} has no exact rational value at every point: {exc}") from None
    named = with_vnnlib_names(circuit)
    mapping = dict(zip(circuit.inputs, named.inputs)) | dict(zip(circuit.outputs, named.outputs))
    cases = tuple(Case(Domain({mapping[n]: s for n, s in box.sets.items()}), _renamed(unsafe, mapping),
                       tuple(range(len(unsafe.disjuncts)))) for box, unsafe in boxes)
    return named, Spec(named.inputs, named.outputs, cases, sum(len(c.unsafe.disjuncts) for c in cases))


def export_claim(claim: Claim, folder: str | Path, stem: str, dtype: str = "auto",
                 allow_rounding: bool = False) -> tuple[Path, Path, tuple[str, ...]]:
    """Write ``stem.onnx`` and ``stem.vnnlib`` into ``folder``; returns both paths and the weights
    that had to be rounded (empty unless ``allow_rounding``: then the ONNX network is not exact)."""
    from networks.circuit_to_onnx import circuit_to_onnx

    network, spec = claim_to_spec(claim)
    export = circuit_to_onnx(network, dtype, allow_rounding, doc=f"mathcircuits: {claim.statement()}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path, vnnlib_path = folder / f"{stem}.onnx", folder / f"{stem}.vnnlib"
    comment = f"mathcircuits: {claim.statement()}\non {claim.domain.describe(claim.variables)}\n" \
              "the claim holds exactly when this property is unsat"
    onnx_path.write_bytes(export.model)
    vnnlib_path.write_text(spec_to_vnnlib(spec, comment), encoding="utf-8")
    return onnx_path, vnnlib_path, export.rounded


def export_catalogue(folder: str | Path, names: Sequence[str] = (), timeout_s: float = 60) -> tuple[list, list]:
    """Write the catalogue's claims that fit (or the named ones) as ``<name>.onnx`` + ``<name>.vnnlib``
    and an ``instances.csv`` that ``mathcircuits vnnlib --instances`` (or another verifier) runs;
    returns ``(written names, [(skipped name, why)])``."""
    from proofs import catalogue

    written, skipped, rows = [], [], []
    for theorem in catalogue.select(list(names)):
        try:
            export_claim(theorem.claim, folder, theorem.name)
        except errors.MathCircuitsError as exc:
            skipped.append((theorem.name, str(exc)))
            continue
        written.append(theorem.name)
        rows.append(f"{theorem.name}.onnx,{theorem.name}.vnnlib,{timeout_s:g}\n")
    Path(folder, "instances.csv").write_text("".join(rows), encoding="utf-8")
    return written, skipped


def result_text(status: str, values: Mapping[str, object] | None = None) -> str:
    """A competition result file: ``unsat``, ``timeout``, ``unknown``, or ``sat`` and the point.
    Values are exact; a sigmoid network's transcendental output has no exact decimal, so it is
    written to 30 significant digits after a comment that says so.

    >>> print(result_text('sat', {'X_0': Fraction(1, 2), 'Y_0': Fraction(-1, 3)}), end='')
    sat
    ((X_0 0.5)
     (Y_0 (/ -1 3)))
    """
    if status not in ("sat", "unsat", "timeout", "unknown", "error"):
        raise ValueError(f"unknown result status {status!r}")
    if status != "sat":
        return status + "\n"
    from symbolic.interval import approximate

    pairs, inexact = [], []
    for name, v in (values or {}).items():
        if isinstance(v, sp.Rational):
            v = fraction_of(v)
        if isinstance(v, (int, Fraction)):
            pairs.append(f"({name} {number_text(v)})")
        else:
            pairs.append(f"({name} {approximate(v, 30)})")
            inexact.append(name)
    note = f"; {', '.join(inexact)}: transcendental (sigmoid), rounded to 30 digits\n" if inexact else ""
    return "sat\n" + note + "(" + "\n ".join(pairs) + ")\n"

