"""Branch and bound over boxes: split inputs (or unstable ReLUs) until each leaf is confirmed safe.

:func:`search` takes a :class:`~verify.claim_to_problem.Problem` on a bounded box and a wall-clock
deadline and returns a frozen :class:`Outcome`: ``proved`` with a certificate (every leaf closed
by a proof checked on sound, outward-rounded bounds, never by a float alone), ``refuted`` with an
exact counterexample (replayed in rationals), or ``unknown`` with the reason and the fraction of
the box certified. Nodes are bounded in batches (vectorised over boxes); proofs come from
:mod:`verify.node_proofs` (single atoms, optimised multipliers, LP duals).
"""

from __future__ import annotations

import heapq
import time
from fractions import Fraction

import numpy as np

from verify import confirm_leaves, linear_bounds as lb, multipliers, node_proofs, rigorous_bounds
from verify.claim_to_problem import Problem
from verify.confirm_leaves import RootBox, confirm_exact
from verify.falsify import project
from verify.tree_to_certificate import Proof, Tree, certificate
from verify.bab_settings import Outcome, Settings, Stats, percent


class _Search:
    def __init__(self, problem: Problem, deadline: float, settings: Settings):
        self.p, self.layers, self.deadline, self.s = problem, problem.layers, deadline, settings
        self.root = RootBox.of(problem.box)
        self.tree = Tree()
        widths = self.root.hi - self.root.lo
        self.scale = np.where(widths > 0, widths, 1.0)
        self.volume = 0.0
        self.offsets = np.cumsum([0] + [lv.size for lv in self.layers.levels])
        self.names = [n for lv in self.layers.levels for n in lv.names]
        self._ties: list[dict[str, float]] | None = None  # per node of the batch: slopes at u ~ -l
        self.inputs_only = settings.split == "input"
        self.relu_first = settings.split == "relu" or (settings.split == "auto" and
                                                       problem.layers.n_inputs > settings.relu_inputs)
        self.t = dict(bounds=0.0, mu=0.0, lp=0.0, branch=0.0, exact=0.0, cex=0.0)
        self.counts = dict(nodes=0, input=0, relu=0, lp=0, strong=0)
        self.stuck = 0
        neurons = int(self.offsets[-1])
        self.exact_ok = neurons <= settings.exact_neurons
        self.lp_everywhere = neurons <= settings.lp_neurons
        self.found: tuple[dict, int] | None = None
        self.start = time.perf_counter()

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> Outcome:
        # open nodes, most violated first (a counterexample is found sooner; proofs need all nodes)
        stack = [(-np.inf, 0, (0, self.root.lo.copy(), self.root.hi.copy(), np.zeros(int(self.offsets[-1]), dtype=np.int8)))]
        reason = ""
        while stack:
            if time.monotonic() > self.deadline:
                reason = "the time budget ran out"
                break
            if self.tree.size > self.s.max_nodes:
                reason = f"the split tree reached {self.s.max_nodes} nodes"
                break
            batch = [heapq.heappop(stack)[2] for _ in range(min(self.s.batch, len(stack)))]
            for key, item in self._process(batch):
                heapq.heappush(stack, (key, item[0], item))
            if self.found is not None:
                break
        total = time.perf_counter() - self.start
        stats = Stats(self.counts["nodes"], len(self.tree.leaves), self.tree.max_depth, self.counts["input"],
                      self.counts["relu"], self.counts["lp"], self.t["bounds"], self.t["mu"], self.t["lp"],
                      self.t["branch"], self.t["exact"], self.t["cex"], total, min(1.0, self.volume))
        if self.found is not None:
            return Outcome("refuted", *self.found, None, stats)
        if not stack and not reason and not self.stuck:
            cert = certificate(self.p.circuit, self.p.box, self.p.unsafe, self.tree, self.p.source,
                               {"leaves": stats.leaves, "max_depth": stats.max_depth, "search_s": round(total, 3)})
            return Outcome("proved", None, None, cert, stats)
        if not reason:
            reason = f"{self.stuck} nodes could be neither split further nor confirmed"
        return Outcome("unknown", None, None, None, stats,
                       f"branch and bound: {reason} after {stats.nodes} nodes; "
                       f"{percent(stats.certified_fraction)} of the box certified")

    # -- one batch --------------------------------------------------------------------------
    def _phases(self, flat: np.ndarray):
        if not flat.any():
            return None
        return tuple(flat[:, a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:]))

    def _process(self, batch):
        ids = [b[0] for b in batch]
        lo, hi = np.stack([b[1] for b in batch]), np.stack([b[2] for b in batch])
        flat = np.stack([b[3] for b in batch])
        phases = self._phases(flat)
        self.counts["nodes"] += len(batch)
        if self.layers.exact_floats:
            state, proofs, fb, points = self._bound_sound(lo, hi, flat, phases)
        else:
            state, proofs, fb, points = self._bound_float(lo, hi, phases)
        self._counterexamples(lo, hi, state == 0, proofs.A, points)
        if self.found is not None:
            return []
        dims = self._choose_dims(lo, hi, state == 0, proofs, fb) if self.s.branching == "strong" else None
        children = []
        for b in range(len(batch)):
            if state[b] == 1:
                self._close(ids[b], "empty", lo[b], hi[b], flat[b])
            elif state[b] == 2:
                self._close(ids[b], [self._proof(proofs, d, b) for d in range(len(proofs.mu))], lo[b], hi[b], flat[b])
            elif state[b] == 3 and self._exact(ids[b], lo[b], hi[b], flat[b], proofs, b):
                pass
            else:
                key = float(min(v[b] for v in proofs.value))
                children.extend((key, c) for c in self._split(ids[b], lo[b], hi[b], flat[b], fb, b, proofs,
                                                               None if dims is None else dims[b]))
        return children

    def _bound_sound(self, lo, hi, flat, phases):
        """Sound bounds, then proofs: single atoms, optimised multipliers, LP duals. Returns per
        node 0 (open), 1 (empty), 2 (proved), 3 (try exact), the proofs, float bounds, LP points."""
        t0 = time.perf_counter()
        sb = confirm_leaves.node_bounds(self.p, self.root, lo, hi, phases)
        empty = confirm_leaves.certainly_empty(sb, phases)
        fb = confirm_leaves.as_float_bounds(sb, *self.root.outer(lo, hi), phases)
        proofs, atoms = node_proofs.atom_proofs(self.p, sb)
        self._parent_atoms = atoms
        self._ties = self._tie_slopes(sb, phases)
        self.t["bounds"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        node_proofs.improve_mu(self.p, sb, fb, proofs, atoms, empty, self.s.mu_steps)
        node_proofs.improve_alpha(self.p, sb, fb, proofs, empty, self.s.alpha_steps)
        self.t["mu"] += time.perf_counter() - t0
        points = []
        open_ = np.nonzero(~proofs.proved & ~empty)[0]
        # nodes below ReLU splits need the LP's split multipliers; others (small networks) within a budget
        ratio = self.s.lp_ratio_small if self.lp_everywhere else self.s.lp_ratio
        spare = self.counts["lp"] <= ratio * self.counts["nodes"]
        lp_nodes = [b for b in open_ if flat[b].any() or (self.lp_everywhere and spare)]
        if lp_nodes:
            t0 = time.perf_counter()
            self.counts["lp"] += len(lp_nodes)
            points = node_proofs.lp_proofs(self.p, sb, *self.root.outer(lo, hi), phases, proofs, lp_nodes,
                                           self.deadline)
            self.t["lp"] += time.perf_counter() - t0
        state = np.where(empty, 1, np.where(proofs.proved, 2, 0))
        if self.exact_ok:
            near = np.all([v > -1e-9 for v in proofs.value], axis=0)
            state = np.where((state == 0) & near, 3, state)
        return state, proofs, fb, points

    def _tie_slopes(self, sb, phases) -> list[dict[str, float]]:
        """Per node: the default lower slopes the float bounds chose for unstable neurons with
        ``u`` about ``-l``. The certificate's default rule (slope 1 iff ``u > -l``) is applied to
        exact bounds, which may fall on the other side of such a tie, so these slopes are written
        into every proof of the node explicitly (any slope in [0, 1] is valid)."""
        B = sb.lower[0].shape[0] if sb.lower else 0
        ties: list[dict[str, float]] = [{} for _ in range(B)]
        offset = 0
        for k, (lower, upper) in enumerate(zip(sb.lower, sb.upper)):
            relu = self.layers.levels[k].relu
            phase = None if phases is None else phases[k]
            s_low, _, _, unstable = rigorous_bounds.relax_lines(relu, lower, upper, phase)
            near = unstable & (np.abs(upper + lower) <= 1e-6 * np.maximum(1.0, upper - lower))
            for b, i in zip(*np.nonzero(near)):
                ties[b][self.names[offset + i]] = float(s_low[b, i])
            offset += lower.shape[1]
        return ties

    def _bound_float(self, lo, hi, phases):
        """Networks whose weights are not floats: float bounds guide, exact rationals confirm."""
        t0 = time.perf_counter()
        B = lo.shape[0]
        fb = lb.node_bounds(self.layers, lo, hi, phases, all_rows=True)
        values, As = multipliers.atom_bounds(self.layers, fb, self.p.specs)
        self._parent_atoms = values
        self._ties = None  # confirmed in exact rationals, with the exact default rule
        proofs = node_proofs.Proofs([], [], [], [], [], [])
        for d, spec in enumerate(self.p.specs):
            best = np.argmax(values[d], axis=0)
            mu = np.zeros((B, spec.size))
            mu[np.arange(B), best] = 1.0
            proofs.mu.append(mu)
            proofs.beta.append({})
            proofs.alpha.append({})
            proofs.value.append(values[d][best, np.arange(B)])
            proofs.ok.append(np.zeros(B, dtype=bool))
            proofs.A.append(As[d][best, np.arange(B)])
        self.t["bounds"] += time.perf_counter() - t0
        candidate = fb.empty | np.all([v > -1e-9 for v in proofs.value], axis=0)
        return np.where(candidate & self.exact_ok, 3, 0), proofs, fb, []

    def _proof(self, proofs: node_proofs.Proofs, d: int, b: int) -> Proof:
        mu = proofs.mu[d][b]
        beta, alpha = proofs.beta[d].get(b), proofs.alpha[d].get(b)
        named_beta, named_alpha = (), ()
        if beta is not None:
            flat = np.concatenate(beta)
            named_beta = tuple((self.names[i], float(flat[i])) for i in np.nonzero(flat > 0)[0])
        if alpha is not None:
            flat = np.concatenate([alpha[k] for k in sorted(alpha)])
            named_alpha = tuple((self.names[i], float(flat[i])) for i in np.nonzero(~np.isnan(flat))[0])
        ties = self._ties[b] if self._ties is not None and b < len(self._ties) else {}
        if ties:
            given = {n for n, _ in named_alpha}
            named_alpha += tuple((n, v) for n, v in sorted(ties.items()) if n not in given)
        return Proof(tuple((i, float(v)) for i, v in enumerate(mu) if v > 0), named_beta, named_alpha)

    def _close(self, node: int, proofs, lo, hi, flat) -> None:
        """Close a leaf; its share of the box is its volume, halved per ReLU split on its path."""
        self.tree.close(node, proofs)
        width = np.where(self.root.hi > self.root.lo, (hi - lo) / self.scale, 1.0)
        self.volume += float(np.prod(width)) / 2.0 ** int(np.count_nonzero(flat))

    def _exact(self, node, lo, hi, flat, proofs: node_proofs.Proofs, b: int) -> bool:
        """Confirm a node in exact rationals (small networks; bounds of exactly 0)."""
        t0 = time.perf_counter()
        phases = {self.names[i]: int(flat[i]) for i in np.nonzero(flat)[0]}
        named = [self._proof(proofs, d, b) for d in range(len(proofs.mu))]
        exact = [({i: Fraction(v) for i, v in p.mu}, {n: Fraction(v) for n, v in p.beta},
                  {n: Fraction(v) for n, v in p.alpha}) for p in named]
        verdict = confirm_exact(self.p, self.root.exact_box(lo, hi), phases, exact)
        self.t["exact"] += time.perf_counter() - t0
        if verdict:
            self._close(node, "empty" if verdict == "empty" else named, lo, hi, flat)
        return bool(verdict)

    # -- counterexamples ----------------------------------------------------------------------
    def _counterexamples(self, lo, hi, open_, As, points) -> None:
        if not open_.any() and not points:
            return
        t0 = time.perf_counter()
        idx = np.nonzero(open_)[0]
        cands = [(lo[idx] + hi[idx]) / 2] + [np.where(A[idx] > 0, lo[idx], hi[idx]) for A in As]
        if points:
            cands.append(np.array(points))
        x = np.concatenate(cands)
        y = self.layers.forward(x)
        for d, spec in enumerate(self.p.specs):
            g = y @ spec.out.T + x @ spec.inp.T - spec.rhs
            hit = np.all(g < -1e-9 * (1 + np.abs(g)), axis=1)
            for r in np.nonzero(hit)[0][:4]:
                point = project(self.p, x[r])
                if point is not None and self.p.in_domain(point):
                    reached = self.p.reached(point)
                    if reached is not None:
                        self.found = (point, reached)
                        break
            if self.found is not None:
                break
        self.t["cex"] += time.perf_counter() - t0

    # -- splitting ----------------------------------------------------------------------------
    def _choose_dims(self, lo, hi, open_, proofs, parent) -> np.ndarray:
        """Strong branching on inputs: bound both halves of the ``strong_dims`` most promising input
        splits (by the smear rule) of each open node (float guides, batched) and pick the split with
        the best product of improvements; -1 (the smear rule decides) when no split improves alone
        or strong branching has used its share of the nodes."""
        B, n = lo.shape
        dims = np.full(B, -1)
        idx = np.nonzero(open_)[0]
        if idx.size == 0 or self.counts["strong"] > self.s.strong_ratio * self.counts["nodes"]:
            return dims
        self.counts["strong"] += idx.size
        t0 = time.perf_counter()
        width = hi[idx] - lo[idx]
        room = width > 1e-9 * np.maximum(1.0, np.abs(lo[idx]) + np.abs(hi[idx]))
        smear = sum(np.abs(A[idx]) for A in proofs.A) * width
        k = min(self.s.strong_dims, n)
        cand = np.argsort(-np.where(room, smear + 1e-300, -1.0), axis=1)[:, :k]       # (N, k)
        node = np.repeat(np.arange(idx.size), 2 * k)
        j = np.repeat(cand.reshape(-1), 2)
        half = np.tile([0, 1], idx.size * k)
        c_lo, c_hi = lo[idx][node].copy(), hi[idx][node].copy()
        rows = np.arange(node.size)
        mid = (c_lo[rows, j] + c_hi[rows, j]) / 2
        c_hi[rows[half == 0], j[half == 0]] = mid[half == 0]
        c_lo[rows[half == 1], j[half == 1]] = mid[half == 1]
        fb = lb.node_bounds(self.layers, c_lo, c_hi)
        values, _ = multipliers.atom_bounds(self.layers, fb, self.p.specs)
        child = np.min([v.max(axis=0) for v in values], axis=0).reshape(idx.size, k, 2)
        base = np.min([np.max(a[:, idx], axis=0) for a in self._parent_atoms], axis=0)[:, None, None]
        floor = 1e-3 * (np.abs(base) + 1e-9)
        gain = np.maximum(child - base, floor)
        score = gain[:, :, 0] * gain[:, :, 1]                       # the product rule of strong branching
        ok = np.take_along_axis(room, cand, axis=1)
        score = np.where(ok, score, -np.inf)
        pick = np.argmax(score, axis=1)
        best = cand[np.arange(idx.size), pick]
        both = gain[np.arange(idx.size), pick].min(axis=1) > floor[:, 0, 0]   # both halves improve
        dims[idx] = np.where(both, best, -1)
        self.t["branch"] += time.perf_counter() - t0
        return dims

    def _split(self, node, lo, hi, flat, bounds, b, proofs, dim=None):
        width = hi - lo
        room = width > 1e-9 * np.maximum(1.0, np.abs(lo) + np.abs(hi))
        unstable = self._unstable(bounds, b, flat)
        few = 0 < unstable.sum() <= (self.s.relu_when_small if self.exact_ok else self.s.relu_when)
        # on large networks an input split that improves both halves beats a ReLU split
        helps = not self.exact_ok and dim is not None and dim >= 0
        if room.any() and not self.relu_first and (helps or not few or self.inputs_only):
            score = sum(np.abs(proofs.A[d][b]) for d in range(len(proofs.mu)) if not proofs.ok[d][b]) * width
            score = np.where(room, score + 1e-300 * width, -1.0)
            j = int(np.argmax(score)) if dim is None or dim < 0 else int(dim)
            relative = np.where(room, width / self.scale, 0.0)
            if relative[j] * self.s.max_aspect < relative.max():  # never starve a dimension
                j = int(np.argmax(relative))
            at = float((lo[j] + hi[j]) / 2)
            if lo[j] < at < hi[j]:
                self.counts["input"] += 1
                c0, c1 = self.tree.split(node, ("input", self.p.inputs[j], at))
                hi0, lo1 = hi.copy(), lo.copy()
                hi0[j], lo1[j] = at, at
                return [(c1, lo1, hi, flat), (c0, lo, hi0, flat)]
        if not unstable.any() or self.inputs_only:
            self.stuck += 1
            return []
        pos = self._pick_relu(bounds, b, unstable)
        self.counts["relu"] += 1
        c0, c1 = self.tree.split(node, ("relu", self.names[pos]))
        active, inactive = flat.copy(), flat.copy()
        active[pos], inactive[pos] = 1, -1
        return [(c1, lo, hi, inactive), (c0, lo, hi, active)]

    def _unstable(self, bounds, b, flat) -> np.ndarray:
        """Flat mask of the node's unstable, unsplit ReLUs."""
        parts = [lv.relu & (lo[b] < 0) & (up[b] > 0)
                 for lv, lo, up in zip(self.layers.levels, bounds.lower, bounds.upper)]
        return np.concatenate(parts) & (flat == 0)

    def _pick_relu(self, bounds, b, unstable) -> int:
        """The unstable ReLU with the largest triangle (u * -l / (u - l)), earliest level first."""
        lo = np.concatenate([x[b] for x in bounds.lower])
        up = np.concatenate([x[b] for x in bounds.upper])
        level = np.concatenate([np.full(lv.size, k) for k, lv in enumerate(self.layers.levels)])
        first = level[unstable].min()
        candidates = unstable & (level == first)
        area = np.where(candidates, up * -lo / np.where(candidates, up - lo, 1.0), -1.0)
        return int(np.argmax(area))


def search(problem: Problem, deadline: float, settings: Settings = Settings()) -> Outcome:
    """Decide whether any point of the (bounded) box reaches the unsafe set, before ``deadline``
    (a ``time.monotonic()`` value).

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> from verify.claim import Claim, Tolerance
    >>> from verify.claim_to_problem import claim_to_problem
    >>> from verify.domain import Domain, RealInterval
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    >>> box = Domain({'x': RealInterval(-1, 1)})
    >>> out = search(claim_to_problem(Claim(net, sp.Abs(sym('x')), box, Tolerance(Fraction(1, 8)))), time.monotonic() + 10)
    >>> out.verdict, out.certificate['kind']
    ('proved', 'bab')
    >>> out = search(claim_to_problem(Claim(net, sp.Abs(sym('x')), box, Tolerance(Fraction(1, 8)))),
    ...              time.monotonic() + 10, Settings(split="relu"))
    >>> out.verdict, out.stats.relu_splits > 0   # 4 unstable ReLUs (target folded in): split them
    ('proved', True)
    """
    if not problem.bounded:
        raise ValueError("branch and bound needs a bounded box")
    return _Search(problem, deadline, settings).run()
