"""One theorem's result as a page model: the JSON facts, and the same facts typeset for HTML and Markdown.

For each theorem (or a user's claim or model check) :func:`build` gives the statement and domain in
mathematical notation (presentation MathML in HTML, ``$$`` LaTeX in Markdown), the circuit as an
SVG diagram, its closed form, the verdict with its method and evidence, a figure of network vs
target with the counterexample marked, facts about trained models, versions, the weights hash and
timings; :func:`theorem_page` renders them. Exact numbers stay exact strings in the JSON and are
shown to people as a short decimal with the fraction (:func:`symbolic.printing.readable`). The
files are written by :mod:`proofs.report`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import platform
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from html import escape

import sympy as sp

from symbolic.circuit_to_svg import LEGEND, active_when, circuit_svg, fitted, node_formula, shorten_numbers
from proofs.notation import domain_parts, math, math_chunks, statement_parts
from proofs.plots import plot_svg
from proofs.report_templates import _html_page, _scoped_css, _theorem_body, _theorem_markdown
from symbolic import errors
from symbolic.circuit_to_closed_form import closed_form
from symbolic.printing import readable, show
from symbolic.relu import sym
from verify.realizability import Unrealizable
from verify.result import exact_str

SCHEMA_VERSION = 1
FORMATS = ("html", "md", "json")


def versions(figures: bool = False) -> dict[str, str]:
    """Versions of Python, the solver and the libraries behind a verdict (and its figures: matplotlib
    when it drew one here, or ``figures`` says one was drawn, e.g. in a rendering process)."""
    import sympy
    import z3

    found = {"python": platform.python_version(), "sympy": sympy.__version__, "z3": z3.get_version_string()}
    if "matplotlib" in sys.modules:
        found["matplotlib"] = sys.modules["matplotlib"].__version__
    elif figures:
        from importlib import metadata

        found["matplotlib"] = metadata.version("matplotlib")
    return found


def weights_sha256(circuit) -> str | None:
    """SHA-256 of the circuit's exact weights (its graph-format JSON text); None for symbolic weights."""
    from networks import json_to_circuit

    try:
        text = json_to_circuit.dumps(circuit)
    except errors.MathCircuitsError:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def slugs(names: Sequence[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Safe, unique file stems for theorem names (``<script>`` never reaches a path or a URL),
    none of them among ``taken`` (the stems already used in a folder).

    >>> slugs(['min', 'a/b', 'a?b'])
    {'min': 'min', 'a/b': 'a_b', 'a?b': 'a_b_2'}
    >>> slugs(['min'], taken=['min'])
    {'min': 'min_2'}
    """
    out: dict[str, str] = {}
    used: set[str] = {t.lower() for t in taken}
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:80] or "theorem"
        slug, i = stem, 1
        while slug.lower() in used:
            i += 1
            slug = f"{stem}_{i}"
        used.add(slug.lower())
        out[name] = slug
    return out



# -- the result model -------------------------------------------------------------------------------
def _jsonable(value):
    """Exact values as strings, containers recursively; JSON scalars unchanged."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, sp.Basic) and not value.is_Number:  # closed forms arrive as sympy objects
        return show(value)
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


#: A closed form longer than this (as text) is typeset in pieces a browser can wrap.
WRAP_CHARS = 90


def wrapped(lhs, expr, width: int = WRAP_CHARS) -> list[str] | None:
    """``lhs = expr`` as MathML pieces of about ``width`` characters each, cut between the terms of
    a sum, so that a long closed form wraps on a narrow page; None when it is short or no sum.

    >>> x = sym('x')
    >>> parts = wrapped(sp.Function('N')(x), sum(sp.Rational(k, 7) * sp.Max(0, x - k) for k in range(1, 30)), 60)
    >>> len(parts) > 3 and all(p.startswith('<mrow>') for p in parts) and '<mo>+</mo>' in parts[1]
    True
    """
    if not isinstance(expr, sp.Add) or len(show(expr)) <= width:
        return None
    lines: list[str] = []
    size = 0
    pieces: list[str] = []
    for k, term in enumerate(expr.as_ordered_terms()):
        negative = k > 0 and term.could_extract_minus_sign()
        body = math([-term if negative else term])[0]
        if k == 0:
            piece = math([sp.Eq(lhs, term, evaluate=False)])[0]
        else:
            piece = f"<mrow><mo>{'&#x2212;' if negative else '+'}</mo>{body}</mrow>"
        length = len(show(term)) + 3
        if pieces and size + length > width:
            lines.append("<mrow>" + "".join(pieces) + "</mrow>")
            pieces, size = [], 0
        pieces.append(piece)
        size += length
    lines.append("<mrow>" + "".join(pieces) + "</mrow>")
    return lines


def program(circuit) -> str:
    """The circuit as exact text, one assignment a line (``h1 = R(x1 - x2)``), without simplifying."""
    lines = [f"{a.name} = {node_formula(circuit, a.name, exact=True)}" for a in circuit.assignments]
    return "\n".join([f"inputs: {', '.join(circuit.inputs)}", *lines, f"outputs: {', '.join(circuit.outputs)}"])


def _about(rounded: bool, denominator) -> str:
    """Which network the verdict is about, in a few words (``denominator``: the rounding's bound q)."""
    if rounded:
        return f"its rounding to denominators <= {denominator}" if denominator is not None else "its rounding"
    return "the network as given"


def _trained_intro(rounded: bool, trained: Mapping) -> str:
    """Which network the verdict is about, said before the trained-model facts."""
    if rounded:
        return ("The trained weights are canonicalised and rounded to the simplest rationals (denominators up "
                "to q) for which the claim holds; the verdict above is about that rounded network, not the "
                "trained one. Its distance to the trained network is below.")
    if "simpler_circuit" in trained:
        return ("The verdict above is about the trained network as given, weight for weight, with its exact "
                "worst-case error. Then a simpler circuit: the simplest rounding of its weights that satisfies "
                "the claim, if any, and the exact distance between the two.")
    return "The verdict above is about the network as given, weight for weight."


def _confirmation(result) -> dict | None:
    """``--cross-check``'s outcome with its line for people, or None."""
    if result.confirmation is None:
        return None
    from verify.cross_check import CrossCheck

    return {**result.confirmation, "text": CrossCheck.from_json(result.confirmation).line()}




_LABELS = {"simpler_circuit": "a simpler circuit", "rounded_expression": "rounded network", "rounded_relu_form": "rounded, as ReLUs",
           "denominator": "largest denominator q", "rounding_attempts": "rounding steps (q: verdict)",
           "max_error": "exact worst-case error max |N − f|", "max_error_at": "attained at",
           "rounding_error": "exact rounding error", "weights_sha256": "weights SHA-256",
           "trained_error": "the trained network's own error", "relative_error_c": "c (exact)",
           "relative_error_at": "|N − f| = c · max|xᵢ| at", "trained_error_short": "in short"}


def _trained_rows(trained: dict) -> list[dict]:
    """Trained-model facts as table rows: label, text, and math (MathML, LaTeX) for formulas."""
    rows = []
    for key, value in trained.items():
        if value is None and key in ("rounded_expression", "rounded_relu_form", "denominator"):
            continue  # no rounding satisfies the claim ("a simpler circuit" says so)
        text = readable(value)  # exact numbers as a decimal with the fraction (exact in the JSON)
        if key == "rounding_attempts" and isinstance(value, list):
            text = "; ".join(f"q = {q}: {v}" for q, v in value)
        ml = tex = None
        if isinstance(value, sp.Basic) and not value.is_Number:  # typeset the object, never re-parse text
            ml, tex = math([value])
            text = show(value)
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
    extra = dict(extra or {})  # facts computed by whoever decided (a report only renders)
    statement, domain = statement_parts(claim), domain_parts(claim.domain, claim.variables)
    statement_tex, domain_tex = math(statement)[1], math(domain)[1]
    full_ml, full_tex = math(statement + (["for all"] + domain if domain and not template else []))
    closed = _closed_form(decided)
    closed_ml = closed_tex = closed_eq_tex = closed_lines = None
    if closed is not None:
        lhs = sp.Function("N_w" if template else "N")(*(sym(n) for n in decided.inputs))
        closed_ml, closed_eq_tex = math([sp.Eq(lhs, shorten_numbers(closed), evaluate=False)])
        closed_tex = math([closed])[1]
        closed_lines = wrapped(lhs, shorten_numbers(closed))
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
        "cross_check": _confirmation(result),
        "about": _about(decided != circuit, extra.get("denominator")),
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
            "closed_tex": closed_eq_tex, "closed": closed_ml, "closed_lines": closed_lines,
            "program": program(circuit),
            "diagram": circuit_svg(circuit, active_when(circuit)), "plot": plot, "slug": salt,
            "rounded": circuit_svg(decided, active_when(decided)) if decided != circuit else None,
            "trained": _trained_rows({k: v if isinstance(v, sp.Basic) and not v.is_Number else _jsonable(v)
                                      for k, v in extra.items()}),
            "trained_intro": _trained_intro(decided != circuit, facts["trained"] or {})}
    facts["figures"] = {"circuit": True, "rounded_circuit": view["rounded"] is not None, "plot": plot is not None}
    facts["timings"]["render_s"] = round(time.perf_counter() - start, 6)
    return facts, view



# -- pages and files --------------------------------------------------------------------------------
def _pages(facts: dict, view: dict, links: bool) -> dict[str, str]:
    facts["versions"] = versions()
    pages = {"html": _html_page(facts["name"], _theorem_body(facts, view, links), SCHEMA_VERSION),
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
            f"{fitted(circuit_svg(circuit, active_when(circuit)))}</div><figcaption>{escape(LEGEND)}</figcaption></figure>"
            f"{formula}</div>")

