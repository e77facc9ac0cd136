"""Branch and bound over boxes: split inputs (or unstable ReLUs) until each leaf is confirmed safe.

:func:`search` takes a :class:`~verify.claim_to_problem.Problem` on a bounded box and a wall-clock
deadline and returns a frozen :class:`Outcome`: ``proved`` with a certificate (every leaf confirmed
by :mod:`verify.confirm_leaves`, never by a float alone), ``refuted`` with an exact counterexample
(replayed in rationals), or ``unknown`` with the reason and the fraction of the box certified.
Nodes are bounded in batches (:mod:`verify.linear_bounds`, vectorised over boxes), atom
multipliers come from :mod:`verify.multipliers`, and where bounds stall the LP of
:mod:`verify.lp_relaxation` supplies them.
"""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction

import numpy as np

from verify import confirm_leaves, linear_bounds as lb, multipliers
from verify.claim_to_problem import Problem
from verify.confirm_leaves import RootBox, confirm_exact
from verify.falsify import project
from verify.tree_to_certificate import Proof, Tree, certificate


@dataclasses.dataclass(frozen=True)
class Settings:
    """Search options. ``split``: "input", "relu" or "auto" (inputs while the box has room and the
    network has at most ``relu_inputs`` inputs). ``exact_neurons``: networks up to this size may
    confirm leaves in exact rationals when the float enclosure is not enough."""

    batch: int = 64
    split: str = "auto"
    relu_inputs: int = 12
    mu_steps: int = 10
    exact_neurons: int = 64
    max_nodes: int = 4_000_000
    quantum: float = 2.0 ** -20

    def __post_init__(self) -> None:
        if self.split not in ("input", "relu", "auto"):
            raise ValueError(f"split must be input, relu or auto, got {self.split!r}")
        if self.batch < 1 or self.max_nodes < 1:
            raise ValueError("batch and max_nodes must be positive")


@dataclasses.dataclass(frozen=True)
class Stats:
    """Counts and seconds of one search."""

    nodes: int = 0
    leaves: int = 0
    max_depth: int = 0
    input_splits: int = 0
    relu_splits: int = 0
    bounds_s: float = 0.0
    mu_s: float = 0.0
    confirm_s: float = 0.0
    exact_s: float = 0.0
    lp_s: float = 0.0
    cex_s: float = 0.0
    total_s: float = 0.0
    confirm_failures: int = 0
    certified_fraction: float = 0.0

    def to_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True, eq=False)
class Outcome:
    """``verdict`` is "proved", "refuted" or "unknown"; ``point`` an exact counterexample."""

    verdict: str
    point: dict[str, Fraction] | None
    reached: int | None
    certificate: dict | None
    stats: Stats
    reason: str = ""


class _Search:
    def __init__(self, problem: Problem, deadline: float, settings: Settings):
        self.p, self.layers, self.deadline, self.s = problem, problem.layers, deadline, settings
        self.root = RootBox.of(problem.box)
        self.tree = Tree()
        widths = self.root.hi - self.root.lo
        self.scale = np.where(widths > 0, widths, 1.0)
        self.volume = 0.0
        self.sizes = [lv.size for lv in self.layers.levels]
        self.offsets = np.cumsum([0] + self.sizes)
        self.relu_flat = np.concatenate([lv.relu for lv in self.layers.levels])
        self.use_phases = settings.split == "relu" or (settings.split == "auto" and
                                                        problem.layers.n_inputs > settings.relu_inputs)
        self.t = dict(bounds=0.0, mu=0.0, confirm=0.0, exact=0.0, lp=0.0, cex=0.0)
        self.counts = dict(nodes=0, input=0, relu=0, failures=0)
        self.stuck = 0
        n_neurons = int(self.offsets[-1])
        self.exact_ok = n_neurons <= settings.exact_neurons
        self.found: tuple[dict, int] | None = None

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> Outcome:
        start = time.perf_counter()
        n_flat = int(self.offsets[-1])
        stack = [(0, self.root.lo.copy(), self.root.hi.copy(), np.zeros(n_flat, dtype=np.int8))]
        reason = ""
        while stack:
            if time.monotonic() > self.deadline:
                reason = "the time budget ran out"
                break
            if self.tree.size > self.s.max_nodes:
                reason = f"the split tree reached {self.s.max_nodes} nodes"
                break
            batch = stack[-self.s.batch:]
            del stack[-self.s.batch:]
            stack.extend(self._process(batch))
            if self.found is not None:
                break
        total = time.perf_counter() - start
        stats = self._stats(total)
        if self.found is not None:
            point, reached = self.found
            return Outcome("refuted", point, reached, None, stats)
        if not stack and not reason and not self.stuck:
            cert = certificate(self.p.circuit, self.p.box, self.p.unsafe, self.tree, self.p.source,
                               {"leaves": stats.leaves, "max_depth": stats.max_depth, "search_s": round(total, 3)})
            return Outcome("proved", None, None, cert, stats)
        if not reason:
            reason = f"{self.stuck} nodes could be neither split further nor confirmed"
        return Outcome("unknown", None, None, None, stats,
                       f"branch and bound: {reason} after {stats.nodes} nodes; "
                       f"{100 * stats.certified_fraction:.4g}% of the box certified")

    def _stats(self, total: float) -> Stats:
        return Stats(self.counts["nodes"], len(self.tree.leaves), self.tree.max_depth, self.counts["input"],
                     self.counts["relu"], self.t["bounds"], self.t["mu"], self.t["confirm"], self.t["exact"],
                     self.t["lp"], self.t["cex"], total, self.counts["failures"], min(1.0, self.volume))

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
            closed, mus, Ls, As, fb = self._bound_sound(lo, hi, phases)
        else:
            closed, mus, Ls, As, fb = self._bound_float(lo, hi, phases)
        self._counterexamples(lo, hi, ~closed, As, Ls)
        if self.found is not None:
            return []
        children = []
        for b in range(len(batch)):
            if closed[b] == 1:
                self._close(ids[b], "empty", lo[b], hi[b])
            elif closed[b] == 2:
                self._close(ids[b], [self._proof(mus[d][b]) for d in range(len(mus))], lo[b], hi[b])
            elif closed[b] == 3 and self._exact(ids[b], lo[b], hi[b], flat[b], [m[b] for m in mus]):
                pass
            else:
                children.extend(self._split(ids[b], lo[b], hi[b], flat[b], fb, b, As, Ls))
        return children

    def _bound_sound(self, lo, hi, phases):
        """Sound bounds, single-atom proofs, then optimised multipliers where those fail.
        Returns per node 0 (open), 1 (empty), 2 (proved), 3 (try exact), and the proof data."""
        t0 = time.perf_counter()
        B = lo.shape[0]
        sb = confirm_leaves.node_bounds(self.p, self.root, lo, hi, phases)
        empty = confirm_leaves.certainly_empty(sb, phases)
        fb = confirm_leaves.as_float_bounds(sb, *self.root.outer(lo, hi), phases)
        mus, Ls, As, oks, atoms = [], [], [], [], []
        for d, spec in enumerate(self.p.specs):
            eye = np.broadcast_to(np.eye(spec.size)[:, None, :], (spec.size, B, spec.size))
            values, A, safe = confirm_leaves.proof_values(self.p, sb, d, eye, want_a=True)
            atoms.append(values)
            best = np.argmax(np.where(safe, np.inf, values), axis=0)
            cols = np.arange(B)
            mu = np.zeros((B, spec.size))
            mu[cols, best] = 1.0
            mus.append(mu)
            Ls.append(values[best, cols])
            As.append(A[best, cols])
            oks.append(safe[best, cols])
        self.t["bounds"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        for d, spec in enumerate(self.p.specs):
            todo = np.nonzero(~oks[d] & ~empty)[0] if spec.size > 1 and self.s.mu_steps else []
            if len(todo) == 0:
                continue
            sub = lb.take(fb, todo)
            v = atoms[d][:, todo].T
            top = v.max(axis=1, keepdims=True)
            start = np.exp(np.clip((v - top) / (np.abs(top) + 1e-12), -30, 0))
            m2, _, _ = multipliers.optimise_mu(self.layers, sub, spec, start, self.s.mu_steps)
            q = np.round(m2 / self.s.quantum) * self.s.quantum
            q = np.where(q.sum(axis=1, keepdims=True) > 0, q, m2)
            trial = mus[d].copy()
            trial[todo] = q
            values, A, safe = confirm_leaves.proof_values(self.p, sb, d, trial[None], want_a=True)
            better = np.zeros(B, dtype=bool)
            better[todo] = (safe[0][todo] & ~oks[d][todo]) | (values[0][todo] > Ls[d][todo])
            mus[d][better], Ls[d][better], As[d][better] = trial[better], values[0][better], A[0][better]
            oks[d] = oks[d] | (better & safe[0])
        self.t["mu"] += time.perf_counter() - t0
        proved = np.all(oks, axis=0)
        state = np.where(empty, 1, np.where(proved, 2, 0))
        if self.exact_ok:
            near = np.all([L > -1e-9 for L in Ls], axis=0)
            state = np.where((state == 0) & near, 3, state)
        return state, mus, Ls, As, fb

    def _bound_float(self, lo, hi, phases):
        """Networks whose weights are not floats: float bounds guide, exact rationals confirm."""
        t0 = time.perf_counter()
        B = lo.shape[0]
        fb = lb.node_bounds(self.layers, lo, hi, phases, all_rows=True)
        values, As_all = multipliers.atom_bounds(self.layers, fb, self.p.specs)
        mus, Ls, As = [], [], []
        for d, spec in enumerate(self.p.specs):
            best = np.argmax(values[d], axis=0)
            mu = np.zeros((B, spec.size))
            mu[np.arange(B), best] = 1.0
            mus.append(mu)
            Ls.append(values[d][best, np.arange(B)])
            As.append(As_all[d][best, np.arange(B)])
        self.t["bounds"] += time.perf_counter() - t0
        candidate = fb.empty | np.all([L > -1e-9 for L in Ls], axis=0)
        return np.where(candidate & self.exact_ok, 3, 0), mus, Ls, As, fb

    def _proof(self, mu: np.ndarray) -> Proof:
        return Proof(tuple((i, float(v)) for i, v in enumerate(mu) if v > 0))

    def _close(self, node: int, proofs, lo, hi) -> None:
        self.tree.close(node, proofs)
        width = np.where(self.root.hi > self.root.lo, (hi - lo) / self.scale, 1.0)
        self.volume += float(np.prod(width))

    def _exact(self, node, lo, hi, flat, mus) -> bool:
        t0 = time.perf_counter()
        box = self.root.exact_box(lo, hi)
        phases = {}
        for k, lv in enumerate(self.layers.levels):
            for i, name in enumerate(lv.names):
                if flat[self.offsets[k] + i]:
                    phases[name] = int(flat[self.offsets[k] + i])
        proofs = [({i: Fraction(v) for i, v in enumerate(mu) if v > 0}, {}, {}) for mu in mus]
        verdict = confirm_exact(self.p, box, phases, proofs)
        self.t["exact"] += time.perf_counter() - t0
        if verdict == "empty":
            self._close(node, "empty", lo, hi)
        elif verdict:
            self._close(node, [self._proof(mu) for mu in mus], lo, hi)
        return bool(verdict)

    # -- counterexamples ----------------------------------------------------------------------
    def _counterexamples(self, lo, hi, open_, As, Ls) -> None:
        if not open_.any():
            return
        t0 = time.perf_counter()
        idx = np.nonzero(open_)[0]
        cands = [(lo[idx] + hi[idx]) / 2]
        for A in As:
            cands.append(np.where(A[idx] > 0, lo[idx], hi[idx]))
        x = np.concatenate(cands)
        y = self.layers.forward(x)
        for d, spec in enumerate(self.p.specs):
            g = y @ spec.out.T + x @ spec.inp.T - spec.rhs
            hit = np.all(np.where(spec.strict, g < 0, g <= 0), axis=1)
            for r in np.nonzero(hit)[0][:4]:
                if self._replay(x[r]):
                    break
            if self.found is not None:
                break
        self.t["cex"] += time.perf_counter() - t0

    def _replay(self, x: np.ndarray) -> bool:
        point = project(self.p, x)
        if point is None or not self.p.in_domain(point):
            return False
        reached = self.p.reached(point)
        if reached is None:
            return False
        self.found = (point, reached)
        return True

    # -- splitting ----------------------------------------------------------------------------
    def _split(self, node, lo, hi, flat, bounds, b, As, Ls):
        width = hi - lo
        room = width > 1e-9 * np.maximum(1.0, np.abs(lo) + np.abs(hi))
        if room.any() and not self.use_phases:
            score = sum(np.abs(A[b]) for d, A in enumerate(As) if Ls[d][b] <= 0) * width
            score = np.where(room, score + 1e-300 * width, -1.0)
            j = int(np.argmax(score))
            at = float((lo[j] + hi[j]) / 2)
            if lo[j] < at < hi[j]:
                self.counts["input"] += 1
                c0, c1 = self.tree.split(node, ("input", self.p.inputs[j], at))
                hi0, lo1 = hi.copy(), lo.copy()
                hi0[j], lo1[j] = at, at
                return [(c1, lo1, hi, flat), (c0, lo, hi0, flat)]
        neuron = self._pick_relu(bounds, b, flat)
        if neuron is None:
            self.stuck += 1
            return []
        self.counts["relu"] += 1
        name = self.layers.levels[neuron[0]].names[neuron[1]]
        c0, c1 = self.tree.split(node, ("relu", name))
        pos = self.offsets[neuron[0]] + neuron[1]
        active, inactive = flat.copy(), flat.copy()
        active[pos], inactive[pos] = 1, -1
        return [(c1, lo, hi, inactive), (c0, lo, hi, active)]

    def _pick_relu(self, bounds, b, flat):
        """The unstable, unsplit ReLU with the largest triangle (u * -l / (u - l)), earliest level first."""
        for k, lv in enumerate(self.layers.levels):
            l, u = bounds.lower[k][b], bounds.upper[k][b]
            free = flat[self.offsets[k]:self.offsets[k + 1]] == 0
            unstable = lv.relu & free & (l < 0) & (u > 0)
            if unstable.any():
                area = np.where(unstable, u * -l / np.where(unstable, u - l, 1.0), -1.0)
                return k, int(np.argmax(area))
        return None


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
    >>> out.verdict, out.certificate['tree']['split'], out.stats.leaves
    ('proved', {'input': 'x', 'at': '0'}, 2)
    """
    if not problem.bounded:
        raise ValueError("branch and bound needs a bounded box")
    return _Search(problem, deadline, settings).run()
