"""Check a branch-and-bound certificate: the split tree covers the box and every leaf refutes the unsafe set.

The tree is walked iteratively (no recursion) with each node's box and ReLU phases. Splits are
checked to cover their parent (an input split point strictly inside the current box; a ReLU split
once per path), proofs are read strictly, and the leaves are then checked in batches by
:mod:`verify.certificate_dyadic` (fixed-point integers, the cheapest sound attempt), and a leaf it
cannot prove by :mod:`verify.certificate_exact`: first with numbers rounded outward to ``PREC`` bits and
back-substitution only for the ReLUs their interval bounds leave open (sound and fast); when that
fails, for every ReLU, then with 256 bits, and last with the format's exact rule (no rounding), so
a shortcut never rejects a certificate the format accepts. The unrounded attempt is skipped for
networks with more than ``Limits.exact_relus`` ReLUs (its numbers grow with depth: minutes per
ACAS Xu leaf); a rejection then says so.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import re
import time
from collections.abc import Mapping

import flint

from symbolic.errors import CertificateError
from verify import certificate_dyadic as dyadic, certificate_exact as exact
from verify.certificate import (CheckReport, Limits, array, fields, name, parse_box, parse_network,
                                parse_unsafe, rational)

PREC = 62
DYADIC = "dyadic"  # verify.certificate_dyadic: batches of leaves in fixed-point integers, the cheapest
# then (rounding bits, back-substitution for every ReLU): quick and sound first, then the format's exact rule
ATTEMPTS = (DYADIC, (PREC, False), (PREC, True), (256, True), (None, True))
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}", re.ASCII)


@dataclasses.dataclass(frozen=True)
class Proof:
    """One disjunct's multipliers: atoms ``mu``, split neurons ``beta``, lower slopes ``alpha``."""

    mu: tuple[tuple[int, flint.fmpq], ...]
    beta: tuple[tuple[str, flint.fmpq], ...]
    alpha: tuple[tuple[str, flint.fmpq], ...]


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A leaf to check: where it is, its box (per input), its phases, and its proofs (None: "empty")."""

    where: str
    box: tuple[tuple[flint.fmpq, flint.fmpq], ...]
    phases: tuple[tuple[str, int], ...]
    proofs: tuple[Proof, ...] | None


def check_bab(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    """Check a ``"kind": "bab"`` certificate (see :func:`verify.certificate.check`)."""
    start = time.perf_counter()
    fields(cert, "certificate", ("format", "version", "kind", "network", "box", "unsafe", "tree"),
           ("source", "stats"))
    network = parse_network(cert["network"], limits)
    box = parse_box(cert["box"], network, limits)
    unsafe = parse_unsafe(cert["unsafe"], network, limits)
    leaves, splits, problems = walk(cert["tree"], network, box, unsafe, limits)
    program = exact.Program(network)
    unrounded = sum(a.relu for a in network.assignments) <= limits.exact_relus
    checked, late = 0, False
    if workers == 1 or len(leaves) < 2 * workers or "fork" not in multiprocessing.get_all_start_methods():
        most = dyadic.compile_program(program).batch if DYADIC in ATTEMPTS else 1
        at, size = 0, 1  # batches of leaves for the DYADIC attempt, growing (the deadline is checked between)
        while at < len(leaves):
            if len(problems) >= limits.max_problems:
                break
            if deadline is not None and time.monotonic() > deadline:
                late = True
                break
            part, at, size = leaves[at:at + size], at + size, min(2 * size, most)
            for found in check_leaves(program, unsafe, part, unrounded):
                if len(problems) >= limits.max_problems:
                    break
                problems.extend(found)
                checked += 1
    else:
        checked, late = _parallel(program, unsafe, leaves, workers, deadline, problems, unrounded,
                                  limits.max_problems)
    timed_out = late and not problems  # a problem already found rejects the certificate
    if late:
        problems.append(f"timed out after checking {checked} of {len(leaves)} leaves")
    elif checked < len(leaves):
        problems.append(f"stopped after {len(problems)} problems; {len(leaves) - checked} leaves not checked")
    return CheckReport(not problems, tuple(problems), len(leaves), splits, time.perf_counter() - start,
                       "bab", timed_out)


# -- the tree -----------------------------------------------------------------------------------
def walk(tree: object, network, box: Mapping, unsafe: tuple, limits: Limits):
    """Validate the split tree; returns ``(leaves, splits, problems)``. Malformed nodes raise."""
    inputs = list(network.inputs)
    relus = {a.name for a in network.assignments if a.relu}
    leaves: list[Leaf] = []
    problems: list[str] = []
    splits = nodes = 0
    stack = [(tree, "tree", tuple(box[n] for n in inputs), {}, 0)]  # paths: tree/0/1 = second child of first
    while stack:
        node, where, cur, phases, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise CertificateError(f"tree: more than {limits.max_nodes} nodes")
        if depth > limits.max_depth:
            raise CertificateError(f"{where}: the tree is deeper than {limits.max_depth}")
        if isinstance(node, dict) and "leaf" in node:
            fields(node, where, ("leaf",))
            proofs = _proofs(node["leaf"], f"{where}.leaf", unsafe, relus, phases, limits, problems)
            if proofs is not False:
                leaves.append(Leaf(where, cur, tuple(sorted(phases.items())), proofs))
            continue
        fields(node, where, ("split", "children"))
        children = array(node["children"], f"{where}.children", 2)
        split = node["split"]
        splits += 1
        if isinstance(split, dict) and "input" in split:
            fields(split, f"{where}.split", ("input", "at"))
            var = name(split["input"], f"{where}.split.input", limits)
            at = rational(split["at"], f"{where}.split.at", limits)
            if var not in box:
                problems.append(f"{where}: split on {var!r}, which is not an input")
                continue
            i = inputs.index(var)
            lo, hi = cur[i]
            if not lo < at < hi:
                problems.append(f"{where}: split point {var} = {at} is not strictly inside [{lo}, {hi}]")
                continue
            stack.append((children[1], f"{where}/1", cur[:i] + ((at, hi),) + cur[i + 1:], phases, depth + 1))
            stack.append((children[0], f"{where}/0", cur[:i] + ((lo, at),) + cur[i + 1:], phases, depth + 1))
        else:
            fields(split, f"{where}.split", ("relu",))
            neuron = name(split["relu"], f"{where}.split.relu", limits)
            if neuron not in relus:
                problems.append(f"{where}: split on {neuron!r}, which is not a relu assignment")
                continue
            if neuron in phases:
                problems.append(f"{where}: relu {neuron} is split twice on this path")
                continue
            stack.append((children[1], f"{where}/1", cur, {**phases, neuron: -1}, depth + 1))
            stack.append((children[0], f"{where}/0", cur, {**phases, neuron: 1}, depth + 1))
    return leaves, splits, problems


def _proofs(value, where: str, unsafe: tuple, relus: set, phases: Mapping, limits: Limits, problems: list):
    """The leaf's proofs; None for "empty"; False (with problems noted) when they cannot apply."""
    if value == "empty":
        return None
    items = array(value, where)
    count = len(problems)
    if len(items) != len(unsafe):
        problems.append(f"{where}: {len(items)} proofs for {len(unsafe)} disjuncts")
    proofs = []
    for d, item in enumerate(items):
        at = f"{where}[{d}]"
        p = fields(item, at, ("mu",), ("beta", "alpha"))
        mu = _table(p["mu"], f"{at}.mu", limits, index=True)
        beta = _table(p.get("beta", {}), f"{at}.beta", limits)
        alpha = _table(p.get("alpha", {}), f"{at}.alpha", limits)
        atoms = len(unsafe[d]) if d < len(unsafe) else 0
        for i, m in mu:
            if i >= atoms:
                problems.append(f"{at}.mu: atom {i} does not exist (disjunct {d} has {atoms} atoms)")
            if m < 0:
                problems.append(f"{at}.mu: multiplier {m} of atom {i} is negative")
        if not any(m > 0 for _, m in mu):
            problems.append(f"{at}.mu: no multiplier is positive")
        for n, b in beta:
            if n not in phases:
                problems.append(f"{at}.beta: {n} is not split on this path")
            if b < 0:
                problems.append(f"{at}.beta: multiplier {b} of {n} is negative")
        for n, a in alpha:
            if n not in relus:
                problems.append(f"{at}.alpha: {n} is not a relu assignment")
            if not 0 <= a <= 1:
                problems.append(f"{at}.alpha: slope {a} of {n} is outside [0, 1]")
        proofs.append(Proof(mu, beta, alpha))
    return tuple(proofs) if len(problems) == count else False


def _table(value, where: str, limits: Limits, index: bool = False) -> tuple:
    """A ``{key: rational}`` object; keys are atom indices (``index``) or names."""
    if not isinstance(value, dict):
        raise CertificateError(f"{where}: expected an object, got {type(value).__name__}")
    out = []
    for key, v in value.items():
        if index:
            if not isinstance(key, str) or not _INDEX.fullmatch(key):
                raise CertificateError(f"{where}: key {key!r} is not an atom index")
            out.append((int(key), rational(v, f"{where}.{key}", limits)))
        else:
            out.append((name(key, where, limits), rational(v, f"{where}.{key}", limits)))
    return tuple(sorted(out))


# -- the leaves ---------------------------------------------------------------------------------
def check_leaf(program: exact.Program, unsafe: tuple, leaf: Leaf, unrounded: bool = True) -> list[str]:
    """Problems of one leaf (empty when it checks), from the last attempt when no attempt succeeds.

    Every attempt is a sound bound, so any success proves the leaf; the last one (unless
    ``unrounded`` is False) computes exactly what the format specifies, so a leaf the format
    accepts is never rejected.
    """
    return check_leaves(program, unsafe, [leaf], unrounded)[0]


def check_leaves(program: exact.Program, unsafe: tuple, leaves: list[Leaf], unrounded: bool = True) -> list[list[str]]:
    """:func:`check_leaf` for each leaf; the :data:`DYADIC` attempt takes them all at once."""
    first = dyadic.check_leaves(program, unsafe, leaves) if DYADIC in ATTEMPTS else [None] * len(leaves)
    return [[] if found == [] else _attempts(program, unsafe, leaf, unrounded, found)
            for leaf, found in zip(leaves, first)]


def _attempts(program: exact.Program, unsafe: tuple, leaf: Leaf, unrounded: bool, failures: list[str] | None) -> list[str]:
    """The attempts of :mod:`verify.certificate_exact` for one leaf, in order, after the :data:`DYADIC`
    one found ``failures`` (see :func:`check_leaf`)."""
    phases = dict(leaf.phases)
    failures = ["no check was attempted"] if failures is None else list(failures)
    prec: int | str | None = DYADIC
    for attempt in ATTEMPTS if unrounded else ATTEMPTS[:-1]:
        if attempt == DYADIC:
            continue
        prec, all_rows = attempt
        bounds = exact.node_bounds(program, leaf.box, phases, prec, all_rows)
        if leaf.proofs is None:
            failures = [] if bounds.contradiction else ["marked empty, but no phase-split neuron's bounds "
                                                        "contradict its phase"]
        else:
            failures = [f for d, proof in enumerate(leaf.proofs)
                        if (f := _refutes(program, bounds, unsafe[d], proof, phases, prec, d))]
        if not failures:
            return []
    note = "" if unrounded else f" (numbers rounded outward to {prec} bits; the unrounded check is skipped above " \
                                "Limits.exact_relus ReLUs)"
    if prec == DYADIC:
        note = " (fixed-point numbers, rounded outward)"
    return [f"{leaf.where}: {f}{note}" for f in failures]


def _refutes(program, bounds, atoms, proof: Proof, phases: Mapping, prec, d: int) -> str | None:
    """None when ``proof`` shows the leaf misses disjunct ``d``, else why not."""
    coeffs, const, pre, alpha, strict = exact.phi_objective(atoms, proof, phases)
    value = exact.lower_bound(program, bounds, coeffs, const, pre, alpha, prec)
    if value > 0 or (value == 0 and strict):
        return None
    need = "> 0" if not strict else ">= 0"
    return f"disjunct {d}: the lower bound {_show(value)} of phi is not {need}"


def _show(value: flint.fmpq) -> str:
    """The exact value when short, else about six decimals (computed exactly).

    >>> _show(flint.fmpq(-1, 3)), _show(flint.fmpq(-10**50 - 1, 3 * 10**49))
    ('-1/3', 'about -3.333333')
    """
    text = str(value)
    if len(text) <= 40:
        return text
    n = int((abs(value) * 10**6 + flint.fmpq(1, 2)).floor())
    return f"about {'-' if value < 0 else ''}{n // 10**6}.{n % 10**6:06d}"


def _parallel(program, unsafe, leaves, workers, deadline, problems, unrounded, max_problems) -> tuple[int, bool]:
    """Check the leaves in ``workers`` processes, in chunks; results in leaf order (the same as one
    process gives, also when stopping after ``max_problems``)."""
    chunk = max(1, min(16, len(leaves) // (4 * workers)))
    parts = [leaves[i:i + chunk] for i in range(0, len(leaves), chunk)]
    # fork: the workers inherit the compiled program (flint matrices do not pickle); leaves pickle
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                                  initializer=_init, initargs=(program, unsafe, unrounded))
    checked = 0
    try:
        futures = [pool.submit(_check_part, part) for part in parts]
        for part, future in zip(parts, futures):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                results = future.result(timeout=remaining)
            except concurrent.futures.TimeoutError:
                return checked, True
            for found in results:
                if len(problems) >= max_problems:
                    return checked, False
                problems.extend(found)
                checked += 1
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # at most one chunk per worker still runs
    return checked, False


_STATE: dict = {}


def _init(program, unsafe, unrounded) -> None:
    _STATE.update(program=program, unsafe=unsafe, unrounded=unrounded)


def _check_part(part: list[Leaf]) -> list[list[str]]:
    return check_leaves(_STATE["program"], _STATE["unsafe"], part, _STATE["unrounded"])
