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
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Mapping

import flint

from symbolic.errors import CertificateError

FORMAT = "mathcircuits-certificate"
VERSION = 1
_RATIONAL = re.compile(r"-?[0-9]+(/[0-9]+)?", re.ASCII)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
OPS = ("<=", "<", ">=", ">")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Caps that bound the memory and time a hostile certificate can cost."""

    max_bytes: int = 1 << 30        # size of the file
    max_digits: int = 2000          # digits of one numerator or denominator
    max_nodes: int = 5_000_000      # nodes of the split tree
    max_depth: int = 2000           # depth of the split tree
    max_assignments: int = 1_000_000
    max_terms: int = 20_000_000     # weights of the network, summed over assignments
    max_name: int = 200             # characters of a name
    max_problems: int = 100         # stop checking leaves once this many problems are found
    exact_relus: int = 128          # above this many ReLUs a leaf is not re-checked unrounded


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


@dataclasses.dataclass(frozen=True)
class Assignment:
    """``name = relu or identity(sum(weight * source) + bias)``, exact."""

    name: str
    terms: tuple[tuple[str, flint.fmpq], ...]
    bias: flint.fmpq
    relu: bool


@dataclasses.dataclass(frozen=True)
class Network:
    """The exact straight-line network of a certificate (assignments in topological order)."""

    inputs: tuple[str, ...]
    assignments: tuple[Assignment, ...]
    outputs: tuple[str, ...]

    def by_name(self) -> dict[str, Assignment]:
        """Assignments by name."""
        return {a.name: a for a in self.assignments}


@dataclasses.dataclass(frozen=True)
class Atom:
    """``sum(coeffs[v] * v) op rhs`` over network outputs and inputs."""

    coeffs: tuple[tuple[str, flint.fmpq], ...]
    op: str
    rhs: flint.fmpq


# -- strict field readers ------------------------------------------------------------------------
def fields(value: object, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """``value`` as a dict with all ``required`` keys and no keys beyond ``optional``."""
    if not isinstance(value, dict):
        raise CertificateError(f"{where}: expected an object, got {_kind(value)}")
    missing = [k for k in required if k not in value]
    unknown = sorted(k for k in value if k not in required and k not in optional)
    if missing:
        raise CertificateError(f"{where}: missing field {missing[0]!r}")
    if unknown:
        raise CertificateError(f"{where}: unknown field {unknown[0]!r}")
    return value


def array(value: object, where: str, length: int | None = None) -> list:
    """``value`` as a list (of exactly ``length`` items when given)."""
    if not isinstance(value, list):
        raise CertificateError(f"{where}: expected a list, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise CertificateError(f"{where}: expected {length} items, got {len(value)}")
    return value


def rational(value: object, where: str, limits: Limits) -> flint.fmpq:
    """An exact rational from the strict text ``-?digits(/digits)?`` with a nonzero denominator.

    >>> rational("-3/4", "x", Limits()), rational("7", "x", Limits())
    (-3/4, 7)
    """
    if not isinstance(value, str):
        raise CertificateError(f"{where}: numbers are strings \"p/q\", got {_kind(value)} {_short(value)}")
    if len(value) > 2 * limits.max_digits + 2 or not _RATIONAL.fullmatch(value):
        raise CertificateError(f"{where}: {_short(value)} is not a rational \"p\" or \"p/q\"")
    num, _, den = value.partition("/")
    if len(num.lstrip("-")) > limits.max_digits or len(den) > limits.max_digits:
        raise CertificateError(f"{where}: {_short(value)} has more than {limits.max_digits} digits")
    q = int(den) if den else 1
    if q == 0:
        raise CertificateError(f"{where}: {_short(value)} has a zero denominator")
    return flint.fmpq(int(num), q)


def name(value: object, where: str, limits: Limits) -> str:
    """An ASCII identifier."""
    if not isinstance(value, str) or len(value) > limits.max_name or not _NAME.fullmatch(value):
        raise CertificateError(f"{where}: {_short(value)} is not a name (an identifier)")
    return value


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- the common parts: network, box, unsafe set --------------------------------------------------
def parse_network(value: object, limits: Limits) -> Network:
    """The certificate's ``network``; every name defined before use, no duplicates."""
    data = fields(value, "network", ("inputs", "assignments", "outputs"))
    inputs = tuple(name(v, f"network.inputs[{i}]", limits) for i, v in enumerate(array(data["inputs"], "network.inputs")))
    if not inputs:
        raise CertificateError("network.inputs: the network has no inputs")
    defined = set()
    for n in inputs:
        if n in defined:
            raise CertificateError(f"network.inputs: {n!r} is listed twice")
        defined.add(n)
    items = array(data["assignments"], "network.assignments")
    if len(items) > limits.max_assignments:
        raise CertificateError(f"network.assignments: more than {limits.max_assignments} assignments")
    assignments, total = [], 0
    for i, item in enumerate(items):
        where = f"network.assignments[{i}]"
        a = fields(item, where, ("name", "terms", "bias", "activation"))
        n = name(a["name"], f"{where}.name", limits)
        if n in defined:
            raise CertificateError(f"{where}.name: {n!r} is defined twice")
        if a["activation"] not in ("relu", "linear"):
            raise CertificateError(f"{where}.activation: {_short(a['activation'])} is not \"relu\" or \"linear\"")
        terms, seen = [], set()
        raw = array(a["terms"], f"{where}.terms")
        total += len(raw)
        if total > limits.max_terms:
            raise CertificateError(f"network: more than {limits.max_terms} weights")
        for j, term in enumerate(raw):
            src, weight = array(term, f"{where}.terms[{j}]", 2)
            src = name(src, f"{where}.terms[{j}][0]", limits)
            if src not in defined:
                raise CertificateError(f"{where}.terms[{j}]: {src!r} is not an input or an earlier assignment")
            if src in seen:
                raise CertificateError(f"{where}.terms[{j}]: {src!r} appears twice")
            seen.add(src)
            terms.append((src, rational(weight, f"{where}.terms[{j}][1]", limits)))
        bias = rational(a["bias"], f"{where}.bias", limits)
        assignments.append(Assignment(n, tuple(terms), bias, a["activation"] == "relu"))
        defined.add(n)
    outputs = tuple(name(v, f"network.outputs[{i}]", limits) for i, v in enumerate(array(data["outputs"], "network.outputs")))
    if not outputs:
        raise CertificateError("network.outputs: the network has no outputs")
    for n in outputs:
        if n not in defined:
            raise CertificateError(f"network.outputs: {n!r} is not defined")
    if len(set(outputs)) != len(outputs):
        raise CertificateError("network.outputs: an output is listed twice")
    return Network(inputs, tuple(assignments), outputs)


def parse_box(value: object, network: Network, limits: Limits) -> dict[str, tuple[flint.fmpq, flint.fmpq]]:
    """The closed input box: exactly one ``[lo, hi]`` with ``lo <= hi`` per input."""
    data = fields(value, "box", network.inputs)
    box = {}
    for n in network.inputs:
        lo, hi = (rational(v, f"box.{n}[{i}]", limits) for i, v in enumerate(array(data[n], f"box.{n}", 2)))
        if lo > hi:
            raise CertificateError(f"box.{n}: lower end {lo} is above upper end {hi}")
        box[n] = (lo, hi)
    return box


def parse_unsafe(value: object, network: Network, limits: Limits) -> tuple[tuple[Atom, ...], ...]:
    """The unsafe set: a non-empty disjunction of non-empty conjunctions of atoms."""
    allowed = set(network.outputs) | set(network.inputs)
    disjuncts = []
    for d, conj in enumerate(array(value, "unsafe")):
        atoms = []
        for i, item in enumerate(array(conj, f"unsafe[{d}]")):
            where = f"unsafe[{d}][{i}]"
            a = fields(item, where, ("coeffs", "op", "rhs"))
            coeffs = a["coeffs"]
            if not isinstance(coeffs, dict):
                raise CertificateError(f"{where}.coeffs: expected an object, got {_kind(coeffs)}")
            for v in coeffs:
                if name(v, f"{where}.coeffs", limits) not in allowed:
                    raise CertificateError(f"{where}.coeffs: {v!r} is not a network output or input")
            if a["op"] not in OPS:
                raise CertificateError(f"{where}.op: {_short(a['op'])} is not one of {', '.join(OPS)}")
            parsed = tuple(sorted((v, rational(c, f"{where}.coeffs.{v}", limits)) for v, c in coeffs.items()))
            atoms.append(Atom(parsed, a["op"], rational(a["rhs"], f"{where}.rhs", limits)))
        if not atoms:
            raise CertificateError(f"unsafe[{d}]: a disjunct needs at least one atom")
        disjuncts.append(tuple(atoms))
    if not disjuncts:
        raise CertificateError("unsafe: the unsafe set needs at least one disjunct")
    return tuple(disjuncts)


# -- files, kinds and the entry point -------------------------------------------------------------
def _reject_constant(text: str):
    raise CertificateError(f"the certificate contains {text}: numbers are exact strings \"p/q\"")


def _unique(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise CertificateError(f"the certificate repeats the key {_short(duplicate)} in one object")
    return out


def load(path: str | os.PathLike, limits: Limits = Limits()) -> dict:
    """Read a certificate file as JSON (size-capped; NaN/Infinity refused; floats kept as text)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise CertificateError(f"{path}: a certificate must be a regular file")
        size = info.st_size
        if size > limits.max_bytes:
            raise CertificateError(f"{path}: {size} bytes is more than the cap of {limits.max_bytes}")
        with open(path, "rb") as handle:
            raw = handle.read(limits.max_bytes + 1)
        text = raw.decode("utf-8")
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read the certificate ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CertificateError(f"{path}: the certificate is not UTF-8 text") from None
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 2 * limits.max_depth + 200 + old))  # the JSON parser nests per tree level
    try:
        data = json.loads(text, parse_float=str, parse_constant=_reject_constant, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise CertificateError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise CertificateError(f"{path}: the JSON is nested deeper than the cap allows "
                               f"(tree depth {limits.max_depth})") from None
    finally:
        sys.setrecursionlimit(old)
    if not isinstance(data, dict):
        raise CertificateError(f"{path}: a certificate is a JSON object, got {_kind(data)}")
    return data


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
