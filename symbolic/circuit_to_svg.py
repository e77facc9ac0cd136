"""Circuit diagrams as SVG: a layered layout drawn by hand (inputs left, outputs right).

It needs only the circuit (sympy and this package), so a circuit can draw itself in a notebook
(:meth:`symbolic.circuit.Circuit._repr_html_`) and the reports in :mod:`proofs` use the same drawing.

Columns follow the data flow: inputs are column 0 and every assignment sits one column after
its deepest source (so a ReLU layer and the linear read-out that follows it get two columns).
Nodes are rounded boxes with the name, a short formula (``R(x1 - x2)``) and, where known, a
feature name; edges carry their exact weights (long float-derived rationals are shortened to 3
significant digits, the exact value is in the edge's tooltip). Edges that skip a column are
routed as curves over the columns they skip, so they never cross a node. Output is
deterministic: the same circuit gives the same bytes.

>>> from symbolic.circuit import from_layers
>>> minimum = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)], inputs=['x1', 'x2'])
>>> svg = circuit_svg(minimum)
>>> svg.startswith('<svg') and 'R(x1 - x2)' in svg and svg == circuit_svg(minimum)
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from xml.sax.saxutils import escape

import sympy as sp

from symbolic.circuit import Activation, Circuit
from symbolic.printing import show
from symbolic.relu import sym

#: Above this many edges the weight labels are left out (each edge keeps its tooltip).
MAX_LABELLED_EDGES = 40
#: Formulas longer than this are cut with an ellipsis (the full text is in the node's tooltip).
MAX_FORMULA_CHARS = 30

_GAP, _VGAP, _PAD, _LANE = 120, 16, 14, 15
_FILL = {"input": ("#e8f1fb", "#2b6cb0"), Activation.RELU: ("#fff4e0", "#b7791f"),
         Activation.SIGMOID: ("#f3e8fd", "#7b3fb5"), Activation.LINEAR: ("#edf2ef", "#4a5a52")}
_POS, _NEG, _SYM = "#2b6cb0", "#c53030", "#555555"


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def short_number(value: sp.Expr) -> str:
    """An exact weight as short text: ``1/2``, ``-3``; a long rational as a 3-digit decimal.

    >>> short_number(sp.Rational(1, 2)), short_number(sp.Integer(-3)), short_number(sp.Rational(1, 3))
    ('1/2', '-3', '1/3')
    >>> short_number(sp.Rational(3602879701896397, 36028797018963968))
    '0.1'
    """
    if value.is_Rational:
        text = str(value)
        if len(text) <= 8:
            return text
        return f"{float(value):.3g}"
    return show(value)


def shorten_numbers(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every long rational replaced by a 3-significant-digit float (display only).

    >>> shorten_numbers(sp.Rational(3602879701896397, 36028797018963968) * sym('x'))
    0.1*x
    """
    long = {r: sp.Float(f"{float(r):.3g}", 3) for r in expr.atoms(sp.Rational) if len(str(r)) > 8}
    return expr.xreplace(long) if long else expr


def affine_text(terms, bias: sp.Expr = sp.S.Zero, exact: bool = False) -> str:
    """``sum(c * s) + bias`` as text in the circuit's own term order (fast: no sympy printing of
    big sums); long rationals shortened unless ``exact``.

    >>> affine_text([('x1', sp.Integer(1)), ('x2', sp.Rational(-3, 4))], sp.Integer(2))
    'x1 - 3*x2/4 + 2'
    """
    out = ""
    for source, c in list(terms) + ([("", bias)] if bias != 0 or not terms else []):
        if not c.is_number:  # a symbolic weight (a template or a family of networks)
            text = show(c * sym(source)) if source else show(c)
            negative, text = text.startswith("-"), text.lstrip("-")
        else:
            negative = bool(c < 0)
            m = -c if negative else c
            number = str(m) if exact or len(str(m)) <= 8 else f"{float(m):.3g}"
            if not source:
                text = number
            elif number == "1":
                text = source
            elif "/" in number:
                p, q = number.split("/")
                text = f"{source}/{q}" if p == "1" else f"{p}*{source}/{q}"
            else:
                text = f"{number}*{source}"
        if not out:
            out = f"-{text}" if negative else text
        else:
            out += f" - {text}" if negative else f" + {text}"
    return out


def node_formula(circuit: Circuit, name: str, exact: bool = False) -> str:
    """The short formula of one assignment over its sources, e.g. ``R(x1 - x2)`` (display only).

    >>> from symbolic.circuit import from_layers
    >>> minimum = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)], inputs=['x1', 'x2'])
    >>> node_formula(minimum, 'y'), node_formula(minimum, 'h1_3')
    ('h1_1 - h1_2 - h1_3', 'R(x1 - x2)')
    """
    a = circuit.by_name[name]
    pre = affine_text(a.terms, a.bias, exact)
    if a.activation is Activation.RELU:
        return f"R({pre})"
    if a.activation is Activation.SIGMOID:
        return f"S({pre})"
    return pre


def active_when(circuit: Circuit) -> dict[str, str]:
    """Feature names for first-layer ReLUs: the half-space where each one is active.

    >>> from symbolic.circuit import from_layers
    >>> active_when(from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)], inputs=['x1', 'x2']))
    {'h1_1': 'x1 > 0', 'h1_2': 'x1 < 0', 'h1_3': 'x1 > x2'}
    """
    out: dict[str, str] = {}
    for a in circuit.neurons:
        if a.activation is not Activation.RELU or not all(s in circuit.inputs for s in a.sources):
            continue
        if not a.terms or any(not c.is_Rational for _, c in a.terms) or not a.bias.is_Rational:
            continue
        scale = max(abs(c) for _, c in a.terms)  # R(c z) = c R(z): only the direction matters
        left = affine_text([(s, c / scale) for s, c in a.terms if c > 0], max(a.bias, 0) / scale)
        right = affine_text([(s, -c / scale) for s, c in a.terms if c < 0], max(-a.bias, 0) / scale)
        constant = all(c < 0 for _, c in a.terms)
        text = f"{right} < {left}" if constant else f"{left} > {right}"
        if len(text) <= MAX_FORMULA_CHARS:
            out[a.name] = text
    return out


def columns(circuit: Circuit) -> dict[str, int]:
    """Column of every name: inputs 0, an assignment one after its deepest source, outputs last.

    >>> from symbolic.circuit import from_layers
    >>> columns(from_layers([([[1, -1]], None), ([[1]], [0])], inputs=['a', 'b']))
    {'a': 0, 'b': 0, 'h1_1': 1, 'y': 2}
    """
    col = {name: 0 for name in circuit.inputs}
    for a in circuit.assignments:
        col[a.name] = 1 + max((col[s] for s in a.sources), default=0)
    last = max(col.values(), default=0)
    for name in circuit.outputs:
        if name not in circuit.inputs:
            col[name] = last
    return col


_METRICS = {"n": (13, 0.62), "f": (12, 0.61), "t": (12, 0.56)}


def _abbreviate(a, formula: str) -> str:
    """A long formula cut to fit a box: ``R(0.5*x1 + …)``, or ``R(32 terms)`` for wide neurons."""
    wrap = a.activation is not Activation.LINEAR
    inner = formula[2:-1] if wrap else formula
    inner = f"{len(a.terms)} terms" if len(a.terms) > 3 else inner[: MAX_FORMULA_CHARS - 4] + "…"
    return f"{formula[:2]}{inner})" if wrap else inner


def _width(lines: list[tuple[str, float, float]]) -> float:
    return max(len(t) * size * k for t, size, k in lines)


def circuit_svg(circuit: Circuit, feature_names: Mapping[str, str] | None = None) -> str:
    """The circuit as a standalone, deterministic SVG document (inline-able in HTML)."""
    features = dict(feature_names or {})
    col = columns(circuit)
    shape = repr([(a.name, a.activation.value, a.terms, a.bias) for a in circuit.assignments])
    uid = "c" + hashlib.sha256(shape.encode()).hexdigest()[:8]
    ncols = max(col.values()) + 1
    members: list[list[str]] = [[] for _ in range(ncols)]
    for name in list(circuit.inputs) + [a.name for a in circuit.assignments]:
        members[col[name]].append(name)

    texts: dict[str, list[tuple[str, str]]] = {}
    size: dict[str, tuple[float, float]] = {}
    full: dict[str, str] = {}
    for name in col:
        formula = "input" if name in circuit.inputs else node_formula(circuit, name)
        full[name] = formula
        if len(formula) > MAX_FORMULA_CHARS:
            formula = _abbreviate(circuit.by_name[name], formula)
        lines = [(name, "n")] + ([] if name in circuit.inputs else [(formula, "f")])
        if name in features:
            lines.append((str(features[name])[:MAX_FORMULA_CHARS], "t"))
        texts[name] = lines
        w = _width([(t, *_METRICS[role]) for t, role in lines])
        size[name] = (max(56.0, w + 18), 12.0 + 15.0 * len(lines))

    edges = [(s, a.name, w) for a in circuit.assignments for s, w in a.terms]
    labelled = len(edges) <= MAX_LABELLED_EDGES
    longest = max((len(short_number(w)) for _, _, w in edges), default=1) if labelled else 0
    gap = min(_GAP, max(72, 60 + 9 * longest)) if labelled else _GAP
    col_w = [max(size[n][0] for n in m) for m in members]
    col_x: list[float] = []
    x = _PAD
    for w in col_w:
        col_x.append(x + w / 2)
        x += w + gap
    heights = [sum(size[n][1] for n in m) + _VGAP * (len(m) - 1) for m in members]
    tallest = max(heights)

    # order each column by the mean height of its sources (fewer crossings), then stack it
    pos: dict[str, tuple[float, float]] = {}
    for c, m in enumerate(members):
        if c:
            order = {n: i for i, n in enumerate(m)}

            def bary(n: str) -> tuple[float, int]:
                ys = [pos[s][1] for s in circuit.by_name[n].sources]
                return (sum(ys) / len(ys) if ys else tallest / 2, order[n])

            m.sort(key=bary)
        y = (tallest - heights[c]) / 2
        for n in m:
            pos[n] = (col_x[c], y + size[n][1] / 2)
            y += size[n][1] + _VGAP

    skips = [e for e in edges if col[e[1]] - col[e[0]] > 1]
    above = below = 0
    lanes: dict[tuple[str, str], float] = {}
    for s, t, _ in skips:
        between = [n for n in col if col[s] < col[n] < col[t]]
        top = min(pos[n][1] - size[n][1] / 2 for n in between)
        bottom = max(pos[n][1] + size[n][1] / 2 for n in between)
        mid = (top + bottom) / 2
        if (pos[s][1] + pos[t][1]) / 2 <= mid:
            above += 1
            lanes[(s, t)] = top - _LANE * above
        else:
            below += 1
            lanes[(s, t)] = bottom + _LANE * below
    y0 = min([0.0] + [lane - 6 for lane in lanes.values()]) - 12  # room for a label above the top lane
    y1 = max([tallest] + list(lanes.values())) + 12

    taken = [(pos[n][0] - size[n][0] / 2, pos[n][1] - size[n][1] / 2, pos[n][0] + size[n][0] / 2,
              pos[n][1] + size[n][1] / 2) for n in col]
    body: list[str] = []
    for s, t, w in edges:
        body.append(_edge(s, t, w, pos, size, (col_x, col_w, col, gap), lanes.get((s, t)),
                          taken if labelled else None, uid))
    for name in col:
        body.append(_node(name, circuit, texts[name], pos[name], size[name], full[name]))

    width = x - gap + _PAD
    caption = [] if labelled else _wrap(
        f"{len(edges)} edges: the weight labels are left out (more than {MAX_LABELLED_EDGES}); "
        "hover an edge for its exact weight.", max(40, int((width - 2 * _PAD) / 6.4)))
    cap_y = y1 + 16
    height = y1 - y0 + 15 * len(caption) + (8 if caption else 0)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="circuit" viewBox="0 {y0:.1f} {width:.1f} '
            f'{height:.1f}" width="{width:.0f}" height="{height:.0f}" role="img" '
            f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">'
            f'<title>{escape(_summary(circuit))}</title>'
            f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#666"/>'
            f'</marker></defs>')
    tail = "".join(f'<text x="{_PAD}" y="{cap_y + 15 * i:.1f}" font-size="11.5" fill="#555">{escape(line)}</text>'
                   for i, line in enumerate(caption)) + "</svg>"
    return (head + "".join(body) + tail).encode("ascii", "xmlcharrefreplace").decode("ascii")


#: A diagram on a page shrinks to the width of the page down to this fraction of its drawn size
#: (labels stay legible); wider still, its container scrolls.
MIN_SCALE = 0.55


def fitted(svg: str) -> str:
    """``svg`` (from :func:`circuit_svg`) sized for a page: as wide as its container, never wider
    than drawn, never narrower than ``MIN_SCALE`` of that (the height follows the viewBox).

    >>> fitted('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 50" width="200" height="50"></svg>')[:93]
    '<svg style="width:100%;height:auto;max-width:200px;min-width:110px" xmlns="http://www.w3.org/'
    """
    match = re.search(r'\swidth="([0-9.]+)"', svg[:svg.find(">")])
    if not svg.startswith("<svg ") or match is None:
        return svg
    drawn = float(match.group(1))
    style = f"width:100%;height:auto;max-width:{drawn:.0f}px;min-width:{drawn * MIN_SCALE:.0f}px"
    return f'<svg style="{style}" ' + svg[len("<svg "):]


#: A notebook shows the diagram of circuits with at most this many edges (ACAS Xu's 300 neurons
#: and ~13,000 edges make a 3 MB drawing); larger ones say so instead.
MAX_NOTEBOOK_EDGES = 2000


def diagram_html(circuit: Circuit) -> str:
    """The circuit's diagram as an HTML fragment for a notebook, sized to its cell and scrolling
    when it must; a circuit with more than ``MAX_NOTEBOOK_EDGES`` edges gets one line instead.

    >>> from symbolic.circuit import from_layers
    >>> diagram_html(from_layers([([[1], [-1]], None), ([[1, 1]], None)])).startswith('<div style="overflow-x:auto"><svg')
    True
    """
    edges = sum(len(a.terms) for a in circuit.assignments)
    if edges > MAX_NOTEBOOK_EDGES:
        return (f"<p><small>{edges} edges: the diagram is left out (more than {MAX_NOTEBOOK_EDGES}); "
                f"symbolic.circuit_to_svg.circuit_svg draws it.</small></p>")
    return f'<div style="overflow-x:auto">{fitted(circuit_svg(circuit, active_when(circuit)))}</div>'


LEGEND = ("Blue edges: positive weights, red: negative, dashed: symbolic; exact weights in the "
           "tooltips. Boxes: inputs (blue), ReLU R (orange), sigmoid S (violet), linear (grey); "
           "bold border: output; italic: where the neuron is active.")


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _free(box, taken) -> bool:
    return all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in taken)


def _summary(circuit: Circuit) -> str:
    return (f"Circuit with inputs {', '.join(circuit.inputs)}, {len(circuit.neurons)} neurons, "
            f"outputs {', '.join(circuit.outputs)}")


def _edge(s, t, w, pos, size, layout, lane, taken, uid) -> str:
    col_x, col_w, col, gap = layout
    (sx, sy), (tx, ty) = pos[s], pos[t]
    x0, x1 = sx + size[s][0] / 2, tx - size[t][0] / 2
    colour = _SYM if not w.is_number else (_POS if w > 0 else _NEG)
    exact = show(w)
    label = short_number(w)
    weight = 1.0 if not w.is_number else min(2.6, 0.9 + 0.6 * abs(float(w)))
    opacity = 0.75 if taken is not None else 0.4
    weight *= 1.0 if taken is not None else 0.6
    half = 3.6 * len(label) + 2
    if lane is None:
        path = f"M{x0:.1f},{sy:.1f} L{x1:.1f},{ty:.1f}"
        spots = [(x0 + f * (x1 - x0), sy + f * (ty - sy)) for f in (0.62, 0.75, 0.5, 0.84, 0.38, 0.28)]
        lx, ly = next((p for p in spots if taken is None or _free(_box(p, half), taken)), spots[0])
        ly += 4
    else:
        xs = col_x[col[s]] + col_w[col[s]] / 2 + 6
        xt = col_x[col[t]] - col_w[col[t]] / 2 - 6
        r = min(40.0, (gap - 12) / 2)
        path = (f"M{x0:.1f},{sy:.1f} L{xs:.1f},{sy:.1f} C{xs + r:.1f},{sy:.1f} {xs + r:.1f},{lane:.1f} "
                f"{xs + 2 * r:.1f},{lane:.1f} L{xt - 2 * r:.1f},{lane:.1f} C{xt - r:.1f},{lane:.1f} "
                f"{xt - r:.1f},{ty:.1f} {xt:.1f},{ty:.1f} L{x1:.1f},{ty:.1f}")
        lx, ly = (xs + xt) / 2, lane - 3
    dash = ' stroke-dasharray="4 3"' if not w.is_number else ""
    out = (f'<g class="edge"><title>{escape(f"{s} -> {t}: weight {exact}")}</title>'
           f'<path d="{path}" fill="none" stroke="{colour}" stroke-opacity="{opacity}" '
           f'stroke-width="{weight:.2f}"{dash} marker-end="url(#{uid}-arrow)"/>')
    if taken is not None:
        taken.append(_box((lx, ly - 4), half))
        out += (f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="12" text-anchor="middle" fill="{colour}" '
                f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(label)}</text>')
    return out + "</g>"


def _box(p, half) -> tuple[float, float, float, float]:
    return (p[0] - half, p[1] - 7, p[0] + half, p[1] + 7)


def _node(name, circuit, lines, centre, box, formula) -> str:
    (cx, cy), (w, h) = centre, box
    kind = "input" if name in circuit.inputs else circuit.by_name[name].activation
    fill, stroke = _FILL[kind]
    border = 2.6 if name in circuit.outputs else 1.2
    out = [f'<g class="node"><title>{escape(f"{name} = {formula}" if kind != "input" else f"input {name}")}'
           f'</title><rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
           f'rx="9" fill="{fill}" stroke="{stroke}" stroke-width="{border}"/>']
    y = cy - h / 2 + 19
    for text, role in lines:
        font = {"n": ' font-size="13" font-weight="bold"',
                "f": ' font-size="12" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"',
                "t": ' font-size="12" font-style="italic" fill="#444"'}[role]
        out.append(f'<text x="{cx:.1f}" y="{y:.1f}" text-anchor="middle"{font}>{escape(text)}</text>')
        y += 15
    return "".join(out) + "</g>"
