"""Check ``"kind": "counterexample"`` certificates: one exact point, in the domain, reaching the unsafe set.

A refutation's certificate names the network (the claim folded in, as for branch and bound), the
unsafe set, the input domain and the point. The checker re-derives everything with python-flint
rationals: the point lies in the domain (open ends, integer ranges and finite sets included), the
network's value there, and one disjunct of the unsafe set whose every atom holds. Nothing is taken
from the certificate's ``reached`` hint except as a cross-check.

>>> from verify.certificate import FORMAT, check
>>> cert = {"format": FORMAT, "version": 1, "kind": "counterexample",
...         "network": {"inputs": ["x"], "outputs": ["y"],
...                     "assignments": [{"name": "y", "terms": [["x", "2"]], "bias": "0",
...                                      "activation": "relu"}]},
...         "domain": {"x": {"interval": ["-1", "1"], "open": [False, True]}},
...         "unsafe": [[{"coeffs": {"y": "1"}, "op": ">", "rhs": "1"}]],
...         "point": {"x": "3/4"}}
>>> check(cert).ok
True
>>> cert["point"] = {"x": "1"}     # the upper end is open
>>> check(cert).problems
('the point is outside the domain: x = 1 is not in [-1, 1)',)
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import flint

from symbolic.errors import CertificateError
from verify.certificate import (CheckReport, Limits, Network, array, fields, parse_network, parse_unsafe,
                                rational)


def parse_domain(value: object, network: Network, limits: Limits) -> dict[str, tuple]:
    """Per input: ``("interval", lo, hi, lo_open, hi_open)`` (None = infinite end),
    ``("integers", lo, hi)`` or ``("values", (v, ...))``."""
    data = fields(value, "domain", network.inputs)
    out = {}
    for n in network.inputs:
        where = f"domain.{n}"
        item = data[n]
        if not isinstance(item, dict) or len(item) not in (1, 2):
            raise CertificateError(f"{where}: expected {{\"interval\": [lo, hi], \"open\": [a, b]}}, "
                                   "{\"integers\": [lo, hi]} or {\"values\": [...]}")
        if "interval" in item:
            fields(item, where, ("interval",), ("open",))
            lo, hi = (_end(v, f"{where}.interval[{i}]", limits) for i, v in enumerate(array(item["interval"], f"{where}.interval", 2)))
            flags = array(item.get("open", [False, False]), f"{where}.open", 2)
            if not all(isinstance(f, bool) for f in flags):
                raise CertificateError(f"{where}.open: expected two booleans")
            if lo is not None and hi is not None and lo > hi:
                raise CertificateError(f"{where}: lower end {lo} is above upper end {hi}")
            out[n] = ("interval", lo, hi, flags[0], flags[1])
        elif "integers" in item:
            fields(item, where, ("integers",))
            lo, hi = (_end(v, f"{where}.integers[{i}]", limits) for i, v in enumerate(array(item["integers"], f"{where}.integers", 2)))
            for end in (lo, hi):
                if end is not None and end.q != 1:
                    raise CertificateError(f"{where}.integers: {end} is not an integer")
            out[n] = ("integers", lo, hi)
        elif "values" in item:
            fields(item, where, ("values",))
            values = tuple(rational(v, f"{where}.values[{i}]", limits) for i, v in enumerate(array(item["values"], f"{where}.values")))
            if not values:
                raise CertificateError(f"{where}.values: the set is empty")
            out[n] = ("values", values)
        else:
            raise CertificateError(f"{where}: unknown set {sorted(item)[0]!r}")
    return out


def _end(value: object, where: str, limits: Limits):
    return None if value is None else rational(value, where, limits)


def _contains(spec: tuple, v: flint.fmpq) -> bool:
    if spec[0] == "values":
        return v in spec[1]
    lo, hi = spec[1], spec[2]
    open_lo, open_hi = (spec[3], spec[4]) if spec[0] == "interval" else (False, False)
    if spec[0] == "integers" and v.q != 1:
        return False
    if lo is not None and (v < lo or (open_lo and v == lo)):
        return False
    return hi is None or not (v > hi or (open_hi and v == hi))


def _describe(spec: tuple) -> str:
    if spec[0] == "values":
        return "{" + ", ".join(str(v) for v in spec[1]) + "}"
    lo = "-oo" if spec[1] is None else str(spec[1])
    hi = "oo" if spec[2] is None else str(spec[2])
    if spec[0] == "integers":
        return f"the integers {lo}..{hi}"
    left = "(" if spec[3] or spec[1] is None else "["
    right = ")" if spec[4] or spec[2] is None else "]"
    return f"{left}{lo}, {hi}{right}"


def evaluate(network: Network, point: Mapping[str, flint.fmpq]) -> dict[str, flint.fmpq]:
    """Every value of the network at ``point``, exactly."""
    env = dict(point)
    zero = flint.fmpq(0)
    for a in network.assignments:
        pre = a.bias
        for src, w in a.terms:
            pre += w * env[src]
        env[a.name] = (pre if pre > zero else zero) if a.relu else pre
    return env


def holds(atom, env: Mapping[str, flint.fmpq]) -> bool:
    """Whether ``sum(coeffs * values) op rhs`` holds, exactly."""
    lhs = flint.fmpq(0)
    for v, c in atom.coeffs:
        lhs += c * env[v]
    return {"<=": lhs <= atom.rhs, "<": lhs < atom.rhs, ">=": lhs >= atom.rhs, ">": lhs > atom.rhs}[atom.op]


def check_point(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    """Check a ``"kind": "counterexample"`` certificate (see :func:`verify.certificate.check`)."""
    start = time.perf_counter()
    fields(cert, "certificate", ("format", "version", "kind", "network", "domain", "unsafe", "point"),
           ("reached", "source", "stats"))
    network = parse_network(cert["network"], limits)
    domain = parse_domain(cert["domain"], network, limits)
    unsafe = parse_unsafe(cert["unsafe"], network, limits)
    given = fields(cert["point"], "point", network.inputs)
    point = {n: rational(given[n], f"point.{n}", limits) for n in network.inputs}
    hint = cert.get("reached")
    if hint is not None and (not isinstance(hint, int) or isinstance(hint, bool) or not 0 <= hint < len(unsafe)):
        raise CertificateError(f"reached: expected a disjunct index 0..{len(unsafe) - 1}, got {hint!r}")
    problems = [f"the point is outside the domain: {n} = {point[n]} is not in {_describe(domain[n])}"
                for n in network.inputs if not _contains(domain[n], point[n])]
    env = evaluate(network, point)
    reached = [d for d, atoms in enumerate(unsafe) if all(holds(a, env) for a in atoms)]
    if not reached:
        shown = ", ".join(f"{n} = {env[n]}" for n in network.outputs)
        problems.append(f"the point reaches no disjunct of the unsafe set (outputs {shown})")
    elif hint is not None and hint not in reached:
        problems.append(f"the point does not reach disjunct {hint} as the certificate says (it reaches {reached[0]})")
    return CheckReport(not problems, tuple(problems), 0, 0, time.perf_counter() - start, "counterexample",
                       reached=reached[0] if reached else None)
