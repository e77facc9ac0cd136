"""Confirm a verdict by a second, independent route: its certificate, re-checked by the standalone checker.

The first route is the method that decided the claim; the second is :func:`verify.certificate.check`
on the verdict's certificate, which shares no code with the search:

========================  ==============================================================
certificate kind          the second route
========================  ==============================================================
``smt`` (z3 proofs)       cvc5 decides the same SMT-LIB 2 query
``bab``                   the split tree and every leaf's multipliers, in exact rationals
``exhaustive``            every point evaluated again by the checker's own evaluator
``regions``               every cell's piece, vertices and the cover, in exact rationals
``counterexample``        the point replayed by the checker's own evaluator
``all``                   each part as above
========================  ==============================================================

The outcome is a :class:`CrossCheck`: ``agree`` is True when the second route confirms the verdict,
False when it contradicts it (a bug in one of the two routes: both answers are shown), and None when
there is nothing to confirm or no second route (an unknown verdict, a method without certificates,
cvc5 not installed, the time ran out); ``detail`` says which, for people.
"""

from __future__ import annotations

import dataclasses
import re
import time

from symbolic.errors import CertificateError
from verify.result import Result, Verdict

#: The second route per certificate kind, as the report names it.
ROUTES = {
    "smt": "cvc5",
    "bab": "exact certificate check",
    "exhaustive": "exact re-evaluation",
    "regions": "exact cell check",
    "counterexample": "exact replay",
    "all": "exact certificate check",
}


@dataclasses.dataclass(frozen=True)
class CrossCheck:
    """Whether a second route confirms a verdict (see the module docstring).

    >>> CrossCheck(("z3", "cvc5"), True, "cvc5 agrees: unsat", 0.01).line()
    'confirmed by z3 and cvc5 (0.010 s)'
    """

    routes: tuple[str, ...]
    agree: bool | None
    detail: str
    seconds: float
    kind: str | None = None

    def line(self) -> str:
        """One line for people."""
        if self.agree is True:
            return f"confirmed by {' and '.join(self.routes)} ({self.seconds:.3f} s)"
        if self.agree is False:
            return f"DISAGREEMENT between {' and '.join(self.routes)}: {self.detail}"
        return f"not confirmed: {self.detail}"

    def to_json(self) -> dict:
        return {"confirmed_by": list(self.routes) if self.agree else [], "routes": list(self.routes),
                "agree": self.agree, "detail": self.detail, "seconds": round(self.seconds, 6),
                "certificate_kind": self.kind}

    @staticmethod
    def from_json(data) -> CrossCheck:
        """The inverse of :meth:`to_json` (e.g. from ``Result.confirmation``)."""
        return CrossCheck(tuple(data["routes"]), data["agree"], data["detail"], data["seconds"],
                          data.get("certificate_kind"))


def first_route(method: str) -> str:
    """The deciding method without the rounding prefix: ``round(q<=1)+z3`` -> ``z3``.

    >>> first_route("round(q<=1000)+exhaustive"), first_route("z3+sigmoid-bounds"), first_route("bab")
    ('exhaustive', 'z3+sigmoid-bounds', 'bab')
    """
    return re.sub(r"^round\(q<=\d+\)\+", "", method)


def cross_check(result: Result, timeout_s: float = 10.0, certificate: dict | None = None) -> CrossCheck:
    """Confirm ``result`` by checking its certificate (``certificate``, or the one
    :func:`verify.result_to_certificate.certificate_of` builds) within ``timeout_s`` seconds."""
    from verify import certificate as checker
    from verify.result_to_certificate import NoCertificate, certificate_of

    start = time.perf_counter()
    first = first_route(result.method)
    if result.verdict is Verdict.UNKNOWN:
        return CrossCheck((first,), None, "the verdict is unknown: nothing to confirm", 0.0)
    try:
        cert = certificate if certificate is not None else certificate_of(result)
    except NoCertificate as exc:
        return CrossCheck((first,), None, f"no second route: {exc}", time.perf_counter() - start)
    kind = cert.get("kind")
    second = ROUTES.get(kind, f"{kind} check")
    routes = (first, second) if second != first else (first,)
    try:
        report = checker.check(cert, timeout_s=max(timeout_s, 0.001))
    except CertificateError as exc:  # our own certificate is malformed: one of the routes has a bug
        return CrossCheck(routes, False, f"{result.verdict.value} by {first}, but its certificate is malformed: {exc}",
                          time.perf_counter() - start, kind)
    seconds = time.perf_counter() - start
    if report.ok:
        return CrossCheck(routes, True, f"{second} agrees: {result.verdict.value}", seconds, kind)
    problems = "; ".join(report.problems[:3]) + (f" (and {len(report.problems) - 3} more)"
                                                 if len(report.problems) > 3 else "")
    if report.timed_out or _unavailable(report.problems):
        return CrossCheck(routes, None, f"{second} did not finish: {problems}", seconds, kind)
    return CrossCheck(routes, False, f"{first} says {result.verdict.value}; {second} rejects it: {problems}",
                      seconds, kind)


def confirmed(result: Result, timeout_s: float) -> Result:
    """``result`` with its :func:`cross_check` (as JSON) in ``Result.confirmation``."""
    return dataclasses.replace(result, confirmation=cross_check(result, timeout_s).to_json())


def _unavailable(problems) -> bool:
    """The second route could not run (an optional solver is not installed)."""
    return bool(problems) and all("not installed" in p for p in problems)
