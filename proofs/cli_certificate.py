"""``--certificate FILE`` on ``claim``, ``check`` and ``vnnlib``: save what a verdict stands on.

A proof by branch and bound is saved with its split tree and every leaf's multipliers; a refutation
with its exact point (``"kind": "counterexample"``); a property with several input boxes as one
``"kind": "all"`` bundle. A claim proved by a method that writes no certificate (regions, z3,
exhaustive evaluation) is proved once more by branch and bound within what is left of the budget,
so the file always comes from a search that made one; if that is not possible (no bounded box, no
network form, the budget ran out) no file is written and the reason is printed. The verdict and
the exit code are never changed by this: the certificate is evidence, re-checked by
``mathcircuits certify FILE``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from proofs import cli_args
from symbolic import errors


def add_option(p) -> None:
    """Register ``--certificate FILE`` on a subcommand's parser."""
    p.add_argument("--certificate", type=cli_args.output_file, metavar="FILE",
                   help="save the verdict's certificate (JSON; re-check it with `mathcircuits certify FILE`): "
                        "the branch-and-bound split tree of a proof, or the exact point of a refutation")


def save(path: Path | None, results: Sequence, end: float | None = None, only: int | None = None) -> dict | None:
    """Write the certificate of ``results`` (all proved: a bundle of their proofs; ``only``: that one
    result, e.g. the violated box of a property) to ``path``. Returns what to print: ``{"file", "kind",
    "leaves", "bytes"}`` or ``{"file": None, "reason"}``; None without ``path``. ``end`` is a
    ``time.monotonic()`` deadline for proving again by branch and bound."""
    if path is None:
        return None
    from verify.result_to_certificate import NoCertificate, bundle, certificate_of

    chosen = [results[only]] if only is not None else list(results)
    try:
        certs = [certificate_of(_with_certificate(r, end)) for r in chosen]
    except NoCertificate as exc:
        return {"file": None, "reason": str(exc)}
    cert = bundle(certs, {"statement": "; ".join(r.claim.statement() for r in chosen)})
    text = json.dumps(cert, separators=(",", ":"))
    from proofs.report import write_atomic

    write_atomic(Path(path), text)
    return {"file": str(path), "kind": cert["kind"], "leaves": _leaves(cert), "bytes": len(text)}


def describe(facts: dict | None) -> str | None:
    """One line for people about :func:`save`'s outcome."""
    if facts is None:
        return None
    if facts["file"] is None:
        return f"not written: {facts['reason']}"
    what = f"{facts['leaves']} leaves, " if facts["kind"] in ("bab", "all") else ""
    return f"{facts['file']} (kind {facts['kind']}, {what}{facts['bytes']} bytes; check: mathcircuits certify {facts['file']})"


def _with_certificate(result, end: float | None):
    """``result``, or the same verdict proved again by branch and bound with a certificate."""
    from verify import engine
    from verify.result import Verdict
    from verify.result_to_certificate import NoCertificate

    if result.verdict is not Verdict.PROVED or result.certificate is not None:
        return result
    problem = engine.problem_of(result.claim)
    if not engine.applicable(problem):
        raise NoCertificate(f"the proof by {result.method} has no certificate, and branch and bound (which "
                            "writes them) needs a bounded box of real inputs and a ReLU network form")
    end = time.monotonic() + 60.0 if end is None else end
    if end - time.monotonic() <= 0:
        raise NoCertificate(f"the proof by {result.method} has no certificate, and no time is left to prove it "
                            "again by branch and bound (raise --timeout)")
    again = engine.bab_claim(result.claim, problem, end, time.perf_counter())
    if again.verdict is Verdict.REFUTED:  # two rigorous methods disagree: a bug, never a user's mistake
        raise errors.ReplayError(f"{result.method} proved the claim but branch and bound refuted it at "
                                 f"{again.counterexample.to_json()['point']}")
    if again.verdict is not Verdict.PROVED:
        raise NoCertificate(f"the proof by {result.method} has no certificate, and branch and bound could not "
                            f"prove it again in the time left ({again.reason}; raise --timeout)")
    return again


def _leaves(cert: dict) -> int:
    if cert["kind"] == "all":
        return sum(_leaves(part) for part in cert["parts"])
    if cert["kind"] != "bab":
        return 0
    count, stack = 0, [cert["tree"]]
    while stack:
        node = stack.pop()
        if "leaf" in node:
            count += 1
        else:
            stack.extend(node["children"])
    return count
