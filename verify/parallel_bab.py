"""Parallel branch and bound: a fixed frontier of input sub-boxes, searched in local processes or on Dask.

:func:`search` splits the root box by the sequential search's own rule (sound bounds, strong
branching on inputs, breadth first) into at least ``frontier`` open sub-boxes, a number that does
not depend on the parallelism, and closes what the bounds already decide. Each sub-box is then
searched by :func:`verify.branch_and_bound.search` (reproducible: its budgets are node counts) in
rounds: first within ``START_NODES`` nodes, then, if that budget ran out, again from scratch with
twice as many; lowest budget, then most violated sub-box first. A counterexample in one sub-box is
so found without waiting for the proofs of the others, and a sub-box that finishes within some
budget gives the same tree whatever that budget. So each sub-box's result, and the certificate
that grafts every sub-search's split tree under the frontier's input splits, are the same byte for
byte whatever ``workers`` or ``scheduler`` (the certificate carries no timings). A refuted sub-box
refutes the claim and stops the others: the counterexample is the first one found (with one
worker, that of the lowest budget and rank), so which point is reported, never the verdict, may
depend on the parallelism. One deadline bounds everything; an unknown sub-box makes the verdict
unknown with the fraction of the box certified.
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from verify import branch_and_bound as bab
from verify.claim_to_problem import Problem
from verify.tree_to_certificate import Tree, certificate, exact_text
from verify.bab_workers import Done, Job, _Dask, _InProcess, _Processes, one_blas_thread

#: Open sub-boxes the frontier is split into (at least this many, fewer when bounds close nodes).
FRONTIER = 16
#: Node budget of a sub-box's first round (doubled for each retry, up to ``Settings.max_nodes``).
START_NODES = 128
#: Seconds past the deadline a worker may take to return before it is stopped by force.
GRACE_S = 5.0


@dataclasses.dataclass(frozen=True, eq=False)
class Frontier:
    """The frontier tree (splits and closed leaves; open nodes are the jobs) and its search."""

    tree: Tree
    jobs: tuple[Job, ...]
    volume: float
    found: tuple[dict, int] | None
    stuck: int
    stats: bab.Stats


def split_frontier(problem: Problem, deadline: float, settings: bab.Settings, size: int = FRONTIER) -> Frontier:
    """Bound and split level by level, as the sequential search does (sound bounds, proofs, strong
    branching), but on inputs only, until at least ``size`` nodes are open or none is; the open ones
    become the jobs, most violated first."""
    s = bab._Search(problem, deadline, dataclasses.replace(settings, split="input"))
    level = [(-np.inf, (0, s.root.lo.copy(), s.root.hi.copy(), np.zeros(int(s.offsets[-1]), dtype=np.int8)))]
    ready = []
    while level and len(level) + len(ready) < size and time.monotonic() < deadline and s.found is None:
        roomy = [(k, it) for k, it in level if _room(it[1], it[2])]
        ready += [(k, it) for k, it in level if not _room(it[1], it[2])]
        level = s._process([it for _, it in roomy]) if roomy else []
    ready += level
    ready.sort(key=lambda kv: (kv[0], kv[1][0]))   # most violated first, then by node id
    jobs = tuple(Job(r, it[0], tuple(s.root.exact_box(it[1], it[2]))) for r, (_, it) in enumerate(ready))
    stats = bab.Stats(s.counts["nodes"], len(s.tree.leaves), s.tree.max_depth, s.counts["input"], 0,
                      s.counts["lp"], s.t["bounds"], s.t["mu"], s.t["lp"], s.t["branch"], s.t["exact"], s.t["cex"])
    return Frontier(s.tree, jobs, s.volume, s.found, s.stuck, stats)


def _room(lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether some input can still be split (the sequential search's rule)."""
    return bool(np.any(hi - lo > 1e-9 * np.maximum(1.0, np.abs(lo) + np.abs(hi))))


def search(problem: Problem, deadline: float, settings: bab.Settings = bab.Settings(), workers: int = 1,
           scheduler: str | None = None, frontier: int = FRONTIER, connect_timeout_s: float = 10.0) -> bab.Outcome:
    """Branch and bound over a frontier of sub-boxes before ``deadline`` (``time.monotonic()``),
    in this process (``workers=1``), ``workers`` forked processes, or on the Dask ``scheduler``.

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> from verify.claim import Claim, Tolerance
    >>> from verify.claim_to_problem import claim_to_problem
    >>> from verify.domain import Domain, RealInterval
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    >>> p = claim_to_problem(Claim(net, sp.Abs(sym('x')), Domain({'x': RealInterval(-1, 1)}), Tolerance(Fraction(1, 8))))
    >>> one = search(p, time.monotonic() + 10)
    >>> two = search(p, time.monotonic() + 10, workers=2)
    >>> one.verdict, one.certificate == two.certificate
    ('proved', True)
    """
    if not problem.bounded:
        raise ValueError("branch and bound needs a bounded box")
    if workers < 1 or frontier < 1:
        raise ValueError(f"workers and frontier must be positive, got {workers}, {frontier}")
    start = time.perf_counter()
    front = split_frontier(problem, deadline, settings, frontier)
    if front.found is not None or not front.jobs:
        return _outcome(problem, front, [], start)
    if scheduler:
        pool = _Dask(problem, deadline, scheduler, connect_timeout_s)
    elif workers > 1 and len(front.jobs) > 1:
        pool = _Processes(problem, deadline, min(workers, len(front.jobs)))
    else:
        pool = _InProcess(problem, deadline)
    retried: list[Done] = []
    try:
        done = _rounds(pool, front.jobs, settings, deadline, retried)
    finally:
        pool.close()
    return _outcome(problem, front, done, start, retried)


def _rounds(pool, jobs: Sequence[Job], settings: bab.Settings, deadline: float, retried: list[Done]) -> list[Done]:
    """Every job, lowest node budget then rank first, again with twice the budget when it ran out
    (those results go to ``retried``); until the first refutation, or until the pool has nothing
    back by the deadline (plus grace)."""
    todo = [(min(START_NODES, settings.max_nodes), job.rank) for job in jobs]
    heapq.heapify(todo)
    final: dict[int, Done] = {}
    running = 0
    while todo or running:
        while todo and running < pool.slots:
            budget, rank = heapq.heappop(todo)
            pool.submit(jobs[rank], dataclasses.replace(settings, max_nodes=budget))
            running += 1
        done = pool.receive(deadline + GRACE_S)
        if done is None:
            break
        running -= 1
        if done.over and done.budget < settings.max_nodes:
            if time.monotonic() < deadline:
                heapq.heappush(todo, (min(2 * done.budget, settings.max_nodes), done.rank))
                retried.append(done)
                continue
            done = dataclasses.replace(done, reason=f"the time budget ran out (after a round of {done.budget} nodes)")
        final[done.rank] = done
        if done.verdict == "refuted":
            break
    return list(final.values())


def _outcome(problem: Problem, front: Frontier, done: list[Done], start: float,
             retried: Sequence[Done] = ()) -> bab.Outcome:
    root = np.array([[float(lo), float(hi)] for lo, hi in problem.box])
    width = np.where(root[:, 1] > root[:, 0], root[:, 1] - root[:, 0], 1.0)
    by_rank = {d.rank: d for d in done}
    volume = front.volume
    for job in front.jobs:
        if job.rank in by_rank:
            share = np.prod([(float(hi) - float(lo)) / w if r[1] > r[0] else 1.0
                             for (lo, hi), w, r in zip(job.box, width, root)])
            volume += float(share) * by_rank[job.rank].stats.certified_fraction
    stats = _stats(front, [*done, *retried], start, volume)   # the work, retries included
    if front.found is not None:
        return bab.Outcome("refuted", *front.found, None, stats)
    refuted = [d for d in done if d.verdict == "refuted"]
    if refuted:
        return bab.Outcome("refuted", refuted[0].point, refuted[0].reached, None, stats)
    if not front.stuck and len(done) == len(front.jobs) and all(d.verdict == "proved" for d in done):
        subtrees = {job.node: by_rank[job.rank].tree for job in front.jobs}
        depth = max([front.tree.depth[n] for n in front.tree.leaves] +
                    [front.tree.depth[j.node] + by_rank[j.rank].stats.max_depth for j in front.jobs])
        tree = _stats(front, done, start, 1.0)   # the certificate's tree (the work above counts retries)
        cert = certificate(problem.circuit, problem.box, problem.unsafe, _Grafted(front.tree, subtrees),
                           problem.source, {"leaves": tree.leaves, "max_depth": depth, "sub_boxes": len(front.jobs)})
        return bab.Outcome("proved", None, None, cert, dataclasses.replace(
            stats, leaves=tree.leaves, input_splits=tree.input_splits, relu_splits=tree.relu_splits, max_depth=depth))
    why = [d.reason for d in sorted(done, key=lambda d: d.rank) if d.verdict == "unknown"]
    if front.stuck:
        why.insert(0, f"{front.stuck} frontier nodes could be neither split nor confirmed")
    missing = len(front.jobs) - len(done)
    head = why[0] if why else "the time budget ran out"
    return bab.Outcome("unknown", None, None, None, stats,
                       f"parallel branch and bound: {len(why) + missing} of {len(front.jobs)} sub-boxes undecided "
                       f"(first: {head}); {bab.percent(stats.certified_fraction)} of the box certified")


def _stats(front: Frontier, done: Sequence[Done], start: float, volume: float) -> bab.Stats:
    """The frontier's counts plus those of every sub-search (seconds summed over processes)."""
    total = front.stats
    for d in done:
        total = bab.Stats(*(a + b for a, b in zip(dataclasses.astuple(total)[:-2], dataclasses.astuple(d.stats)[:-2])),
                          0.0, 0.0)
    return dataclasses.replace(total, max_depth=max([front.stats.max_depth] + [d.stats.max_depth for d in done]),
                               total_s=time.perf_counter() - start, certified_fraction=min(1.0, volume))


class _Grafted:
    """The frontier tree with each open node replaced by its sub-search's tree (the NODE object)."""

    def __init__(self, tree: Tree, subtrees: dict[int, dict]):
        self.tree, self.subtrees = tree, subtrees

    def to_json(self) -> dict:
        t, out, order, stack = self.tree, {}, [], [0]
        while stack:
            node = stack.pop()
            order.append(node)
            if node not in self.subtrees and t.children[node] is not None:
                stack.extend(t.children[node])
        for node in reversed(order):
            if node in self.subtrees:
                out[node] = self.subtrees[node]
            elif node in t.leaves:
                proofs = t.leaves[node]
                out[node] = {"leaf": proofs if proofs == "empty" else [p.to_json() for p in proofs]}
            else:
                how = t.splits[node]
                a, b = t.children[node]
                out[node] = {"split": {"input": how[1], "at": exact_text(how[2])}, "children": [out.pop(a), out.pop(b)]}
        return out[0]
