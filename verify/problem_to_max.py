"""Branch and bound for the maximum of ``|d|`` over a box: the search behind :mod:`verify.worst_case_bab`.

:class:`MaxSearch` keeps the lower end ``L`` (the exact ``|d|`` at the best point found) and a queue
of open nodes (a box and ReLU phases), largest sound upper bound of ``|d|`` first. Bounding,
proofs and the LP are the engine's (:mod:`verify.confirm_leaves`, :mod:`verify.node_proofs`); a
node is closed when its sound bound shows ``|d| <= L`` with the engine's margin, or when its ReLUs
are all fixed and :mod:`verify.leaf_to_exact_max` solves it exactly. Nodes in :attr:`distrust`
(reopened because the checker rejected their leaf) and their children are closed only exactly.
Split nodes keep their bound and proofs in :attr:`inner`, so a coarser certificate can be cut.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from fractions import Fraction

import numpy as np

from symbolic import errors
from verify import certificate, confirm_leaves, falsify, linear_bounds as lb, multipliers, node_proofs
from verify.certificate_exact import Program
from verify.claim_to_problem import Problem, compile_spec
from verify.confirm_leaves import RootBox
from verify.leaf_to_exact_max import leaf_max, region_max
from verify.output_set import Atom
from verify.rigorous_bounds import MARGIN
from verify.tree_to_certificate import Proof, Tree, network_json


@dataclasses.dataclass(frozen=True)
class Settings:
    """Search options. ``batch`` nodes are bounded at once; nodes with at most ``relu_when``
    unstable ReLUs, or narrower than ``relu_width`` of the root box in every input, split a ReLU
    (hyperplanes through a maximiser never become stable under input splits), others an input,
    chosen by strong branching (``strong``: both halves of every input split bounded in floats,
    product rule) or the smear rule. First ``restarts`` x ``steps`` of gradient ascent, within
    ``ascent_share`` of the budget, whose ``polish`` best points have their linear regions
    maximised exactly. The search stops at ``1 - certify_share`` of the budget at the latest, so
    that the certificate is written and checked in the rest (``check=False`` skips the check, and
    then no result is called exact). An input is split at ``split_at`` of its width, off
    the middle: midpoints make ranges such as ``x1 - x2 in [-a, a]``, where the default lower slope's
    tie ``u = -l`` is broken by rounding one way and by the exact checker the other (measured: rejected
    leaves, and leaves that pass only the checker's slowest, unrounded attempt)."""

    batch: int = 32
    relu_when: int = 2
    restarts: int = 2048
    steps: int = 64
    polish: int = 16
    ascent_share: float = 0.1
    certify_share: float = 0.65
    check: bool = True
    max_nodes: int = 2_000_000
    max_aspect: float = 256.0
    split_at: float = 0.5 + 2.0**-6
    relu_width: float = 2.0**-8
    strong: bool = True
    seed: int = 0


def unsafe_set(d: str, eps: Fraction) -> tuple[tuple[Atom, ...], ...]:
    """``(d > eps) or (-d > eps)``: the unsafe set of the claim ``|d| <= eps``, as the engine writes it."""
    return ((Atom(((d, 1),), ">", eps),), (Atom(((d, -1),), ">", eps),))


class _Node:
    """An open node: its box and phases, the sound bounds and proofs found at ``eps``."""

    __slots__ = ("id", "lo", "hi", "flat", "eps", "values", "need", "proofs", "A", "unstable", "pick", "trust")

    def upper(self) -> Fraction:
        """An upper bound of ``|d|`` on the node (sound: ``values`` are sound lower bounds of ``eps -/+ d``)."""
        return max(self.eps - Fraction(v) for v in self.values)


class MaxSearch:
    """One maximisation: :meth:`ascent`, :meth:`bound` the root, then :meth:`search`."""

    def __init__(self, problem: Problem, end: float, settings: Settings):
        self.p, self.layers, self.s, self.end = problem, problem.layers, settings, end
        self.root = RootBox.of(problem.box)
        widths = self.root.hi - self.root.lo
        self.scale = np.where(widths > 0, widths, 1.0)
        self.tree = Tree()
        self.names = [n for lv in self.layers.levels for n in lv.names]
        self.offsets = np.cumsum([0] + [lv.size for lv in self.layers.levels])
        self.level_of = np.concatenate([np.full(lv.size, k) for k, lv in enumerate(self.layers.levels)])
        self.d = problem.circuit.output
        self.program = Program(certificate.parse_network(network_json(problem.circuit), certificate.Limits()))
        self.queue: list = []
        self.stuck: list[_Node] = []
        self.distrust: set[int] = set()
        self.inner: dict[int, tuple[Fraction, list]] = {}   # split nodes: bound of |d| (+ margin), proofs
        self.wide: dict[int, Fraction] = {}                 # leaves closed above L: the eps they need
        self.counts = dict(nodes=0, input_splits=0, relu_splits=0, exact_leaves=0, exact_tries=0, replays=0)
        self.t = dict(ascent=0.0, bounds=0.0, lp=0.0, branch=0.0, exact=0.0, certificate=0.0, check=0.0)
        self._eps: Fraction | None = None
        centre = {n: (lo + hi) / 2 for n, (lo, hi) in zip(problem.inputs, problem.box)}
        self.lower, self.at = Fraction(-1), centre
        self._offer(centre)

    # -- the lower end: exact values at points ---------------------------------------------------
    def _offer(self, point: dict[str, Fraction], expected: Fraction | None = None) -> None:
        """Raise ``L`` to ``|d(point)|`` (exact) if larger; ``expected`` must equal ``d(point)``."""
        self.counts["replays"] += 1
        value = self.p.circuit.evaluate_all(point)[self.d]
        if expected is not None and value != expected:
            raise errors.ReplayError(f"an exact leaf maximum {expected} does not replay: d = {value} there")
        if abs(value) > self.lower:
            self.lower, self.at = abs(value), dict(point)

    def _candidates(self, x: np.ndarray, top: int = 4) -> None:
        """Replay exactly the float points that beat ``L`` in floats, best first."""
        if len(x) == 0:
            return
        y = np.abs(self.layers.forward(x)[:, 0])
        for r in np.argsort(-y)[:top]:
            if not y[r] > float(self.lower) * (1 + 1e-15):
                break
            point = falsify.project(self.p, x[r])
            if point is not None:
                self._offer(point)

    def ascent(self) -> None:
        """Signed-gradient ascent on ``d`` and on ``-d`` from corners, the centre and random points."""
        t0 = time.monotonic()
        stop = t0 + self.s.ascent_share * max(0.0, self.end - t0)
        rng = np.random.default_rng(self.s.seed)
        lo, hi, n = self.root.lo, self.root.hi, self.layers.n_inputs
        half = self.s.restarts // 2
        corners = lo + (hi - lo) * rng.integers(0, 2, size=(min(half, 2 ** min(n, 20)), n))
        x = np.concatenate([((lo + hi) / 2)[None], corners, lo + (hi - lo) * rng.random((half, n))])
        x = np.concatenate([x, x])
        sign = np.repeat([1.0, -1.0], len(x) // 2)[:, None]
        step = 0.25 * (hi - lo)
        best_x, best_y = x.copy(), np.full(len(x), -np.inf)
        for t in range(self.s.steps):
            value, grad, _ = falsify.gradients(self.p, x, sign, np.zeros_like(x))
            better = value > best_y
            best_x[better], best_y[better] = x[better], value[better]
            x = np.clip(x + step * np.sign(grad), lo, hi)
            if t % 8 == 7:
                step = step * 0.5
            if time.monotonic() > stop:
                break
        self._candidates(best_x, top=8)
        for r in np.argsort(-best_y)[:self.s.polish]:  # the best points' linear regions, solved exactly
            if time.monotonic() > stop:
                break
            found = region_max(self.layers, self.p.box, best_x[r], int(sign[r, 0]), max(0.05, stop - time.monotonic()))
            if found is not None:
                self._offer(dict(zip(self.p.inputs, found[1])), int(sign[r, 0]) * found[0])
        self.t["ascent"] += time.monotonic() - t0

    # -- bounding ---------------------------------------------------------------------------------
    def _problem(self) -> Problem:
        """The engine's problem ``|d| <= L`` for the current ``L``."""
        if self._eps != self.lower:
            unsafe = unsafe_set(self.d, self.lower)
            specs = tuple(compile_spec(u, self.p.inputs, self.p.circuit.outputs) for u in unsafe)
            self._at_eps = dataclasses.replace(self.p, unsafe=unsafe, specs=specs)
            self._eps = self.lower
        return self._at_eps

    def _phases(self, flat: np.ndarray):
        if not flat.any():
            return None
        return tuple(flat[:, a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:]))

    def bound(self, items: list) -> None:
        """Bound new nodes ``(id, lo, hi, flat)`` in one batch: close them or queue them."""
        if not items:
            return
        t0 = time.monotonic()
        P, eps = self._problem(), self.lower
        lo, hi = np.stack([i[1] for i in items]), np.stack([i[2] for i in items])
        flat = np.stack([i[3] for i in items])
        phases = self._phases(flat)
        self.counts["nodes"] += len(items)
        sb = confirm_leaves.node_bounds(P, self.root, lo, hi, phases)
        empty = confirm_leaves.certainly_empty(sb, phases)
        proofs, _ = node_proofs.atom_proofs(P, sb)
        self.t["bounds"] += time.monotonic() - t0
        lp_nodes = [b for b in range(len(items)) if flat[b].any() and not empty[b] and not proofs.proved[b]]
        points = []
        if lp_nodes:
            t1 = time.monotonic()
            points = node_proofs.lp_proofs(P, sb, *self.root.outer(lo, hi), phases, proofs, lp_nodes, self.end)
            self.t["lp"] += time.monotonic() - t1
        corners = [np.where(A > 0, lo, hi) for A in proofs.A]
        self._candidates(np.concatenate(corners + [(lo + hi) / 2] + ([np.array(points)] if points else [])))
        k, i = self.layers.outputs[0]
        mag = sb.post_mag[k][:, i]
        unstable = np.concatenate(sb.unstable, axis=1) & (flat == 0)
        lower, upper = np.concatenate(sb.lower, axis=1), np.concatenate(sb.upper, axis=1)
        for b, (node_id, *_rest) in enumerate(items):
            trust = node_id not in self.distrust
            if empty[b] and trust:
                self.tree.close(node_id, "empty")
                continue
            if proofs.proved[b] and trust:
                self.tree.close(node_id, [self._proof(proofs, d, b, sb) for d in range(2)])
                continue
            node = _Node()
            node.id, node.lo, node.hi, node.flat, node.eps = node_id, lo[b], hi[b], flat[b], eps
            node.values = [float(v[b]) for v in proofs.value]
            node.need = 2 * MARGIN * (1 + float(mag[b]) + float(eps))
            node.proofs = [self._proof(proofs, d, b, sb) for d in range(2)]
            node.A = sum(np.abs(A[b]) for A in proofs.A)
            node.unstable = unstable[b]
            node.pick = self._pick(lower[b], upper[b], unstable[b])
            node.trust = trust
            heapq.heappush(self.queue, (-float(node.upper()), node_id, node))

    def _pick(self, lo, up, unstable) -> int:
        """The unstable ReLU with the largest triangle, earliest level first (-1: none)."""
        if not unstable.any():
            return -1
        first = self.level_of[unstable].min()
        cand = unstable & (self.level_of == first)
        area = np.where(cand, up * -lo / np.where(cand, up - lo, 1.0), -1.0)
        return int(np.argmax(area))

    def _proof(self, proofs: node_proofs.Proofs, d: int, b: int, sb) -> Proof:
        """The node's proof of disjunct ``d``, with every lower slope written out: the sound bounds
        break the tie ``u = -l`` of the default slope by their rounded ends, the checker by the
        exact ones, so a default slope left implicit can differ (a rejected leaf, measured)."""
        mu = proofs.mu[d][b]
        beta, alpha = proofs.beta[d].get(b), proofs.alpha[d].get(b)
        named_beta = ()
        if beta is not None:
            flat = np.concatenate(beta)
            named_beta = tuple((self.names[i], float(flat[i])) for i in np.nonzero(flat > 0)[0])
        slopes = np.concatenate([s[b] for s in sb.s_low])
        unstable = np.concatenate([u[b] for u in sb.unstable])
        if alpha is not None:
            chosen = np.concatenate([alpha[k] for k in sorted(alpha)])
            slopes = np.where(np.isnan(chosen), slopes, chosen)
        named_alpha = tuple((self.names[i], float(slopes[i])) for i in np.nonzero(unstable)[0])
        return Proof(tuple((i, float(v)) for i, v in enumerate(mu) if v > 0), named_beta, named_alpha)

    # -- the loop ---------------------------------------------------------------------------------
    def root_items(self) -> list:
        return [(0, self.root.lo.copy(), self.root.hi.copy(), np.zeros(int(self.offsets[-1]), dtype=np.int8))]

    def search(self, until: float) -> str:
        """Process open nodes until none is left (``""``) or ``until`` (``time.monotonic()``): the reason."""
        while self.queue:
            if time.monotonic() > until:
                return "the time budget ran out"
            if self.tree.size > self.s.max_nodes:
                return f"the split tree reached {self.s.max_nodes} nodes"
            batch = [heapq.heappop(self.queue)[2] for _ in range(min(self.s.batch, len(self.queue)))]
            dims = self._strong(batch)
            children = []
            for node in batch:
                children.extend(self._step(node, dims.get(node.id)))
            self.bound(children)
        return f"{len(self.stuck)} nodes could be neither split further nor solved exactly" if self.stuck else ""

    def _closable(self, node: _Node) -> bool:
        shift = self.lower - node.eps
        return all(Fraction(v) + shift > Fraction(node.need) for v in node.values)

    def _strong(self, batch: list[_Node]) -> dict[int, int]:
        """Strong branching: for the nodes about to split an input, bound both halves of every input
        split (float bounds, one batch) and pick the input whose worse half has the smallest upper
        bound of ``|d|``."""
        nodes = [nd for nd in batch if self.s.strong and not (nd.trust and self._closable(nd))
                 and nd.unstable.sum() > self.s.relu_when
                 and np.max((nd.hi - nd.lo) / self.scale) >= self.s.relu_width]
        if not nodes:
            return {}
        t0 = time.monotonic()
        n = self.layers.n_inputs
        lo, hi = np.stack([nd.lo for nd in nodes]), np.stack([nd.hi for nd in nodes])
        c_lo, c_hi = np.repeat(lo, 2 * n, axis=0), np.repeat(hi, 2 * n, axis=0)
        rows = np.arange(len(c_lo))
        j, half = np.tile(np.repeat(np.arange(n), 2), len(nodes)), np.tile([0, 1], n * len(nodes))
        at = c_lo[rows, j] + self.s.split_at * (c_hi[rows, j] - c_lo[rows, j])
        c_hi[rows[half == 0], j[half == 0]] = at[half == 0]
        c_lo[rows[half == 1], j[half == 1]] = at[half == 1]
        flat = np.repeat(np.stack([nd.flat for nd in nodes]), 2 * n, axis=0)
        fb = lb.node_bounds(self.layers, c_lo, c_hi, self._phases(flat))
        values, _ = multipliers.atom_bounds(self.layers, fb, self._problem().specs)
        child = (-np.min([v.max(axis=0) for v in values], axis=0)).reshape(len(nodes), n, 2)
        parent = np.array([-min(nd.values) for nd in nodes])[:, None, None]
        floor = 1e-3 * (np.abs(parent) + 1e-9)
        gain = np.maximum(parent - child, floor)
        score = gain[:, :, 0] * gain[:, :, 1]          # the product rule of strong branching
        width = hi - lo
        score = np.where(width > 1e-9 * np.maximum(1.0, np.abs(lo) + np.abs(hi)), score, -np.inf)
        self.t["branch"] += time.monotonic() - t0
        return {nd.id: int(np.argmax(sc)) for nd, sc in zip(nodes, score)}

    def _step(self, node: _Node, dim: int | None = None) -> list:
        if node.trust and self._closable(node):
            self.tree.close(node.id, node.proofs)
            return []
        count = int(node.unstable.sum())
        if count == 0:
            return self._exact(node)
        small = np.max((node.hi - node.lo) / self.scale) < self.s.relu_width
        if count <= self.s.relu_when or small:
            return self._relu_split(node, node.pick)
        return self._input_split(node, dim=dim) or self._relu_split(node, node.pick)

    def _exact(self, node: _Node) -> list:
        """Solve an all-fixed node exactly: close it with exact multipliers, or split it."""
        t0 = time.monotonic()
        self.counts["exact_tries"] += 1
        phases = {self.names[i]: int(node.flat[i]) for i in np.nonzero(node.flat)[0]}
        box = self.root.exact_box(node.lo, node.hi)
        found = leaf_max(self.layers, self.program, box, phases, max(0.1, min(5.0, self.end - time.monotonic())))
        self.t["exact"] += time.monotonic() - t0
        if found.status == "empty":
            self.tree.close(node.id, "empty")
            return []
        if found.status == "split":
            return self._relu_split(node, self.names.index(found.neuron))
        if found.status == "max":
            for vertex, sign in ((found.upper, 1), (found.lower, -1)):
                self._offer(dict(zip(self.p.inputs, vertex.x)), sign * vertex.value)
            self.tree.close(node.id, [Proof(((0, 1),), found.upper.beta), Proof(((0, 1),), found.lower.beta)])
            self.counts["exact_leaves"] += 1
            return []
        return self._input_split(node, widest=True) or self._stuck(node)

    def _stuck(self, node: _Node) -> list:
        self.stuck.append(node)
        return []

    def _input_split(self, node: _Node, widest: bool = False, dim: int | None = None) -> list:
        lo, hi = node.lo, node.hi
        width = hi - lo
        room = width > 1e-9 * np.maximum(1.0, np.abs(lo) + np.abs(hi))
        if not room.any():
            return []
        relative = np.where(room, width / self.scale, 0.0)
        score = np.where(room, node.A * width + 1e-300 * width, -1.0)
        j = int(np.argmax(relative if widest else score)) if dim is None else dim
        if relative[j] * self.s.max_aspect < relative.max():  # never starve a dimension
            j = int(np.argmax(relative))
        at = float(lo[j] + self.s.split_at * (hi[j] - lo[j]))
        if not lo[j] < at < hi[j]:
            return []
        self.counts["input_splits"] += 1
        c0, c1 = self._split(node, ("input", self.p.inputs[j], at))
        hi0, lo1 = hi.copy(), lo.copy()
        hi0[j], lo1[j] = at, at
        return [(c0, lo, hi0, node.flat), (c1, lo1, hi, node.flat)]

    def _split(self, node: _Node, how: tuple) -> tuple[int, int]:
        self.inner[node.id] = (node.upper() + 2 * Fraction(node.need), node.proofs)
        children = self.tree.split(node.id, how)
        if not node.trust:
            self.distrust.update(children)
        return children

    def _relu_split(self, node: _Node, pos: int) -> list:
        if pos < 0:
            return self._stuck(node)
        self.counts["relu_splits"] += 1
        c0, c1 = self._split(node, ("relu", self.names[pos]))
        active, inactive = node.flat.copy(), node.flat.copy()
        active[pos], inactive[pos] = 1, -1
        return [(c0, node.lo, node.hi, active), (c1, node.lo, node.hi, inactive)]



def round_up(value: Fraction, digits: int = 12) -> Fraction:
    """The smallest decimal with ``digits`` significant digits that is ``>= value`` (0 stays 0).

    >>> round_up(Fraction(1, 3), 3), round_up(Fraction(-1, 3), 3), round_up(Fraction(0))
    (Fraction(167, 500), Fraction(-333, 1000), Fraction(0, 1))
    """
    if value == 0:
        return value
    e = math.floor(math.log10(abs(value)))
    scale = Fraction(10) ** (digits - 1 - e)
    return Fraction(math.ceil(value * scale)) / scale
