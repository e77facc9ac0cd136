"""Figures of a network against its target, as small inline SVG (matplotlib, imported lazily).

One input: both curves over the domain (markers at the points of a discrete domain), the
counterexample marked. Two inputs: a heatmap of ``N - f`` (or of ``N`` with both decision
boundaries for a predicate claim), the counterexample or the worst-error point marked. Three or
more inputs: no figure. Values are computed in floating point on a coarse grid: figures
illustrate, they never decide anything. Importing this module does not import matplotlib.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from symbolic.circuit import Circuit
from symbolic.exact import rational_of
from symbolic.relu import ReLU, Sigmoid, sym
from verify.claim import Claim, Equality, Predicate, Tolerance
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval

GRID_1D, GRID_2D, MAX_MARKERS, MAX_SCATTER = 401, 61, 400, 400


def _float(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, Fraction)):
        return float(value)
    return float(sp.N(value, 20))


def representative(domain: Domain, name: str) -> Fraction:
    """A simple value of variable ``name`` in ``domain`` (used for symbolic weights in a figure).

    >>> d = Domain({'w1': RealInterval(0, None, lo_open=True), 'w2': RealInterval(None, 0, hi_open=True)})
    >>> representative(d, 'w1'), representative(d, 'w2'), representative(d, 'c')
    (Fraction(1, 1), Fraction(-1, 1), Fraction(1, 1))
    """
    s = domain.of(name)
    if isinstance(s, FiniteSet):
        return s.values[0]
    lo, hi = s.lo, s.hi
    if lo is not None and hi is not None:
        mid = Fraction(lo + hi, 2)
        return Fraction(round(mid)) if isinstance(s, IntegerRange) else mid
    if lo is not None:
        return Fraction(lo + 1) if isinstance(s, RealInterval) or lo < 0 else Fraction(lo)
    if hi is not None:
        return Fraction(hi - 1) if isinstance(s, RealInterval) or hi > 0 else Fraction(hi)
    return Fraction(1)


def network_function(circuit: Circuit, parameters: Mapping[str, Fraction], output: str | None = None):
    """A numpy function of the inputs (float evaluation of the circuit, for figures only)."""
    import numpy as np

    subs = {sym(k): rational_of(v) for k, v in parameters.items()}
    program = [(a.name, [(s, float(c.subs(subs))) for s, c in a.terms], float(a.bias.subs(subs)), a.activation)
               for a in circuit.assignments]
    out = output or circuit.output

    def run(*values):
        env = dict(zip(circuit.inputs, (np.asarray(v, dtype=float) for v in values)))
        for name, terms, bias, activation in program:
            total = bias + sum((c * env[s] for s, c in terms), np.zeros_like(values[0], dtype=float))
            env[name] = activation.numpy(total)
        return env[out]

    return run


def target_function(target: sp.Basic, names, parameters: Mapping[str, Fraction]):
    """A numpy function of the inputs for ``target`` (conditions give booleans)."""
    import numpy as np

    subs = {sym(k): rational_of(v) for k, v in parameters.items()}
    expr = target.subs(subs) if subs else target
    expr = expr.replace(ReLU, lambda z: sp.Max(0, z)).replace(Sigmoid, lambda z: 1 / (1 + sp.exp(-z)))
    func = sp.lambdify([sym(n) for n in names], expr, modules="numpy")

    def run(*values):
        return np.broadcast_to(np.asarray(func(*values)), np.shape(values[0]))

    return run


def _window(s, interest: list[float], default: float, focus: float | None = None) -> tuple[float, float]:
    """The range to draw for one variable: the set itself when bounded, else around ``interest``
    (or, when that would be too wide to see anything, around ``focus``: the marked point)."""
    if isinstance(s, RealInterval) and s.bounded and s.lo < s.hi:
        return float(s.lo), float(s.hi)
    if s.bounded:
        points = [float(p) for p in (s.values if isinstance(s, FiniteSet) else (s.lo, s.hi))]
        lo, hi = min(points), max(points)
        pad = max(0.5, 0.04 * (hi - lo)) if hi > lo else 2.0
        return lo - pad, hi + pad
    pts = [p for p in interest if math.isfinite(p)] + [0.0]
    pts += [float(b) for b in (s.lo, s.hi) if b is not None]
    if all(abs(p) <= 0.9 * default for p in pts):  # everything of interest fits the default window
        return max(-default, float(s.lo)) if s.lo is not None else -default, \
            min(default, float(s.hi)) if s.hi is not None else default
    if focus is not None and max(pts) - min(pts) > 200:
        pts = [focus]
    lo, hi = min(pts), max(pts)
    if hi - lo < 1e-9:
        lo, hi = lo - default, hi + default
    else:
        pad = max(2.0, 0.25 * (hi - lo))
        lo, hi = lo - pad, hi + pad
    if s.lo is not None:
        lo = max(lo, float(s.lo))
    if s.hi is not None:
        hi = min(hi, float(s.hi))
    return lo, hi


def _discrete_points(s, lo: float, hi: float) -> list[float] | None:
    if isinstance(s, FiniteSet):
        return [float(v) for v in s.values]
    if isinstance(s, IntegerRange) and hi - lo <= MAX_MARKERS:
        return [float(v) for v in range(math.ceil(lo), math.floor(hi) + 1) if s.contains(Fraction(v))]
    return None


def _kinks(circuit: Circuit, parameters: Mapping[str, Fraction]) -> list[float]:
    """Breakpoints of first-layer one-input neurons (``-b/c``): where a 1-D plot bends."""
    subs = {sym(k): rational_of(v) for k, v in parameters.items()}
    out = []
    for a in circuit.neurons:
        if len(a.terms) == 1 and a.terms[0][0] in circuit.inputs:
            c, b = a.terms[0][1].subs(subs), a.bias.subs(subs)
            if c.is_number and b.is_number and c != 0:
                out.append(float(-b / c))
    return out


def plot_svg(result_or_circuit, target: sp.Basic | None = None, domain: Domain | None = None,
             mark: Mapping[str, object] | None = None, mark_label: str = "counterexample",
             salt: str = "") -> str | None:
    """An inline SVG figure of network vs target (None for 3+ inputs or a weight template).

    ``result_or_circuit`` is a :class:`verify.result.Result` (its claim and counterexample are
    used) or a circuit with ``target`` and ``domain``. ``mark`` is a point to highlight (e.g. the
    worst-error point of a trained model); ``salt`` makes SVG ids unique within one page.
    """
    claim = getattr(result_or_circuit, "claim", None)
    if claim is not None and (not isinstance(claim, Claim) or claim.output is None):
        return None  # a weight template, or an unreachable claim (all outputs, no single one to plot)
    if claim is not None:
        circuit, output, kind = claim.circuit, claim.output, claim.kind
        target = claim.target if target is None else target
        domain = claim.domain if domain is None else domain
        cex = result_or_circuit.counterexample
        if cex is not None:
            mark, mark_label = cex.point, "counterexample"
    else:
        circuit, output = result_or_circuit, None
        condition = isinstance(target, (sp.logic.boolalg.Boolean, sp.Rel)) and not isinstance(target, sp.Expr)
        kind = Predicate() if condition else Equality()
    domain = domain or Domain()
    if target is None or not 1 <= len(circuit.inputs) <= 2:
        return None
    mark = {k: Fraction(v) if not isinstance(v, Fraction) else v for k, v in (mark or {}).items()}
    params = {str(p): mark.get(str(p), representative(domain, str(p))) for p in circuit.parameters}
    net = network_function(circuit, params, output)
    tgt = target_function(target, circuit.inputs, params)
    import matplotlib
    from matplotlib.figure import Figure

    style = {"svg.fonttype": "none", "svg.hashsalt": f"mc-{salt}", "font.size": 9,
             "axes.spines.top": False, "axes.spines.right": False}
    with matplotlib.rc_context(style):
        top = 0.88 if params else 0.95
        if len(circuit.inputs) == 1:
            fig = Figure(figsize=(6.2, 3.3))
            ax = fig.add_axes((0.09, 0.14, 0.89, top - 0.14))
            _plot_1d(ax, circuit, domain, kind, net, tgt, params, mark, mark_label)
        else:
            fig = Figure(figsize=(5.6, 4.4))
            axes = fig.add_axes((0.11, 0.11, 0.68, top - 0.17)), fig.add_axes((0.83, 0.11, 0.03, top - 0.17))
            _plot_2d(fig, axes, circuit, domain, kind, net, tgt, mark, mark_label)
        if params:
            fig.suptitle("weights: " + ", ".join(f"{k} = {_short(v)}" for k, v in params.items()), fontsize=9, y=0.98)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _short(value) -> str:
    """An exact number for a legend: itself when short, else its readable decimal (fraction dropped).

    >>> _short("1/2"), _short("7170803/154895948709888")
    ('1/2', '4.629e-8')
    """
    from symbolic.printing import readable

    text = readable(value)
    return str(value) if len(str(value)) <= 12 else text.split(" (")[0]


def _plot_1d(ax, circuit, domain, kind, net, tgt, params, mark, mark_label) -> None:
    import numpy as np

    name = circuit.inputs[0]
    s = domain.of(name)
    focus = float(mark[name]) if name in mark else None
    interest = _kinks(circuit, params) + ([focus] if focus is not None else [])
    lo, hi = _window(s, interest, 5.0, focus)
    xs = np.unique(np.concatenate([np.linspace(lo, hi, GRID_1D), [k for k in interest if lo <= k <= hi]]))
    points = _discrete_points(s, lo, hi)
    condition = isinstance(kind, Predicate)
    ys = net(xs)
    ax.plot(xs, ys, color="#2b6cb0", lw=1.6 if not points else 1.0, zorder=2, ls="--" if points else "-",
            alpha=0.6 if points else 1,
            label="network N on R" if points else "network N")
    if points:
        px, many = np.array(points), len(points) > 80
        ax.plot(px, net(px), "o", color="#2b6cb0", ms=2.5 if many else 4, label="N on the domain", rasterized=many)
        if not condition:
            ax.plot(px, tgt(px), "x", color="#222", ms=3 if many else 5, label="target f", rasterized=many)
    elif not condition:
        ax.plot(xs, tgt(xs).astype(float), color="#999", lw=4, alpha=0.6, label="target f", zorder=1)
        if isinstance(kind, Tolerance) and kind.eps > 0:
            f = tgt(xs).astype(float)
            eps = float(kind.eps)
            ax.fill_between(xs, f - eps, f + eps, color="#888", alpha=0.2, lw=0, label=f"f ± {_short(kind.eps)}")
    if condition:
        ax.axhline(float(kind.threshold), color="#555", lw=0.9, ls=":", label=f"threshold {_short(kind.threshold)}")
        where = np.array(points) if points else xs
        truth = tgt(where)
        if not truth.all():
            ax.fill_between(where, 0, 1, where=truth.astype(bool), transform=ax.get_xaxis_transform(),
                            color="#38a169", alpha=0.15, lw=0, step="mid", label="target condition holds")
    if name in mark:
        x = float(mark[name])
        ax.axvline(x, color="#c53030", lw=0.9, ls=":")
        ax.plot([x], [float(net(np.array([x]))[0])], "o", mfc="none", mec="#c53030", ms=10, mew=2,
                label=f"{mark_label}: {name} = {_short(mark[name])}")
    ax.set_xlabel(name)
    ax.set_xlim(lo, hi)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, loc="best", framealpha=0.85)


def _plot_2d(fig, axes, circuit, domain, kind, net, tgt, mark, mark_label) -> None:
    import numpy as np

    ax, cax = axes
    (n1, n2) = circuit.inputs
    s1, s2 = domain.of(n1), domain.of(n2)
    f1, f2 = (float(mark[n]) if n in mark else None for n in (n1, n2))
    w1 = _window(s1, [] if f1 is None else [f1], 2.0, f1)
    w2 = _window(s2, [] if f2 is None else [f2], 2.0, f2)
    p1, p2 = _discrete_points(s1, *w1), _discrete_points(s2, *w2)
    condition = isinstance(kind, Predicate)
    scatter = bool(p1 and p2 and len(p1) * len(p2) <= MAX_SCATTER)
    if scatter:
        g1, g2 = np.meshgrid(np.array(p1), np.array(p2))
    else:
        g1, g2 = np.meshgrid(np.linspace(*w1, GRID_2D), np.linspace(*w2, GRID_2D))
    nv = net(g1, g2)
    values = nv if condition else nv - tgt(g1, g2).astype(float)
    values[np.abs(values) <= 1e-9 * (1 + float(np.max(np.abs(nv))))] = 0.0  # float noise, not error
    where = f"the {g1.size} domain points" if scatter else "every grid point"
    label, cmap, limit = "N − f", "RdBu_r", float(np.max(np.abs(values)))
    if condition or limit == 0:
        label, cmap, values = "N", "viridis", nv
    lims = {"vmin": -limit, "vmax": limit} if cmap == "RdBu_r" else {}
    if condition:
        title = f"N (white: N = {kind.threshold}; dashed: target boundary)"
    elif limit == 0:
        title = f"N (N − f = 0 at {where})"
    else:
        title = f"N − f (largest |N − f| at {where}: {limit:.3g})"
    if scatter:
        art = ax.scatter(g1, g2, c=values, cmap=cmap, s=70, edgecolors="#333", **lims)
        if g1.size <= 12:
            for a, b, v in zip(g1.flat, g2.flat, nv.flat):
                ax.annotate(f"N = {v:.4g}", (a, b), xytext=(7, 5), textcoords="offset points", fontsize=8)
        ax.set_xlim(*w1)
        ax.set_ylim(*w2)
    else:
        art = ax.imshow(values, origin="lower", extent=(*w1, *w2), aspect="auto", cmap=cmap,
                        interpolation="nearest", rasterized=True, **lims)
        if condition:
            ax.contour(g1, g2, nv, levels=[float(kind.threshold)], colors="#fff", linewidths=1.5)
            truth = tgt(g1, g2).astype(float)
            if 0 < truth.mean() < 1:
                ax.contour(g1, g2, truth, levels=[0.5], colors="#111", linewidths=1, linestyles="--")
        elif isinstance(kind, Tolerance) and 0 < float(kind.eps) < limit:
            ax.contour(g1, g2, values, levels=[-float(kind.eps), float(kind.eps)], colors="#333",
                       linewidths=0.8, linestyles=":")
    fig.colorbar(art, cax=cax, label=label)
    if n1 in mark and n2 in mark:
        ax.plot([float(mark[n1])], [float(mark[n2])], marker="*", color="#ffd400", mec="#000", ms=16, ls="none",
                label=f"{mark_label}: ({_short(mark[n1])}, {_short(mark[n2])})")
        ax.legend(fontsize=8, loc="upper left", framealpha=0.85)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(n1)
    ax.set_ylabel(n2)
