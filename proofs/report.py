"""Reports: one result model, rendered as self-contained HTML, Markdown (LaTeX) and versioned JSON.

For each theorem (or a user's claim or model check) :func:`theorem_page` gives the statement and
domain in mathematical notation (presentation MathML in HTML, ``$$`` LaTeX in Markdown), the
circuit as an SVG diagram, its closed form, the verdict with its method and evidence, a figure of
network vs target with the counterexample marked, facts about trained models, versions, the
weights hash and timings. :func:`write_reports` writes a catalogue (``index.html``, ``index.md``,
``catalogue.json`` and ``theorems/<name>.*``); every file is written to a temporary file and
renamed, and the index last, so a failure never leaves a half-written report in place of a good
one. The JSON documents follow ``docs/report-schema.json`` (``"version": 1``).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import dataclasses
import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import xml.etree.ElementTree as ET
from html import escape
from math import prod

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE

from proofs.circuit_to_svg import LEGEND, active_when, circuit_svg, node_formula, shorten_numbers
from proofs.plots import plot_svg
from proofs.text_to_expr import parse_expression
from symbolic import errors
from symbolic.atomic import write_text_atomic
from symbolic.circuit_to_closed_form import closed_form
from symbolic.printing import show
from symbolic.relu import sym
from verify.claim import Predicate, Tolerance
from verify.domain import IntegerRange, RealInterval
from verify.realizability import Unrealizable
from verify.result import exact_str
from verify.worst_case import max_error

SCHEMA_VERSION = 1
FORMATS = ("html", "md", "json")


def versions() -> dict[str, str]:
    """Versions of Python, the solver and the libraries behind a verdict (and its figures)."""
    import sympy
    import z3

    found = {"python": platform.python_version(), "sympy": sympy.__version__, "z3": z3.get_version_string()}
    if "matplotlib" in sys.modules:
        found["matplotlib"] = sys.modules["matplotlib"].__version__
    return found


def weights_sha256(circuit) -> str | None:
    """SHA-256 of the circuit's exact weights (its graph-format JSON text); None for symbolic weights."""
    from networks import json_to_circuit

    try:
        text = json_to_circuit.dumps(circuit)
    except errors.MathCircuitsError:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


@dataclasses.dataclass(frozen=True)
class UserClaim:
    """A report row for a claim that is not in the catalogue: a name and no expected verdict."""

    name: str
    claim: object
    source: str = "user claim"
    expected: None = None

    @property
    def circuit(self):
        return getattr(self.claim, "template", None) or self.claim.circuit


def _rows(rows: Iterable) -> list[tuple]:
    """``(theorem, result)`` or ``(theorem, result, extra)`` rows as triples; a plain name as the
    theorem stands for a user's claim (no expected verdict)."""
    out = []
    for row in rows:
        theorem = UserClaim(row[0], row[1].claim) if isinstance(row[0], str) else row[0]
        out.append((theorem, row[1], dict(row[2]) if len(row) > 2 and row[2] else {}))
    return out


def catalogue_json(rows, total_s: float, pages: Mapping[str, str] | None = None) -> dict:
    """The catalogue run as a JSON-ready dict (schema version ``SCHEMA_VERSION``)."""
    rows = _rows(rows)
    counts = {v: sum(r.verdict.value == v for _, r, _ in rows) for v in ("proved", "refuted", "unknown")}
    theorems = []
    for t, r, _ in rows:
        entry = {"name": t.name, "source": t.source, "expected": t.expected and t.expected.value,
                 "as_expected": None if t.expected is None else r.verdict is t.expected, **r.to_json(),
                 "weights_sha256": weights_sha256(t.circuit)}
        if pages is not None:
            entry["page"] = pages[t.name]
        theorems.append(entry)
    return {"schema": "mathcircuits-catalogue", "version": SCHEMA_VERSION, "versions": versions(),
            "elapsed_s": round(total_s, 6), "all_as_expected": all(r.verdict is t.expected for t, r, _ in rows if t.expected is not None),
            "counts": counts, "theorems": theorems}


def slugs(names: Sequence[str]) -> dict[str, str]:
    """Safe, unique file stems for theorem names (``<script>`` never reaches a path or a URL).

    >>> slugs(['min', 'a/b', 'a?b'])
    {'min': 'min', 'a/b': 'a_b', 'a?b': 'a_b_2'}
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:80] or "theorem"
        slug, i = stem, 1
        while slug.lower() in used:
            i += 1
            slug = f"{stem}_{i}"
        used.add(slug.lower())
        out[name] = slug
    return out


# -- mathematical notation -------------------------------------------------------------------------
@functools.cache
def _printers():
    """Subclasses of sympy's MathML (presentation) and LaTeX printers for R, S, N(x), [c], mod."""
    class MathML(MathMLPresentationPrinter):
        def _el(self, tag, *children, text=None, **attributes):
            node = self.dom.createElement(tag)
            for key, value in attributes.items():
                node.setAttribute(key, value)
            if text is not None:
                node.appendChild(self.dom.createTextNode(text))
            for child in children:
                node.appendChild(child)
            return node

        def mathml_tag(self, e):
            tag = super().mathml_tag(e)
            return {"<": "&lt;", ">": "&gt;", "&InvisibleTimes;": "&#x2062;"}.get(tag, tag)

        def _call(self, name, args):
            return self._el("mrow", self._print(sp.Symbol(name)), self._paren_comma_separated(*args))

        def _print_Function(self, e):  # sympy lower-cases names: N(x) would print as n(x)
            return self._call(e.func.__name__, e.args)

        def _print_ReLU(self, e):
            return self._call("R", e.args)

        def _print_Sigmoid(self, e):
            return self._call("S", e.args)

        def _print_Min(self, e):  # sympy prints min as an operator (<mo>), spaced like one
            return self._el("mrow", self._el("mi", text=type(e).__name__.lower()),
                            self._paren_comma_separated(*sorted(e.args, key=sp.default_sort_key)))

        _print_Max = _print_Min

        def _print_Abs(self, e, exp=None):  # nested bars grow outwards: | |x - 8| - 4 |
            depth = _abs_depth(e.args[0])
            size = {"mathsize": f"{100 + 20 * depth}%"} if depth else {}
            bars = [self._el("mo", text="|", fence="true", stretchy="false", **size) for _ in range(2)]
            return self._el("mrow", bars[0], self._print(e.args[0]), bars[1])

        def _print_Mod(self, e):
            a, b = (self.parenthesize(x, PRECEDENCE["Mul"]) for x in e.args)
            return self._el("mrow", a, self._el("mo", text="mod"), b)

        def _print_ProductSet(self, e):
            if len(set(e.args)) == 1:
                return self._el("msup", self._print(e.args[0]), self._el("mn", text=str(len(e.args))))
            return super()._print_ProductSet(e)

        def _print_Piecewise(self, e):
            (v0, c0), *rest = e.args
            if len(rest) == 1 and v0 == 1 and rest[0][0] == 0 and rest[0][1] == sp.true:
                return self._el("mrow", self._el("mo", text="["), self._print(c0), self._el("mo", text="]"))
            rows = [self._el("mtr", self._el("mtd", self._print(v)), self._el(
                "mtd", self._el("mtext", text="otherwise") if c == sp.true else
                self._el("mrow", self._el("mtext", text="if\u00a0"), self._print(c)))) for v, c in e.args]
            return self._el("mrow", self._el("mo", text="{"), self._el("mtable", *rows, columnalign="left"))

    class Latex(LatexPrinter):
        def _print_Abs(self, e, exp=None):
            depth = min(_abs_depth(e.args[0]), 4)
            size = ["", r"\big", r"\Big", r"\bigg", r"\Bigg"][depth]
            inner = self._print(e.args[0])
            tex = rf"{size}l\lvert {inner} {size}r\rvert" if depth else rf"\left\lvert {inner} \right\rvert"
            return tex if exp is None else rf"{tex}^{{{exp}}}"

        def _print_Sigmoid(self, e):
            return rf"\operatorname{{S}}\left({self._print(e.args[0])}\right)"

        def _print_Piecewise(self, e):
            (v0, c0), *rest = e.args
            if len(rest) == 1 and v0 == 1 and rest[0][0] == 0 and rest[0][1] == sp.true:
                return rf"\left[{self._print(c0)}\right]"
            return super()._print_Piecewise(e)

    return MathML, Latex


def _abs_depth(expr) -> int:
    """How many absolute values are nested inside ``expr``."""
    return max((_abs_depth(a) + isinstance(a, sp.Abs) for a in expr.args), default=0)


_OPS = {"iff": ("&#x21D4;", r"\iff"), "in": ("&#x2208;", r"\in"), ",": (",", r",\quad"), ":": (":", r":\;"),
        "forall": ("&#x2200;", r"\forall"), "exists": ("&#x2203;", r"\exists"),
        "for all": ('<mspace width="1em"/><mtext>for all</mtext><mspace width="0.4em"/>', r"\quad\text{for all}\;")}


def math(parts: Sequence) -> tuple[str, str]:
    """MathML (the inside of a ``<math>`` element) and LaTeX of sympy expressions and operators.

    >>> import sympy as sp
    >>> x = sp.Symbol('x', real=True)
    >>> print(math([sp.Eq(sp.Function('N')(x), sp.Min(x, 0), evaluate=False)])[1])
    N{\\left(x \\right)} = \\min\\left(0, x\\right)
    """
    mathml_printer, latex_printer = _printers()
    ml, tex = [], []
    for part in parts:
        if isinstance(part, str):
            ml.append(_OPS[part][0] if _OPS[part][0].startswith("<") else f"<mo>{_OPS[part][0]}</mo>")
            tex.append(_OPS[part][1])
            continue
        text = mathml_printer({}).doprint(part).replace("&InvisibleTimes;", "&#x2062;")
        try:
            ET.fromstring(f"<math>{text}</math>")
        except ET.ParseError:  # never emit markup we cannot vouch for
            text = f"<mtext>{escape(show(part))}</mtext>"
        text = re.sub(r"<mn>-([^<]*)</mn>", r"<mrow><mo>&#x2212;</mo><mn>\1</mn></mrow>", text)
        ml.append(text.replace("<mo>-</mo>", "<mo>&#x2212;</mo>"))
        tex.append(latex_printer({}).doprint(part))
    return "<mrow>" + "".join(ml) + "</mrow>", " ".join(tex)


def math_chunks(parts: Sequence, after: tuple[str, ...] = (",", ":")) -> list[str]:
    """Like :func:`math`, but MathML in pieces cut after ``,`` and ``:`` so a browser can wrap a
    long formula between them (one ``<math>`` element each)."""
    chunks: list[list] = [[]]
    for part in parts:
        chunks[-1].append(part)
        if isinstance(part, str) and part in after:
            chunks.append([])
    return [math(chunk)[0] for chunk in chunks if chunk]


def _rational(value):
    return sp.Rational(value.numerator, value.denominator)


def _set_expr(s):
    if isinstance(s, RealInterval):
        if s.lo is None and s.hi is None:
            return sp.Reals
        return sp.Interval(-sp.oo if s.lo is None else _rational(s.lo), sp.oo if s.hi is None else _rational(s.hi),
                           s.lo_open, s.hi_open)
    if isinstance(s, IntegerRange):
        if s.lo is None and s.hi is None:
            return sp.Integers
        return sp.Range(-sp.oo if s.lo is None else s.lo, sp.oo if s.hi is None else s.hi + 1)
    return sp.FiniteSet(*(_rational(v) for v in s.values))


def domain_parts(domain, names: Sequence[str]) -> list:
    """``(x1, x2) ∈ ℝ², w ∈ (0, ∞)`` as parts for :func:`math` (equal neighbouring sets grouped)."""
    groups: list[tuple[list, object]] = []
    for name in names:
        s = _set_expr(domain.of(name))
        if groups and groups[-1][1] == s:
            groups[-1][0].append(sym(name))
        else:
            groups.append(([sym(name)], s))
    parts: list = []
    for i, (symbols, s) in enumerate(groups):
        many = len(symbols) > 1
        parts += ([","] if i else []) + [sp.Tuple(*symbols) if many else symbols[0], "in",
                                         sp.ProductSet(*[s] * len(symbols)) if many else s]
    return parts


def statement_parts(claim) -> list:
    """The claim as parts for :func:`math`: ``N(x) = f(x)``, ``|N - f| <= eps``, ``(N > 0) <=> c``, ...."""
    if isinstance(claim, Unrealizable):
        xs = [sym(n) for n in claim.template.inputs]
        values = [sorted({p[n] for p in claim.points}) for n in claim.template.inputs]
        if len(claim.points) != prod(len(v) for v in values):
            witness = sp.FiniteSet(*(sp.Tuple(*(_rational(p[n]) for n in claim.template.inputs))
                                     for p in claim.points))
        else:
            sets = [sp.FiniteSet(*(_rational(v) for v in vs)) for vs in values]
            witness = sp.ProductSet(*sets) if len(sets) > 1 else sets[0]
        return (["forall"] + domain_parts(claim.domain, claim.variables)
                + [":", "exists", sp.Tuple(*xs) if len(xs) > 1 else xs[0], "in", witness, ":",
                   sp.Ne(sp.Function("N_w")(*xs), claim.target, evaluate=False)])
    network = sp.Function("N")(*(sym(n) for n in claim.circuit.inputs))
    if isinstance(claim.kind, Tolerance):
        return [sp.Le(sp.Abs(network - claim.target), _rational(claim.kind.eps), evaluate=False)]
    if isinstance(claim.kind, Predicate):
        fires = sp.Rel(network, _rational(claim.kind.threshold), claim.kind.op, evaluate=False)
        return [fires] if claim.target == sp.true else [fires, "iff", claim.target]
    return [sp.Eq(network, claim.target, evaluate=False)]


# -- the result model -------------------------------------------------------------------------------
def _jsonable(value):
    """Exact values as strings, containers recursively; JSON scalars unchanged."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value.value if isinstance(value, enum.Enum) else str(value)


#: Closed forms are left out above these sizes (inlining wide layers into one formula is slow and
#: the result unreadable); the diagram and the exact program are always shown.
MAX_CLOSED_FORM_NEURONS, MAX_CLOSED_FORM_FAN_IN = 32, 8


def _closed_form(circuit):
    """The closed form (Min/Max rewriting for small circuits), or None when it is too long to show."""
    wide = any(len(a.terms) > MAX_CLOSED_FORM_FAN_IN for a in circuit.neurons)
    if wide or len(circuit.neurons) > MAX_CLOSED_FORM_NEURONS:
        return None
    try:
        expr = closed_form(circuit, minmax=len(circuit.neurons) <= 10)
    except (errors.MathCircuitsError, ValueError, TypeError):
        return None
    return expr if len(str(expr)) <= 1500 else None


def program(circuit) -> str:
    """The circuit as exact text, one assignment a line (``h1 = R(x1 - x2)``), without simplifying."""
    lines = [f"{a.name} = {node_formula(circuit, a.name, exact=True)}" for a in circuit.assignments]
    return "\n".join([f"inputs: {', '.join(circuit.inputs)}", *lines, f"outputs: {', '.join(circuit.outputs)}"])


def _trained_facts(theorem, extra: dict) -> dict:
    """``extra`` plus, for a trained model on a bounded domain, its exact worst-case error."""
    claim = getattr(theorem, "claim", None)
    if getattr(theorem, "round_first", False) and "max_error" not in extra and hasattr(claim, "kind"):
        if claim.domain.is_bounded(claim.circuit.inputs) and not claim.circuit.parameters:
            worst = max_error(claim.circuit, claim.target, claim.domain, timeout_s=10)
            extra.update({"max_error": worst.value, "max_error_at": worst.at})
    return extra


_LABELS = {"rounded_expression": "rounded network", "rounded_relu_form": "rounded, as ReLUs",
           "denominator": "largest denominator q", "rounding_attempts": "rounding steps (q: verdict)",
           "max_error": "exact worst-case error max |N − f|", "max_error_at": "attained at",
           "rounding_error": "exact rounding error", "weights_sha256": "weights SHA-256"}


def _trained_rows(trained: dict) -> list[dict]:
    """Trained-model facts as table rows: label, text, and math (MathML, LaTeX) for formulas."""
    rows = []
    for key, value in trained.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if key == "rounding_attempts" and isinstance(value, list):
            text = "; ".join(f"q = {q}: {v}" for q, v in value)
        elif isinstance(value, dict):
            text = ", ".join(f"{k} = {v}" for k, v in value.items())
        ml = tex = None
        if key.startswith("rounded_") and isinstance(value, str):
            try:
                ml, tex = math([parse_expression(value)])
            except errors.MathCircuitsError:
                pass
        rows.append({"label": _LABELS.get(key, key.replace("_", " ")), "text": text, "mathml": ml, "latex": tex})
    return rows


def build(theorem, result, extra: dict | None = None) -> tuple[dict, dict]:
    """The result model of one theorem: ``(facts, view)``. ``facts`` is the JSON document; ``view``
    holds the same facts typeset (MathML, LaTeX, SVG) for the HTML and Markdown pages."""
    start = time.perf_counter()
    name = getattr(theorem, "name", theorem)
    if not isinstance(name, str) or not name:
        raise errors.ClaimError(f"a report needs a theorem or a name, got {theorem!r}")
    claim = getattr(theorem, "claim", None) or result.claim
    template = isinstance(claim, Unrealizable)
    circuit = claim.template if template else claim.circuit
    decided = result.claim.template if template else result.claim.circuit
    expected = getattr(theorem, "expected", None)
    extra = _trained_facts(theorem, dict(extra or {}))
    statement, domain = statement_parts(claim), domain_parts(claim.domain, claim.variables)
    statement_tex, domain_tex = math(statement)[1], math(domain)[1]
    full_ml, full_tex = math(statement + (["for all"] + domain if domain and not template else []))
    closed = _closed_form(decided)
    closed_ml = closed_tex = closed_eq_tex = None
    if closed is not None:
        lhs = sp.Function("N_w" if template else "N")(*(sym(n) for n in decided.inputs))
        closed_ml, closed_eq_tex = math([sp.Eq(lhs, shorten_numbers(closed), evaluate=False)])
        closed_tex = math([closed])[1]
    cex = result.counterexample
    facts = {
        "schema": "mathcircuits-theorem", "version": SCHEMA_VERSION, "name": name,
        "source": getattr(theorem, "source", None),
        "kind": "unrealizable" if template else type(claim.kind).__name__.lower(),
        "verdict": result.verdict.value, "expected": expected.value if expected else None,
        "as_expected": None if expected is None else result.verdict is expected,
        "method": result.method, "elapsed_s": round(result.elapsed_s, 6),
        "statement": {"text": claim.statement(), "latex": statement_tex, "latex_with_domain": full_tex},
        "domain": {"text": claim.domain.describe(claim.variables), "latex": domain_tex},
        "target": {"text": show(claim.target)},
        "closed_form": None if closed is None else {"text": show(closed), "latex": closed_tex},
        "counterexample": None if cex is None else {
            "point": {k: exact_str(v) for k, v in cex.point.items()},
            "network_value": exact_str(cex.network_value), "target_value": exact_str(cex.target_value)},
        "reason": result.reason, "evidence": result.evidence,
        "circuit": {"inputs": list(circuit.inputs), "outputs": list(circuit.outputs),
                    "neurons": len(circuit.neurons), "depth": max(circuit.depth().values(), default=0),
                    "assignments": [{"name": a.name, "activation": a.activation.value,
                                     "formula": node_formula(circuit, a.name)} for a in circuit.assignments],
                    "weights_sha256": weights_sha256(circuit)},
        "trained": _jsonable(extra) if extra else None,
        "versions": {}, "timings": {"decide_s": round(result.elapsed_s, 6)},
    }
    if template:
        facts["witness_points"] = [{k: str(v) for k, v in p.items()} for p in claim.points]
    salt = slugs([name])[name]
    worst = extra.get("max_error_at") if cex is None else None
    plot = plot_svg(result, salt=salt, mark=worst, mark_label="worst-case error") if not template else None
    view = {"statement": math_chunks(statement), "domain": math_chunks(domain), "full": full_ml,
            "closed_tex": closed_eq_tex, "closed": closed_ml, "program": program(circuit),
            "diagram": circuit_svg(circuit, active_when(circuit)), "plot": plot, "slug": salt,
            "rounded": circuit_svg(decided, active_when(decided)) if decided != circuit else None,
            "trained": _trained_rows(facts["trained"] or {})}
    facts["figures"] = {"circuit": True, "rounded_circuit": view["rounded"] is not None, "plot": plot is not None}
    facts["timings"]["render_s"] = round(time.perf_counter() - start, 6)
    return facts, view


# -- HTML -------------------------------------------------------------------------------------------
CSS = """
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a202c;
max-width:74rem;margin:0 auto;padding:1.25rem 1.5rem 3rem;background:#fff}
body.wide{max-width:92rem}h1{font-size:1.6rem;margin:.3rem 0;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:1.8rem 0 .5rem;border-bottom:1px solid #e2e8f0;padding-bottom:.2rem}a{color:#2b6cb0}
code,pre{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f7fafc;border:1px solid #e2e8f0;padding:.6rem;overflow-x:auto}
.muted{color:#5a6472}.small{font-size:.85rem}nav{font-size:.92rem;margin-bottom:.4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #e2e8f0;
padding:.35rem .5rem;text-align:left;vertical-align:middle}th{background:#f4f6f8;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.facts th{width:14rem;background:none}td.verdict{min-width:9rem}
td.name{min-width:13rem;max-width:19rem;overflow-wrap:anywhere}
.badge{display:inline-block;min-width:4.6rem;text-align:center;padding:.05rem .5rem;border-radius:1rem;
font-weight:600;font-size:.85rem;color:#fff}.proved{background:#1f7a3a}.refuted{background:#b42318}
.unknown{background:#6b7280}.mismatch{color:#b42318;font-weight:700}tr.differs{background:#fff5f5}
figure{margin:1rem 0}figcaption{color:#5a6472;font-size:.9rem;margin-top:.3rem;max-width:60rem}
figure svg{max-width:100%;height:auto}.scroll{overflow-x:auto}.scroll svg{max-width:none}
math{font-size:1.1em}math[display=block]{margin:.6rem 0;overflow-x:auto;overflow-y:hidden}
footer{margin-top:2.5rem;font-size:.85rem}
@media print{body{max-width:none;padding:0;font-size:10.5pt}nav{display:none}.scroll{overflow:visible}
.scroll svg{max-width:100%}tr,figure{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""

_TEMPLATES = {
    "macros": """{% macro badge(v) %}<span class="badge {{ v }}">{{ v }}</span>{% endmacro %}""",
    "page": """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ css }}</style></head>
<body{% if wide %} class="wide"{% endif %}>{{ body }}
<footer class="muted">Written by mathcircuits (schema version {{ version }}). Formulas are MathML,
figures are inline SVG: this page needs no script and no network.</footer></body></html>
""",
    "theorem": """{% from "macros" import badge %}<article class="mc-report">
{% if links %}<nav><a href="../index.html">&larr; Catalogue</a> &middot;
<a href="{{ v.slug }}.md">Markdown</a> &middot; <a href="{{ v.slug }}.json">JSON</a></nav>{% endif %}
<h1>{{ f.name }}</h1>{% if f.source %}<p class="muted">{{ f.source }}</p>{% endif %}
<p>{{ badge(f.verdict) }} by <code>{{ f.method }}</code> in {{ "%.3f"|format(f.elapsed_s) }} s
{%- if f.expected %}; expected {{ f.expected }}{% if f.as_expected %} &#10003;{% else %}
<span class="mismatch">&#10007; the verdict differs from the expected one</span>{% endif %}{% endif %}</p>
<h2>Statement</h2><math display="block">{{ v.full }}</math>
<p class="muted small">As text: <code>{{ f.statement.text }}</code> on <code>{{ f.domain.text }}</code></p>
<h2>Evidence</h2>
{% if f.counterexample %}<p>{{ cex_title }}, replayed exactly:</p><table class="facts">
{% for k, x in f.counterexample.point.items() %}
<tr><th><code>{{ k }}</code></th><td><code>{{ x }}</code></td></tr>{% endfor %}
<tr><th>network value</th><td><code>{{ f.counterexample.network_value }}</code></td></tr>
<tr><th>target value</th><td><code>{{ f.counterexample.target_value }}</code></td></tr></table>{% endif %}
{% if f.evidence %}<p>{{ f.evidence }}</p>{% endif %}{% if f.reason %}<p>Reason: {{ f.reason }}</p>{% endif %}
{% if f.get("witness_points") %}<p class="muted small">Witness points:
{% for p in f.witness_points %}({{ p.values()|join(", ") }}){{ ", " if not loop.last else "" }}{% endfor %}</p>{% endif %}
{% if v.plot %}<h2>Network and target</h2><figure>{{ v.plot }}<figcaption>Computed in floating point
on a grid for illustration only; the verdict above is exact.</figcaption></figure>{% endif %}
<h2>Circuit</h2><figure><div class="scroll">{{ v.diagram }}</div><figcaption>{{ legend }}</figcaption></figure>
{% if v.rounded %}<p>After rounding (the network the verdict is about):</p>
<figure><div class="scroll">{{ v.rounded }}</div></figure>{% endif %}
{% if v.closed %}<p>Closed form:</p><math display="block">{{ v.closed }}</math>{% endif %}
<details><summary>Exact program ({{ f.circuit.assignments|length }} assignments)</summary>
<pre>{{ v.program }}</pre></details>
{% if v.trained %}<h2>Trained model</h2><p>The trained weights are canonicalised and rounded to the simplest
rationals (denominators up to q) for which the claim holds; the verdict is about the rounded network.</p>
<table class="facts">{% for r in v.trained %}<tr><th>{{ r.label }}</th><td>
{%- if r.mathml %}<math>{{ r.mathml }}</math>{% else %}<code>{{ r.text }}</code>{% endif %}</td></tr>
{% endfor %}</table>{% endif %}
<h2>Reproducibility</h2><table class="facts">
<tr><th>weights SHA-256</th><td><code>{{ f.circuit.weights_sha256 or "(symbolic weights)" }}</code></td></tr>
{% for k, x in f.versions.items() %}<tr><th>{{ k }}</th><td>{{ x }}</td></tr>{% endfor %}
<tr><th>time to decide</th><td>{{ "%.3f"|format(f.timings.decide_s) }} s</td></tr>
<tr><th>time to typeset and plot</th><td>{{ "%.3f"|format(f.timings.render_s) }} s</td></tr>
</table></article>""",
    "index": """{% from "macros" import badge %}<h1>mathcircuits: the catalogue</h1>
<p>{{ rows|length }} theorems:
{% for k, n in counts.items() %}<span class="badge {{ k }}">{{ n }} {{ k }}</span> {% endfor %}
{% if differ %}<span class="mismatch">&#10007; {{ differ }} differ from the expected verdict</span>
{%- else %}all as expected &#10003;{% endif %}; decided in {{ "%.2f"|format(total) }} s.
Also as <a href="index.md">Markdown</a> and <a href="catalogue.json">JSON</a>.</p>
<div class="scroll"><table><thead><tr><th class="num">#</th><th>Theorem</th><th>Statement</th>
<th>Domain</th><th>Verdict</th></tr></thead><tbody>
{% for r in rows %}<tr{% if r.f.as_expected == false %} class="differs"{% endif %}>
<td class="num">{{ loop.index }}</td>
<td class="name"><a href="theorems/{{ r.v.slug }}.html">{{ r.f.name }}</a>
<div class="muted small">{{ r.f.source or "" }}</div></td>
<td>{% for m in r.v.statement %}<math>{{ m }}</math> {% endfor %}</td>
<td>{% for m in r.v.domain %}<math>{{ m }}</math> {% endfor %}</td>
<td class="verdict">{{ badge(r.f.verdict) }}{% if r.f.as_expected == false %}
<div class="mismatch small">&#10007; expected {{ r.f.expected }}</div>{% endif %}
<div class="muted small"><code>{{ r.f.method }}</code>, {{ "%.3f"|format(r.f.elapsed_s) }} s</div></td></tr>
{% endfor %}</tbody></table></div>
<p class="muted small">Versions:
{% for k, x in versions.items() %}{{ k }} {{ x }}{{ ", " if not loop.last else "" }}{% endfor %}.</p>""",
}


@functools.cache
def _env():
    import jinja2

    loader = jinja2.DictLoader(_TEMPLATES)
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)


def _safe_view(view: dict) -> dict:
    """Mark the typeset parts (generated MathML and SVG, never user text) as safe markup."""
    from markupsafe import Markup

    keep = {"slug", "program", "trained"}
    out = {k: v if v is None or k in keep else [Markup(x) for x in v] if isinstance(v, list) else Markup(v)
           for k, v in view.items()}
    out["trained"] = [{**r, "mathml": r["mathml"] and Markup(r["mathml"])} for r in view.get("trained", [])]
    return out


def _html_page(title: str, body: str, wide: bool = False) -> str:
    from markupsafe import Markup

    return _env().get_template("page").render(title=title, css=Markup(CSS), body=Markup(body), wide=wide,
                                              version=SCHEMA_VERSION)


def _theorem_body(facts: dict, view: dict, links: bool) -> str:
    cex_title = "Weights that fit every witness point" if facts["kind"] == "unrealizable" else "Counterexample"
    return _env().get_template("theorem").render(f=facts, v=_safe_view(view), links=links, legend=LEGEND,
                                                 cex_title=cex_title)


# -- Markdown ---------------------------------------------------------------------------------------
def _md(text: object) -> str:
    """Plain text for Markdown: HTML-escaped (no raw HTML gets through), table-safe, one line."""
    return escape(str(text), quote=False).replace("|", "\\|").replace("[", "\\[").replace("\n", " ")


def _md_code(text: object) -> str:
    return "`" + str(text).replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _theorem_markdown(f: dict, v: dict, links: bool) -> str:
    slug = v["slug"]
    out = [f"# {_md(f['name'])}", ""]
    if links:
        out += [f"[← Catalogue](../index.md) · [HTML]({slug}.html) · [JSON]({slug}.json)", ""]
    if f["source"]:
        out += [_md(f["source"]), ""]
    verdict = f"**{f['verdict']}** by {_md_code(f['method'])} in {f['elapsed_s']:.3f} s"
    if f["expected"]:
        verdict += f"; expected {f['expected']}" + (" ✓" if f["as_expected"] else " — **✗ the verdict differs**")
    out += [verdict, "", "## Statement", "", "$$", f["statement"]["latex_with_domain"], "$$", "",
            f"As text: {_md_code(f['statement']['text'])} on {_md_code(f['domain']['text'])}", "", "## Evidence", ""]
    cex = f["counterexample"]
    if cex:
        what = "Weights that fit every witness point" if f["kind"] == "unrealizable" else "Counterexample"
        out += [f"{what}, replayed exactly:", "", "| | value |", "|---|---|"]
        out += [f"| {_md_code(k)} | {_md_code(x)} |" for k, x in cex["point"].items()]
        out += [f"| network value | {_md_code(cex['network_value'])} |",
                f"| target value | {_md_code(cex['target_value'])} |", ""]
    out += [_md(x) for x in (f["evidence"], f["reason"] and f"Reason: {f['reason']}") if x] + [""]
    if v["plot"]:
        out += ["## Network and target", "", f"![network and target]({slug}.plot.svg)", "",
                "Computed in floating point on a grid for illustration only; the verdict above is exact.", ""]
    out += ["## Circuit", "", f"![circuit diagram]({slug}.circuit.svg)", "", LEGEND, ""]
    if v["rounded"]:
        out += ["After rounding (the network the verdict is about):", "", f"![rounded circuit]({slug}.rounded.svg)", ""]
    if f["closed_form"]:
        out += ["Closed form:", "", "$$", v["closed_tex"], "$$", ""]
    out += ["```text", v["program"], "```", ""]
    if v["trained"]:
        out += ["## Trained model", "", "The trained weights are canonicalised and rounded to the simplest rationals "
                "(denominators up to q) for which the claim holds; the verdict is about the rounded network.", "",
                "| fact | value |", "|---|---|"]
        out += [f"| {_md(r['label'])} | {_md_code(r['text'])} |" for r in v["trained"]] + [""]
    out += ["## Reproducibility", "", "| | |", "|---|---|",
            f"| weights SHA-256 | {_md_code(f['circuit']['weights_sha256'] or '(symbolic weights)')} |"]
    out += [f"| {_md(k)} | {_md(x)} |" for k, x in f["versions"].items()]
    out += [f"| time to decide | {f['timings']['decide_s']:.3f} s |",
            f"| time to typeset and plot | {f['timings']['render_s']:.3f} s |", ""]
    return "\n".join(out)


# -- pages and files --------------------------------------------------------------------------------
def _pages(facts: dict, view: dict, links: bool) -> dict[str, str]:
    facts["versions"] = versions()
    pages = {"html": _html_page(facts["name"], _theorem_body(facts, view, links)),
             "md": _theorem_markdown(facts, view, links),
             "json": json.dumps(facts, indent=2, ensure_ascii=False) + "\n",
             f"svg:{view['slug']}.circuit.svg": view["diagram"]}
    if view["rounded"]:
        pages[f"svg:{view['slug']}.rounded.svg"] = view["rounded"]
    if view["plot"]:
        pages[f"svg:{view['slug']}.plot.svg"] = view["plot"]
    return pages


def theorem_page(theorem, result, extra: dict | None = None, *, links: bool = False) -> dict[str, str]:
    """The pages of one theorem, claim or model check: ``{"html", "md", "json"}``, plus the SVG files
    the Markdown page shows under keys ``"svg:<file name>"``.

    ``theorem`` is a catalogue :class:`~proofs.catalogue.Theorem` or just a name (a user's claim);
    ``extra`` carries trained-model facts (``rounded_expression``, ``denominator``, ``max_error``,
    ``max_error_at``, ``rounding_error``, ...); ``links`` adds a catalogue page's navigation.
    """
    facts, view = build(theorem, result, extra)
    return _pages(facts, view, links)


def _index_markdown(models: list, total_s: float) -> str:
    counts = {k: sum(f["verdict"] == k for f, _ in models) for k in ("proved", "refuted", "unknown")}
    differ = [f["name"] for f, _ in models if f["as_expected"] is False]
    lines = ["# mathcircuits: the catalogue", "",
             f"{len(models)} theorems: " + ", ".join(f"{n} {k}" for k, n in counts.items())
             + ("; all as expected" if not differ else f"; **✗ not as expected: {_md(', '.join(differ))}**")
             + f"; decided in {total_s:.2f} s. Versions: "
             + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".", "",
             "| name | statement | domain | verdict | expected | method | s |", "|---|---|---|---|---|---|---|"]
    for f, v in models:
        verdict = f"[**{f['verdict']}**](theorems/{v['slug']}.md)" + ("" if f["as_expected"] is not False else " ✗")
        lines.append(f"| {_md(f['name'])} | {_md_code(f['statement']['text'])} | {_md_code(f['domain']['text'])} | "
                     f"{verdict} | {f['expected'] or ''} | {_md_code(f['method'])} | {f['elapsed_s']:.3f} |")
    return "\n".join(lines) + "\n"


def _index_html(models: list, total_s: float) -> str:
    counts = {k: sum(f["verdict"] == k for f, _ in models) for k in ("proved", "refuted", "unknown")}
    differ = sum(f["as_expected"] is False for f, _ in models)
    rows = [{"f": f, "v": _safe_view(v)} for f, v in models]
    body = _env().get_template("index").render(rows=rows, counts=counts, differ=differ, total=total_s,
                                               versions=versions())
    return _html_page("mathcircuits: the catalogue", body, wide=True)


def write_reports(rows, total_s: float, directory: str | os.PathLike,
                  formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write the catalogue report into ``directory``: ``index.html``, ``index.md``, ``catalogue.json``
    and ``theorems/<name>.{html,md,json}`` (and the Markdown's SVG figures), for ``formats``.

    ``rows`` are ``(theorem, result)`` or ``(theorem, result, extra)``. Everything is rendered
    before anything is written; each file goes through a temporary file and a rename, the index
    last. An unwritable folder is a :class:`~symbolic.errors.MathCircuitsError` (one line).
    Returns the written paths, ``index.html`` first when HTML is among ``formats``.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise errors.MathCircuitsError(f"report formats must be among {', '.join(FORMATS)}, got {list(formats)}")
    rows = _rows(rows)
    names = slugs([t.name for t, _, _ in rows])
    start = time.perf_counter()
    models, files = [], {}
    for t, r, extra in rows:
        facts, view = build(t, r, extra)
        view["slug"] = names[t.name]
        pages = _pages(facts, view, links=True)
        models.append((facts, view))
        for key, text in pages.items():
            fmt, _, name = key.partition(":")
            if fmt in formats or (fmt == "svg" and "md" in formats):
                files[f"theorems/{name or view['slug'] + '.' + fmt}"] = text
    index = {}
    if "json" in formats:
        pages_of = {t.name: f"theorems/{names[t.name]}" for t, _, _ in rows}
        doc = catalogue_json(rows, total_s, pages_of)
        doc["render_s"] = round(time.perf_counter() - start, 6)
        index["catalogue.json"] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if "md" in formats:
        index["index.md"] = _index_markdown(models, total_s)
    if "html" in formats:
        index["index.html"] = _index_html(models, total_s)
    out = Path(directory)
    written: list[Path] = []
    try:
        for name, text in [*files.items(), *index.items()]:  # the index last: it links to the rest
            write_atomic(out / name, text)
            written.append((out / name).resolve())
    except OSError as exc:
        raise errors.MathCircuitsError(
            f"cannot write the report into {out}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if getattr(exc, "filename", None) else "")) from None
    written.sort(key=lambda p: (p.parent != out.resolve(), ["index.html", "index.md", "catalogue.json"].index(p.name)
                                if p.parent == out.resolve() else 0))
    return written


def write_catalogue(rows, total_s: float, directory: str | os.PathLike) -> list[Path]:
    """Write the full catalogue report (HTML, Markdown, JSON); the first path is ``index.html``."""
    return write_reports(rows, total_s, directory, FORMATS)


def report_for(names: Sequence[str], directory: str | os.PathLike, config=None) -> list[Path]:
    """Decide the named catalogue theorems and write their report; an unknown name is a
    :class:`~symbolic.errors.ClaimError` naming it (nothing is written)."""
    from proofs import catalogue
    from verify.decide import Config

    theorems = catalogue.select(list(names))
    start = time.perf_counter()
    rows = [(t, *t.run_with_facts(config or Config())) for t in theorems]
    return write_reports(rows, time.perf_counter() - start, directory)


# -- notebooks --------------------------------------------------------------------------------------
def result_html(result) -> str:
    """An HTML fragment for a notebook: a result's statement, verdict, evidence, figure and circuit."""
    facts, view = build("claim", result)
    facts["versions"] = versions()
    return f'<div class="mc-report"><style>{_scoped_css()}</style>{_theorem_body(facts, view, False)}</div>'


def circuit_html(circuit) -> str:
    """An HTML fragment for a notebook: the circuit diagram and its closed form."""
    closed = _closed_form(circuit)
    formula = ""
    if closed is not None:
        lhs = sp.Function("N")(*(sym(n) for n in circuit.inputs))
        formula = f'<math display="block">{math([sp.Eq(lhs, shorten_numbers(closed), evaluate=False)])[0]}</math>'

    return (f'<div class="mc-report"><style>{_scoped_css()}</style><figure><div class="scroll">'
            f"{circuit_svg(circuit, active_when(circuit))}</div><figcaption>{escape(LEGEND)}</figcaption></figure>"
            f"{formula}</div>")


def _scoped_css() -> str:
    """The page CSS limited to ``.mc-report`` (a notebook must not restyle itself)."""
    rules = re.findall(r"([^{}@]+)\{([^{}]*)\}", CSS.split("@media")[0])
    keep = [(sel, body) for sel, body in rules if sel.strip() not in ("body", "footer", "nav")]
    return "".join(",".join(f".mc-report {s.strip()}" for s in sel.split(",")) + "{" + body + "}" for sel, body in keep)
