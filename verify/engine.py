"""The engine's methods for the chooser: falsification first, then branch and bound on boxes.

:func:`falsify_claim` and :func:`bab_claim` turn a claim into a :class:`~verify.claim_to_problem.
Problem` (once), run :mod:`verify.falsify` / :mod:`verify.branch_and_bound` before a deadline, and
return :class:`~verify.result.Result` objects: refuted only with a counterexample replayed exactly
against the claim, proved only with a certificate whose every leaf was confirmed.
"""

from __future__ import annotations

import time

from verify import branch_and_bound, falsify, parallel_bab
from verify.claim import Claim
from verify.claim_to_problem import Problem, claim_to_problem
from verify.domain import RealInterval
from verify.result import Result, Verdict, confirmed

FALSIFY_SHARE = 0.25   # of the remaining budget, at most FALSIFY_MAX_S
FALSIFY_MAX_S = 10.0


def problem_of(claim: Claim) -> Problem | None:
    """The claim as an engine problem, or None (predicates, sigmoids, parameters, Piecewise targets)."""
    return claim_to_problem(claim)


SMALL = falsify.Settings(restarts=128, steps=32, samples=256)  # networks under SMALL_NEURONS neurons
SMALL_NEURONS = 64


def falsify_claim(claim: Claim, problem: Problem, end: float, start: float,
                  settings: falsify.Settings | None = None) -> Result | None:
    """A refuted Result if the falsifier finds an exact counterexample before ``end``
    (``time.monotonic()``), else None."""
    if settings is None:
        small = sum(lv.size for lv in problem.layers.levels) < SMALL_NEURONS
        settings = SMALL if small else falsify.Settings()
    budget = min(FALSIFY_MAX_S, max(0.0, end - time.monotonic()) * FALSIFY_SHARE)
    found = falsify.falsify(problem, time.monotonic() + budget, settings)
    if found is None:
        return None
    cex = confirmed(claim, found.point, "falsification")
    return Result(claim, Verdict.REFUTED, "falsification", time.perf_counter() - start, cex,
                  evidence=f"float search ({found.evaluations} evaluations), point replayed exactly")


def bab_claim(claim: Claim, problem: Problem, end: float, start: float,
              settings: branch_and_bound.Settings = branch_and_bound.Settings(), workers: int | None = None,
              scheduler: str | None = None) -> Result:
    """Branch and bound on the claim's (bounded) box until ``end``: proved with a certificate,
    refuted with an exact counterexample, or unknown with the reason and the fraction certified.
    With ``workers`` (processes) or a Dask ``scheduler``: over a frontier of sub-boxes
    (:mod:`verify.parallel_bab`), the same verdict and certificate for any of them."""
    if workers is not None or scheduler:
        out = parallel_bab.search(problem, end, settings, workers=workers or 1, scheduler=scheduler)
    else:
        out = branch_and_bound.search(problem, end, settings)
    stats = out.stats.to_json()
    elapsed = time.perf_counter() - start
    if out.verdict == "refuted":
        cex = confirmed(claim, out.point, "branch and bound")
        return Result(claim, Verdict.REFUTED, "bab", elapsed, cex, stats=stats,
                      evidence=f"branch and bound: a point of one of {stats['nodes']} boxes, replayed exactly")
    if out.verdict == "proved":
        s = out.stats
        splits = f"{s.input_splits} input and {s.relu_splits} ReLU splits" if s.relu_splits else f"{s.input_splits} splits"
        if out.certificate["stats"].get("sub_boxes"):  # parallel: searched as separate sub-boxes
            splits += f"; {out.certificate['stats']['sub_boxes']} sub-boxes searched apart"
        return Result(claim, Verdict.PROVED, "bab", elapsed, certificate=out.certificate, stats=stats,
                      evidence=f"branch and bound: {s.leaves} leaves ({splits}, depth {s.max_depth}), each shown "
                               "unable to reach the unsafe set by outward-rounded linear bounds; "
                               "certificate of the split tree and every leaf's multipliers")
    return Result(claim, Verdict.UNKNOWN, "bab", elapsed, reason=out.reason, stats=stats)


def applicable(problem: Problem | None) -> bool:
    """Whether branch and bound should run: a bounded box of real intervals (integer domains too
    big to enumerate go to z3) and a network it can bound soundly (float64 weights, or small
    enough for exact rationals)."""
    if problem is None or not problem.bounded or not all(isinstance(s, RealInterval) for s in problem.sets):
        return False
    neurons = sum(lv.size for lv in problem.layers.levels)
    return problem.layers.exact_floats or neurons <= branch_and_bound.Settings().exact_neurons
