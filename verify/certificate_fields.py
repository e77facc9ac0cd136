"""Strict reading of a certificate's JSON: limits, fields, rationals, names, the network, box, unsafe set."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import sys

import flint

from symbolic.errors import CertificateError

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
