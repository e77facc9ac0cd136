"""Check proof certificates exactly, with rationals only: the trusted core behind ``mathcircuits certify``.

A certificate is a JSON object ``{"format": "mathcircuits-certificate", "version": 1, "kind": ...}``
(docs/certificates.md). :func:`load` reads a file with size caps; :func:`check` validates every
field strictly and dispatches on ``kind`` to a checker registered in :data:`KINDS`: ``"bab"``, a
branch-and-bound split tree (:mod:`verify.certificate_bab`); ``"counterexample"``, one exact point
(:mod:`verify.certificate_point`); ``"exhaustive"``, a claim re-evaluated on every point of a finite
domain (:mod:`verify.certificate_finite`); ``"regions"``, cells of a 1-2 input box
(:mod:`verify.certificate_regions`); ``"all"``, a bundle of certificates that must all check. Checking uses python-flint rationals
(``fmpq``) only: no floats, no LP solver, no SMT solver, nothing from the search code (a sigmoid in an
``"exhaustive"`` certificate is enclosed by python-flint's rigorous ``arb`` balls).

Malformed input (bad JSON, a missing or unknown field, a number that is not ``p/q``, a cap
exceeded) raises :class:`symbolic.errors.CertificateError`; a well-formed certificate whose proof
does not go through gives a :class:`CheckReport` with ``ok=False`` and every problem found.

>>> cert = {"format": FORMAT, "version": 1, "kind": "bab",
...         "network": {"inputs": ["x"], "outputs": ["y"],
...                     "assignments": [{"name": "y", "terms": [["x", "1"]], "bias": "0",
...                                      "activation": "relu"}]},
...         "box": {"x": ["-1", "1"]},
...         "unsafe": [[{"coeffs": {"y": "1"}, "op": ">", "rhs": "2"}]],
...         "tree": {"leaf": [{"mu": {"0": "1"}}]}}
>>> report = check(cert)
>>> report.ok, report.leaves, report.problems
(True, 1, ())
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

from symbolic.errors import CertificateError
from verify.certificate_fields import (
    Assignment, Atom, Limits, Network, OPS, _kind, _short, array, fields, load, name, parse_box,
    parse_network, parse_unsafe, rational)

FORMAT = "mathcircuits-certificate"
VERSION = 1


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check`: ``ok`` only when every part of the certificate checked.

    ``timed_out`` is set when the deadline stopped the check (then ``ok`` is False and the
    certificate is neither accepted nor shown wrong).
    """

    ok: bool
    problems: tuple[str, ...]
    leaves: int
    splits: int
    seconds: float
    kind: str = "bab"
    timed_out: bool = False
    reached: int | None = None  # kind "counterexample": the first disjunct the point reaches
    parts: int = 0              # kind "all": how many certificates it bundles

    def summary(self) -> str:
        """One line for people, e.g. ``certificate checked: 12 leaves, 11 splits (0.031 s)``."""
        if self.kind == "counterexample":
            if self.ok:
                return (f"counterexample checked: the point is in the domain and reaches disjunct {self.reached} "
                        f"of the unsafe set ({self.seconds:.3f} s)")
            return f"counterexample REJECTED ({len(self.problems)} problems, {self.seconds:.3f} s)"
        what = f"{self.leaves} leaves, {self.splits} splits ({self.seconds:.3f} s)"
        if self.kind in ("exhaustive", "regions"):  # leaves counts the points or cells checked
            unit = "point" if self.kind == "exhaustive" else "cell"
            what = f"{self.leaves} {unit}{'s' * (self.leaves != 1)} ({self.seconds:.3f} s)"
        if self.kind == "all":
            what = f"{self.parts} parts, {what}"
        if self.ok:
            return f"certificate checked: {what}"
        if self.timed_out:
            return f"certificate check timed out: {what}"
        return f"certificate REJECTED ({len(self.problems)} problems): {what}"


Checker = Callable[[Mapping, Limits, int, float | None], CheckReport]


def _check_bab(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    from verify import certificate_bab

    return certificate_bab.check_bab(cert, limits, workers, deadline)


def _check_point(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    from verify import certificate_point

    return certificate_point.check_point(cert, limits, workers, deadline)


def _check_all(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    """``"kind": "all"``: a conjunction (e.g. one certificate per box of a VNN-LIB property); every part
    is a whole certificate of another kind and must check."""
    start = time.perf_counter()
    fields(cert, "certificate", ("format", "version", "kind", "parts"), ("source", "stats"))
    parts = array(cert["parts"], "parts")
    if not parts:
        raise CertificateError("parts: a bundle needs at least one certificate")
    problems, leaves, splits, late = [], 0, 0, False
    for k, part in enumerate(parts):
        if isinstance(part, Mapping) and part.get("kind") == "all":
            raise CertificateError(f"parts[{k}]: bundles do not nest")
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            late = True
            problems.append(f"timed out before part {k} of {len(parts)}")
            break
        try:
            report = check(part, workers, left, limits)
        except CertificateError as exc:
            raise CertificateError(f"parts[{k}]: {exc}") from None
        problems.extend(f"part {k}: {p}" for p in report.problems)
        leaves, splits, late = leaves + report.leaves, splits + report.splits, late or report.timed_out
    return CheckReport(not problems, tuple(problems), leaves, splits, time.perf_counter() - start, "all",
                       late and all("timed out" in p for p in problems), parts=len(parts))


def _check_finite(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    from verify import certificate_finite

    return certificate_finite.check_finite(cert, limits, workers, deadline)


def _check_regions(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    from verify import certificate_regions

    return certificate_regions.check_regions(cert, limits, workers, deadline)


KINDS: dict[str, Checker] = {"bab": _check_bab, "counterexample": _check_point, "all": _check_all,
                             "exhaustive": _check_finite, "regions": _check_regions}
"""Checker per ``kind``. Another method's certificates register their checker here."""


def _check_smt(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    from verify import certificate_smt  # re-decides the query with cvc5 (in a child process)

    return certificate_smt.check_smt(cert, limits, workers, deadline)


KINDS["smt"] = _check_smt


def check(cert: Mapping, workers: int = 1, timeout_s: float | None = None, limits: Limits = Limits()) -> CheckReport:
    """Check a parsed certificate exactly; ``workers`` processes share the leaves (same result).

    Raises :class:`CertificateError` when the certificate is malformed; returns a report whose
    ``ok`` is True only when every part checked.
    """
    if not isinstance(cert, Mapping):
        raise CertificateError(f"a certificate is a JSON object, got {_kind(cert)}")
    if cert.get("format") != FORMAT:
        raise CertificateError(f"format: expected {FORMAT!r}, got {_short(cert.get('format'))}")
    if cert.get("version") != VERSION or isinstance(cert.get("version"), bool):
        raise CertificateError(f"version: this checker reads version {VERSION}, got {_short(cert.get('version'))}")
    kind = cert.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise CertificateError(f"kind: {_short(kind)} is not one of {', '.join(sorted(KINDS))}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise CertificateError(f"workers must be a positive integer, got {workers!r}")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    return KINDS[kind](cert, limits, workers, deadline)
