"""The LP over the triangle relaxation of one node (HiGHS via highspy): a guide for proof multipliers.

For a node (box, fixed intermediate bounds, ReLU phases) and one disjunct with atoms g_i, the LP

    minimise t  subject to  g_i(y, x) <= t (all i),  x in the box,
                            h = pre (stable active or linear), h = 0 (stable inactive),
                            h >= 0, h >= pre, h <= s (pre - l) (unstable),  s_j pre_j >= 0 (split),

has optimum t* = max over (mu, alpha, beta) of the certificate's bound of
``sum mu_i g_i - sum beta_j s_j pre_j`` (LP duality, the intermediate bounds fixed). Its duals
give those multipliers: mu from the atom rows, beta from the split rows and the lower slope
``alpha_j = d(h >= pre) / (d(h >= pre) + d(h >= 0))``. Nothing here is trusted: the multipliers
are re-checked by :mod:`verify.confirm_leaves`.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import highspy
import numpy as np

from verify.circuit_to_layers import Layers
from verify.claim_to_problem import Spec

INF = highspy.kHighsInf
_SOLVER: list = []


def _solver() -> highspy.Highs:
    """One HiGHS instance per process, made with standard output closed (HiGHS prints a banner
    from C++ when its first instance is constructed)."""
    if not _SOLVER:
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        try:
            h = highspy.Highs()
            h.silent()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
        _SOLVER.append(h)
    return _SOLVER[0]


@dataclasses.dataclass(frozen=True, eq=False)
class LPResult:
    """``value`` = t* (None if the LP failed), multipliers per level (arrays (n_k,)), and ``x`` the
    input part of an optimal point (a candidate counterexample when t* <= 0)."""

    value: float | None
    mu: np.ndarray | None
    alpha: tuple[np.ndarray, ...] | None
    beta: tuple[np.ndarray, ...] | None
    x: np.ndarray | None
    status: str


def solve(layers: Layers, spec: Spec | None, lo: np.ndarray, hi: np.ndarray, lower, upper, phases=None,
          time_limit: float = 10.0) -> LPResult:
    """Solve the node LP (``lower``/``upper``: per level (n_k,) pre-activation bounds; ``phases``
    per level (n_k,) int8 or None).

    With ``spec=None`` the LP asks whether the phases can hold at all: it maximises the smallest
    margin ``s_j pre_j`` of the split neurons over the relaxation, and reports ``value`` = minus
    that maximum (positive: the node is empty) with ``beta`` the weights of the margins (summing
    to 1) and ``mu`` None.
    """
    empty_mode = spec is None
    n_in = layers.n_inputs
    offsets = [0, n_in]
    for lv in layers.levels:
        offsets.append(offsets[-1] + lv.size)
    t_col = offsets[-1]
    n_cols = t_col + 1
    col_lo = np.full(n_cols, -INF)
    col_hi = np.full(n_cols, INF)
    col_lo[:n_in], col_hi[:n_in] = lo, hi
    rows_lo, rows_hi, starts, index, value = [], [], [0], [], []
    kinds = []  # per row: ("pre", k, j) | ("up", k, j) | ("eq", k, j) | ("phase", k, j) | ("atom", i)

    def row(coeffs: dict, lo_: float, hi_: float, kind) -> None:
        for c, v in coeffs.items():
            if v != 0:
                index.append(c)
                value.append(v)
        starts.append(len(index))
        rows_lo.append(lo_)
        rows_hi.append(hi_)
        kinds.append(kind)

    for k, lv in enumerate(layers.levels, start=1):
        l, u = lower[k - 1], upper[k - 1]
        phase = None if phases is None else phases[k - 1]
        for j in range(lv.size):
            col = offsets[k] + j
            pre = {}
            for b in lv.blocks:
                base = offsets[b.source]
                for i in np.nonzero(b.weights[j])[0]:
                    pre[base + int(i)] = pre.get(base + int(i), 0.0) + float(b.weights[j, i])
            bias = float(lv.bias[j])
            ph = 0 if phase is None else int(phase[j])
            margin = {t_col: -1.0} if empty_mode else {}
            if not lv.relu[j] or ph > 0 or l[j] >= 0:
                row({col: 1.0, **{c: -v for c, v in pre.items()}}, bias, bias, ("eq", k, j))
                if ph > 0:
                    row({**pre, **margin}, -bias, INF, ("phase", k, j))
            elif ph < 0 or u[j] <= 0:
                col_lo[col], col_hi[col] = 0.0, 0.0
                if ph < 0:
                    row({**{c: -v for c, v in pre.items()}, **margin}, bias, INF, ("phase", k, j))
            else:
                s = u[j] / (u[j] - l[j])
                col_lo[col] = 0.0
                row({col: 1.0, **{c: -v for c, v in pre.items()}}, bias, INF, ("pre", k, j))
                row({col: 1.0, **{c: -s * v for c, v in pre.items()}}, -INF, s * bias - s * l[j], ("up", k, j))
    for i in range(0 if empty_mode else spec.size):
        coeffs = {t_col: -1.0}
        for o, (k, j) in enumerate(layers.outputs):
            if spec.out[i, o]:
                c = offsets[k] + j
                coeffs[c] = coeffs.get(c, 0.0) + float(spec.out[i, o])
        for j in range(n_in):
            if spec.inp[i, j]:
                coeffs[j] = coeffs.get(j, 0.0) + float(spec.inp[i, j])
        row(coeffs, -INF, float(spec.rhs[i]), ("atom", i))

    h = _solver()
    h.clearModel()
    h.setOptionValue("time_limit", float(time_limit))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, len(rows_lo)
    cost = np.zeros(n_cols)
    cost[t_col] = -1.0 if empty_mode else 1.0
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, col_lo, col_hi
    lp.row_lower_, lp.row_upper_ = np.array(rows_lo), np.array(rows_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, len(rows_lo)
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return LPResult(None, None, None, None, None, status)
    sol = h.getSolution()
    duals = np.array(sol.row_dual)
    col_duals = np.array(sol.col_dual)
    mu = np.zeros(0 if empty_mode else spec.size)
    alpha = [np.full(lv.size, np.nan) for lv in layers.levels]
    beta = [np.zeros(lv.size) for lv in layers.levels]
    lower_pre = [np.zeros(lv.size) for lv in layers.levels]
    for r, kind in enumerate(kinds):
        if kind[0] == "atom":
            mu[kind[1]] = max(-duals[r], 0.0)
        elif kind[0] == "phase":
            beta[kind[1] - 1][kind[2]] = max(duals[r], 0.0)
        elif kind[0] == "pre":
            lower_pre[kind[1] - 1][kind[2]] = max(duals[r], 0.0)
    for k, lv in enumerate(layers.levels, start=1):
        zero = np.maximum(col_duals[offsets[k]:offsets[k + 1]], 0.0)
        total = lower_pre[k - 1] + zero
        alpha[k - 1] = np.where(total > 0, lower_pre[k - 1] / np.where(total > 0, total, 1.0), np.nan)
    x = np.array(sol.col_value[:n_in])
    value = float(h.getInfo().objective_function_value)
    if empty_mode:
        return LPResult(value, None, tuple(alpha), tuple(beta), x, status)
    return LPResult(value, mu, tuple(alpha), tuple(beta), x, status)
