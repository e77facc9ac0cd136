"""Check ``"kind": "exhaustive"`` certificates: a claim on a finite domain, re-evaluated at every point.

The certificate names the network (not folded with the target), the claim and its target, the
domain, and the verdict::

    {"format": "mathcircuits-certificate", "version": 1, "kind": "exhaustive",
     "network": {...},                      # as for "bab"; activations relu, linear or sigmoid
     "claim": {"kind": "equality" | "tolerance" | "predicate" | "unreachable",
               "output": NAME, "target": EXPR,        # not for "unreachable"
               "eps": "p/q",                          # "tolerance"
               "op": ">", "threshold": "p/q",         # "predicate": (N op threshold) <=> target
               "unsafe": [[atom, ...], ...]},         # "unreachable": as the "unsafe" of "bab"
     "domain": {"x": {"integers": ["0", "15"]} | {"values": ["-5", "3"]} | {"interval": ...}},
     "verdict": "holds" | "fails", "point": {"x": "17"},  # "point" exactly when "fails"
     "source": {...}, "stats": {...}}

``EXPR`` is the exact expression format of :mod:`verify.certificate_expr`; the target may use only
the network's inputs. The domain is read as in ``"counterexample"`` certificates
(:func:`verify.certificate_point.parse_domain`).

**holds**: every input's set must be finite (``integers`` with both ends, or ``values``); the checker
enumerates the product itself (at most :data:`MAX_POINTS` points) and at every point evaluates the
network and the target exactly and requires the claim to hold there: ``N = f``, ``|N - f| <= eps``,
``(N op threshold) == f`` (``f`` a condition), or no disjunct of ``unsafe`` reached (every atom of it
holding). A target without a value at a point (``mod`` by 0, a ``piecewise`` with no true condition)
fails the check. **fails**: the point must lie in the domain (which may then be infinite), the target
must have a value there and the claim must fail there.

ReLU and linear networks are evaluated exactly. A sigmoid's value ``1/(1 + exp(-z))`` is irrational
for rational ``z != 0`` (at 0 it is exactly 1/2): it is enclosed in a rational interval read off a
python-flint ``arb`` ball (rigorous ball arithmetic), intervals are carried exactly through the
network, and the claim counts as holding (or failing) at a point only when it does for every value
of the interval, tried at 64 bits and then up to 4096; otherwise the check fails ("cannot decide").
This is the only step that trusts more than rational arithmetic, and only sigmoid networks take it.

>>> from verify.certificate import FORMAT, check
>>> net = {"inputs": ["x"], "outputs": ["y"],
...        "assignments": [{"name": "h", "terms": [["x", "1"]], "bias": "0", "activation": "relu"},
...                        {"name": "y", "terms": [["h", "2"], ["x", "-1"]], "bias": "0", "activation": "linear"}]}
>>> cert = {"format": FORMAT, "version": 1, "kind": "exhaustive", "network": net,
...         "claim": {"kind": "equality", "output": "y", "target": ["abs", ["var", "x"]]},
...         "domain": {"x": {"integers": ["-3", "3"]}}, "verdict": "holds"}
>>> report = check(cert)
>>> report.ok, report.leaves
(True, 7)
>>> cert["claim"]["target"] = ["var", "x"]
>>> check(cert).problems[0]
'the claim fails at x = -3: N = 3, target -3'
>>> cert.update(verdict="fails", point={"x": "-3"})
>>> check(cert).ok
True
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping

import flint

from symbolic.errors import CertificateError
from verify import certificate_expr
from verify.certificate import (OPS, Atom, CheckReport, Limits, Network, fields, name, parse_network,
                                parse_unsafe, rational)
from verify.certificate_point import _contains, _describe, parse_domain

MAX_POINTS = 10_000_000
PRECISIONS = (64, 256, 1024, 4096)
CLAIMS = ("equality", "tolerance", "predicate", "unreachable")
_ZERO, _HALF, _ONE = flint.fmpq(0), flint.fmpq(1, 2), flint.fmpq(1)


@dataclasses.dataclass(frozen=True)
class Claim:
    """The certificate's claim, parsed."""

    kind: str
    output: str | None = None
    target: certificate_expr.Expr | None = None
    eps: flint.fmpq | None = None
    op: str | None = None
    threshold: flint.fmpq | None = None
    unsafe: tuple[tuple[Atom, ...], ...] = ()


# -- parsing -------------------------------------------------------------------------------------
def parse_network_with_sigmoids(value: object, limits: Limits) -> tuple[Network, frozenset[str]]:
    """The network (see :func:`verify.certificate.parse_network`), also allowing ``"sigmoid"``
    assignments: they are read as linear and their names returned (their value is the sigmoid of
    the assignment's affine pre-activation)."""
    sigmoids = set()
    if isinstance(value, dict) and isinstance(value.get("assignments"), list):
        items = []
        for a in value["assignments"]:
            if isinstance(a, dict) and a.get("activation") == "sigmoid":
                sigmoids.add(str(a.get("name")))  # parse_network checks the name itself
                a = {**a, "activation": "linear"}
            items.append(a)
        value = {**value, "assignments": items}
    return parse_network(value, limits), frozenset(sigmoids)


def parse_claim(value: object, network: Network, limits: Limits) -> Claim:
    """The ``claim`` object (its fields depend on its ``kind``)."""
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind not in CLAIMS:
        raise CertificateError(f"claim.kind: expected one of {', '.join(CLAIMS)}, got {str(kind)[:40]!r}")
    if kind == "unreachable":
        data = fields(value, "claim", ("kind", "unsafe"))
        return Claim(kind, unsafe=parse_unsafe(data["unsafe"], network, limits))
    extra = {"equality": (), "tolerance": ("eps",), "predicate": ("op", "threshold")}[kind]
    data = fields(value, "claim", ("kind", "output", "target", *extra))
    output = name(data["output"], "claim.output", limits)
    if output not in network.outputs:
        raise CertificateError(f"claim.output: {output!r} is not an output of the network")
    target = certificate_expr.parse(data["target"], "claim.target", limits)
    unknown = sorted(target.variables - set(network.inputs))
    if unknown:
        raise CertificateError(f"claim.target: {unknown[0]!r} is not an input of the network")
    want = certificate_expr.CONDITION if kind == "predicate" else certificate_expr.NUMBER
    if target.kind != want:
        raise CertificateError(f"claim.target: a {kind} claim needs a {want} as target, got a {target.kind}")
    if kind == "tolerance":
        eps = rational(data["eps"], "claim.eps", limits)
        if eps < 0:
            raise CertificateError(f"claim.eps: the tolerance {eps} is negative")
        return Claim(kind, output, target, eps=eps)
    if kind == "predicate":
        if data["op"] not in OPS:
            raise CertificateError(f"claim.op: {str(data['op'])[:40]!r} is not one of {', '.join(OPS)}")
        return Claim(kind, output, target, op=data["op"], threshold=rational(data["threshold"], "claim.threshold", limits))
    return Claim(kind, output, target)


# -- exact (or enclosed) values --------------------------------------------------------------------
def _ball_bounds(ball) -> tuple[flint.fmpq, flint.fmpq]:
    """The exact rational ends ``mid -+ rad`` of an arb ball."""
    if not ball.is_finite():
        return _ZERO, _ONE
    (m, e), (r, f) = ball.mid().man_exp(), ball.rad().man_exp()
    mid = flint.fmpq(m) * 2 ** int(e) if e >= 0 else flint.fmpq(m, flint.fmpz(2) ** int(-e))
    rad = flint.fmpq(r) * 2 ** int(f) if f >= 0 else flint.fmpq(r, flint.fmpz(2) ** int(-f))
    return mid - rad, mid + rad


def sigmoid_bounds(z: flint.fmpq, bits: int) -> tuple[flint.fmpq, flint.fmpq]:
    """Rational ``lo <= 1/(1 + exp(-z)) <= hi`` (exact 1/2 at 0), from an arb ball of ``bits`` bits.

    >>> lo, hi = sigmoid_bounds(flint.fmpq(1, 2), 64)
    >>> lo < flint.fmpq(6224593312018545646389, 10**22) < hi, float(hi - lo) < 1e-17
    (True, True)
    """
    if z == _ZERO:
        return _HALF, _HALF
    old = flint.ctx.prec
    try:
        flint.ctx.prec = bits
        ball = 1 / (1 + (-flint.arb(z)).exp())
        lo, hi = _ball_bounds(ball)
    finally:
        flint.ctx.prec = old
    return max(lo, _ZERO), min(hi, _ONE)  # 0 < sigmoid < 1


def enclose(network: Network, sigmoids: frozenset[str], point: Mapping[str, flint.fmpq],
            bits: int) -> dict[str, tuple[flint.fmpq, flint.fmpq]]:
    """Every name's value at ``point`` as an interval ``(lo, hi)``: a point (``lo == hi``) without
    sigmoids, else sigmoids enclosed at ``bits`` bits and intervals carried exactly."""
    env = {n: (v, v) for n, v in point.items()}
    for a in network.assignments:
        lo = hi = a.bias
        for src, w in a.terms:
            slo, shi = env[src]
            if slo is shi:
                lo, hi = lo + w * slo, hi + w * slo
            elif w >= _ZERO:
                lo, hi = lo + w * slo, hi + w * shi
            else:
                lo, hi = lo + w * shi, hi + w * slo
        if a.relu:
            lo, hi = max(lo, _ZERO), max(hi, _ZERO)
        elif a.name in sigmoids:
            lo, hi = sigmoid_bounds(lo, bits)[0], sigmoid_bounds(hi, bits)[1]
        env[a.name] = (lo, lo) if lo == hi else (lo, hi)
    return env


def _compare(lo, hi, op: str, rhs) -> bool | None:
    """Whether ``v op rhs`` for every ``v`` in ``[lo, hi]`` (True), for none (False), else None."""
    if op in (">", ">="):
        yes = lo > rhs if op == ">" else lo >= rhs
        no = hi <= rhs if op == ">" else hi < rhs
    else:
        yes = hi < rhs if op == "<" else hi <= rhs
        no = lo >= rhs if op == "<" else lo > rhs
    return True if yes else (False if no else None)


def _atom(atom: Atom, env) -> bool | None:
    lo = hi = _ZERO
    for v, c in atom.coeffs:
        vlo, vhi = env[v]
        lo, hi = (lo + c * vlo, hi + c * vhi) if c >= _ZERO else (lo + c * vhi, hi + c * vlo)
    return _compare(lo, hi, atom.op, atom.rhs)


def _show_interval(lo, hi) -> str:
    return str(lo) if lo == hi else f"in [{lo}, {hi}]"


def holds_at(claim: Claim, network: Network, sigmoids: frozenset[str],
             point: Mapping[str, flint.fmpq]) -> tuple[bool | None, str]:
    """``(True, values)`` where the claim holds at ``point``, ``(False, values)`` where it fails,
    ``(None, why)`` where the target has no value or the enclosures cannot decide."""
    target = None
    if claim.target is not None:
        target = claim.target.evaluate(point)
        if isinstance(target, certificate_expr.Undefined):
            return None, f"the target has no value ({target.why})"
    for bits in PRECISIONS if sigmoids else PRECISIONS[:1]:
        env = enclose(network, sigmoids, point, bits)
        if claim.kind == "unreachable":
            reached = [all(_atom(a, env) is True for a in atoms) for atoms in claim.unsafe]
            refuted = [any(_atom(a, env) is False for a in atoms) for atoms in claim.unsafe]
            shown = ", ".join(f"{n} {_show_interval(*env[n])}" for n in network.outputs)
            if any(reached):
                return False, f"disjunct {reached.index(True)} of the unsafe set is reached (outputs {shown})"
            if all(refuted):
                return True, shown
            continue
        lo, hi = env[claim.output]
        shown = f"N = {_show_interval(lo, hi)}, target {str(target).lower()}"
        if claim.kind == "equality":
            verdict = True if lo == hi == target else (False if hi < target or lo > target else None)
        elif claim.kind == "tolerance":
            inside = lo >= target - claim.eps and hi <= target + claim.eps
            outside = hi < target - claim.eps or lo > target + claim.eps
            verdict = True if inside else (False if outside else None)
        else:
            fires = _compare(lo, hi, claim.op, claim.threshold)
            verdict = None if fires is None else fires == target
        if verdict is not None:
            return verdict, shown
    return None, f"the sigmoid enclosures at {PRECISIONS[-1]} bits cannot decide the claim"


# -- the domain ------------------------------------------------------------------------------------
def _finite_values(spec: tuple, where: str) -> tuple[flint.fmpq, flint.fmpq, int] | tuple[tuple, None, int]:
    if spec[0] == "values":
        return spec[1], None, len(spec[1])
    if spec[0] == "integers" and spec[1] is not None and spec[2] is not None:
        if spec[2] < spec[1]:
            raise CertificateError(f"domain.{where}: the integer range {spec[1]}..{spec[2]} is empty")
        return spec[1], spec[2], int((spec[2] - spec[1]).p) + 1
    raise CertificateError(f"domain.{where}: a \"holds\" verdict needs a finite set "
                           "(\"integers\" with both ends, or \"values\")")


def points(domain: Mapping[str, tuple], inputs: tuple[str, ...]) -> tuple[int, Iterator[dict]]:
    """The number of points of a finite domain and an iterator over them (an odometer, no lists)."""
    sets = [_finite_values(domain[n], n) for n in inputs]
    count = 1
    for _, _, size in sets:
        count *= size
        if count > MAX_POINTS:
            raise CertificateError(f"domain: more than {MAX_POINTS} points to check")

    def walk() -> Iterator[dict]:
        index = [0] * len(inputs)
        for _ in range(count):
            yield {n: (s[0][k] if s[1] is None else s[0] + k) for n, s, k in zip(inputs, sets, index)}
            for i in range(len(index) - 1, -1, -1):
                index[i] += 1
                if index[i] < sets[i][2]:
                    break
                index[i] = 0
    return count, walk()


# -- the check -------------------------------------------------------------------------------------
def _where(point: Mapping[str, flint.fmpq]) -> str:
    return ", ".join(f"{n} = {v}" for n, v in point.items())


def check_finite(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    """Check a ``"kind": "exhaustive"`` certificate (see :func:`verify.certificate.check`)."""
    start = time.perf_counter()
    fields(cert, "certificate", ("format", "version", "kind", "network", "claim", "domain", "verdict"),
           ("point", "source", "stats"))
    network, sigmoids = parse_network_with_sigmoids(cert["network"], limits)
    claim = parse_claim(cert["claim"], network, limits)
    domain = parse_domain(cert["domain"], network, limits)
    verdict = cert["verdict"]
    if verdict not in ("holds", "fails"):
        raise CertificateError(f"verdict: expected \"holds\" or \"fails\", got {str(verdict)[:40]!r}")
    if (verdict == "fails") != ("point" in cert):
        raise CertificateError("point: a \"fails\" verdict needs its point, and only it has one")
    problems: list[str] = []
    if verdict == "fails":
        given = fields(cert["point"], "point", network.inputs)
        point = {n: rational(given[n], f"point.{n}", limits) for n in network.inputs}
        problems += [f"the point is outside the domain: {n} = {point[n]} is not in {_describe(domain[n])}"
                     for n in network.inputs if not _contains(domain[n], point[n])]
        outcome, shown = holds_at(claim, network, sigmoids, point)
        if outcome is not False:
            problems.append(f"the claim {'holds' if outcome else 'is not shown to fail'} at {_where(point)}: {shown}")
        return CheckReport(not problems, tuple(problems), 1, 0, time.perf_counter() - start, "exhaustive")
    count, walk = points(domain, network.inputs)
    checked, late = 0, False
    for point in walk:
        if checked % 256 == 0 and deadline is not None and time.monotonic() > deadline:
            late = True
            problems.append(f"timed out after {checked} of {count} points")
            break
        checked += 1
        outcome, shown = holds_at(claim, network, sigmoids, point)
        if outcome is not True:
            problems.append(f"the claim {'fails' if outcome is False else 'is not shown to hold'} at "
                            f"{_where(point)}: {shown}")
            if len(problems) >= limits.max_problems:
                break
    return CheckReport(not problems, tuple(problems), checked, 0, time.perf_counter() - start, "exhaustive",
                       timed_out=late and len(problems) == 1)
