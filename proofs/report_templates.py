"""Report templates: HTML (Jinja2, imported lazily) and Markdown pages of the result model, and their CSS."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from html import escape

from symbolic.circuit_to_svg import LEGEND, fitted
from symbolic.printing import readable


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
figure svg{max-width:100%;height:auto}.scroll{overflow-x:auto;max-width:100%}
math{font-size:1.1em}math[display=block]{margin:.6rem 0;overflow-x:auto;overflow-y:hidden;max-width:100%}
p.formula{line-height:2.2}p.formula math{margin-right:.35em}
td code,td math{overflow-wrap:anywhere;white-space:normal}td math{display:inline-block;max-width:100%;overflow-x:auto}
footer{margin-top:2.5rem;font-size:.85rem}
@media print{body{max-width:none;padding:0;font-size:10.5pt}nav{display:none}.scroll{overflow:visible}
.scroll svg{max-width:100%!important;min-width:0!important}tr,figure{break-inside:avoid}a{color:inherit;text-decoration:none}}
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
{% if links %}<nav><a href="../index.html">&larr; {{ "Catalogue" if f.expected else "All claims" }}</a> &middot;
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
<tr><th><code>{{ k }}</code></th><td><code title="{{ x }}">{{ x|readable }}</code></td></tr>{% endfor %}
<tr><th>network value</th><td><code title="{{ f.counterexample.network_value }}">{{ f.counterexample.network_value|readable }}</code></td></tr>
<tr><th>target value</th><td><code title="{{ f.counterexample.target_value }}">{{ f.counterexample.target_value|readable }}</code></td></tr></table>
<p class="muted small">Exact values: hover a number, or read the JSON page.</p>{% endif %}
{% if f.evidence %}<p>{{ f.evidence }}</p>{% endif %}{% if f.reason %}<p>Reason: {{ f.reason }}</p>{% endif %}
{% if f.cross_check %}<p{% if f.cross_check.agree == false %} class="mismatch"{% endif %}><strong>Cross-check:</strong> {{ f.cross_check.text }}</p>{% endif %}
{% if f.get("witness_points") %}<p class="muted small">Witness points:
{% for p in f.witness_points %}({{ p.values()|join(", ") }}){{ ", " if not loop.last else "" }}{% endfor %}</p>{% endif %}
{% if v.plot %}<h2>Network and target</h2><figure>{{ v.plot }}<figcaption>Computed in floating point
on a grid for illustration only; the verdict above is exact.</figcaption></figure>{% endif %}
<h2>Circuit</h2><figure><div class="scroll">{{ v.diagram|fitted }}</div><figcaption>{{ legend }}</figcaption></figure>
{% if v.rounded %}<p>After rounding (the network the verdict is about):</p>
<figure><div class="scroll">{{ v.rounded|fitted }}</div></figure>{% endif %}
{% if v.closed_lines %}<p>Closed form:</p><p class="formula">{% for m in v.closed_lines %}<math>{{ m }}</math>
{% endfor %}</p>{% elif v.closed %}<p>Closed form:</p><math display="block">{{ v.closed }}</math>{% endif %}
<details><summary>Exact program ({{ f.circuit.assignments|length }} assignments)</summary>
<pre>{{ v.program }}</pre></details>
{% if v.trained %}<h2>Trained model</h2><p>{{ v.trained_intro }}</p>
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
<div class="muted small"><code>{{ r.f.method }}</code>, {{ "%.3f"|format(r.f.elapsed_s) }} s</div>
{%- if r.f.about != "the network as given" %}<div class="muted small">verdict about {{ r.f.about }}</div>{% endif %}
{%- if r.f.trained and r.f.trained.get("trained_error_short") %}<div class="muted small">{{ r.f.trained.get("trained_error_short") }}</div>{% endif %}
{%- if r.f.cross_check %}<div class="small{% if r.f.cross_check.agree == false %} mismatch{% else %} muted{% endif %}">
{%- if r.f.cross_check.agree %}confirmed by {{ r.f.cross_check.routes|join(", ") }}{% elif r.f.cross_check.agree == false %}routes disagree{% else %}not confirmed{% endif %}</div>{% endif %}</td></tr>
{% endfor %}</tbody></table></div>
<p class="muted small">Versions:
{% for k, x in versions.items() %}{{ k }} {{ x }}{{ ", " if not loop.last else "" }}{% endfor %}.</p>""",
    "claims": """{% from "macros" import badge %}<h1>mathcircuits: {{ title }}</h1>
<p>{% if rows|length == 1 %}Verdict: {{ badge(rows[0].verdict) }} {{ meaning[rows[0].verdict] }}.
{%- else %}{{ rows|length }} claims:
{% for k, n in counts.items() %}<span class="badge {{ k }}">{{ n }} {{ k }}</span> {% endfor %}{% endif %}
Also as <a href="index.md">Markdown</a> and <a href="catalogue.json">JSON</a>.</p>
<div class="scroll"><table><thead><tr><th class="num">#</th><th>Claim</th><th>Statement</th>
<th>Domain</th><th>Verdict</th></tr></thead><tbody>
{% for r in rows %}<tr><td class="num">{{ loop.index }}</td>
<td class="name"><a href="{{ r.page }}.html">{{ r.name }}</a><div class="muted small">{{ r.source or "" }}</div></td>
<td><code>{{ r.statement }}</code></td><td><code>{{ r.domain }}</code></td>
<td class="verdict">{{ badge(r.verdict) }}<div class="muted small">{{ meaning[r.verdict] }}</div>
<div class="muted small"><code>{{ r.method }}</code>, {{ "%.3f"|format(r.elapsed_s) }} s</div></td></tr>
{% endfor %}</tbody></table></div>
<p class="muted small">Versions:
{% for k, x in versions.items() %}{{ k }} {{ x }}{{ ", " if not loop.last else "" }}{% endfor %}.</p>""",
}

#: What a user's verdict says, in words.
MEANING = {"proved": "the claim holds", "refuted": "the claim is violated (a counterexample, replayed exactly)",
           "unknown": "not decided (see the reason on its page)"}


@functools.cache
def _env():
    import jinja2

    from markupsafe import Markup

    from symbolic.printing import readable

    loader = jinja2.DictLoader(_TEMPLATES)
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["readable"] = readable  # an exact number for people: decimal and fraction
    env.filters["fitted"] = lambda svg: Markup(fitted(str(svg)))  # a diagram as wide as the page allows
    return env


def _safe_view(view: dict) -> dict:
    """Mark the typeset parts (generated MathML and SVG, never user text) as safe markup."""
    from markupsafe import Markup

    keep = {"slug", "program", "trained"}
    out = {k: v if v is None or k in keep else [Markup(x) for x in v] if isinstance(v, list) else Markup(v)
           for k, v in view.items()}
    out["trained"] = [{**r, "mathml": r["mathml"] and Markup(r["mathml"])} for r in view.get("trained", [])]
    return out


def _html_page(title: str, body: str, version: int, wide: bool = False) -> str:
    """A whole HTML page around ``body``; ``version`` is the report schema version in its footer."""
    from markupsafe import Markup

    return _env().get_template("page").render(title=title, css=Markup(CSS), body=Markup(body), wide=wide,
                                              version=version)


def _theorem_body(facts: dict, view: dict, links: bool) -> str:
    cex_title = "Weights that fit every witness point" if facts["kind"] == "unrealizable" else "Counterexample"
    return _env().get_template("theorem").render(f=facts, v=_safe_view(view), links=links, legend=LEGEND,
                                                 cex_title=cex_title)


def _md(text: object) -> str:
    """Plain text for Markdown: HTML-escaped (no raw HTML gets through), table-safe, one line."""
    return escape(str(text), quote=False).replace("|", "\\|").replace("[", "\\[").replace("\n", " ")


def _md_code(text: object) -> str:
    return "`" + str(text).replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _theorem_markdown(f: dict, v: dict, links: bool) -> str:
    slug = v["slug"]
    out = [f"# {_md(f['name'])}", ""]
    if links:
        back = "Catalogue" if f["expected"] else "All claims"
        out += [f"[← {back}](../index.md) · [HTML]({slug}.html) · [JSON]({slug}.json)", ""]
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
        out += [f"| {_md_code(k)} | {_md_code(readable(x))} |" for k, x in cex["point"].items()]
        out += [f"| network value | {_md_code(readable(cex['network_value']))} |",
                f"| target value | {_md_code(readable(cex['target_value']))} |", "",
                "Exact values: the JSON page.", ""]
    out += [_md(x) for x in (f["evidence"], f["reason"] and f"Reason: {f['reason']}",
                             f["cross_check"] and f"**Cross-check:** {f['cross_check']['text']}") if x] + [""]
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
        out += ["## Trained model", "", _md(v["trained_intro"]), "",
                "| fact | value |", "|---|---|"]
        out += [f"| {_md(r['label'])} | {_md_code(r['text'])} |" for r in v["trained"]] + [""]
    out += ["## Reproducibility", "", "| | |", "|---|---|",
            f"| weights SHA-256 | {_md_code(f['circuit']['weights_sha256'] or '(symbolic weights)')} |"]
    out += [f"| {_md(k)} | {_md(x)} |" for k, x in f["versions"].items()]
    out += [f"| time to decide | {f['timings']['decide_s']:.3f} s |",
            f"| time to typeset and plot | {f['timings']['render_s']:.3f} s |", ""]
    return "\n".join(out)



# -- the catalogue index ----------------------------------------------------------------------------
def _index_markdown(models: list, total_s: float, versions: Mapping[str, str]) -> str:
    counts = {k: sum(f["verdict"] == k for f, _ in models) for k in ("proved", "refuted", "unknown")}
    differ = [f["name"] for f, _ in models if f["as_expected"] is False]
    lines = ["# mathcircuits: the catalogue", "",
             f"{len(models)} theorems: " + ", ".join(f"{n} {k}" for k, n in counts.items())
             + ("; all as expected" if not differ else f"; **✗ not as expected: {_md(', '.join(differ))}**")
             + f"; decided in {total_s:.2f} s. Versions: "
             + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", "",
             "| name | statement | domain | verdict | expected | method | s |", "|---|---|---|---|---|---|---|"]
    for f, v in models:
        verdict = f"[**{f['verdict']}**](theorems/{v['slug']}.md)" + ("" if f["as_expected"] is not False else " ✗")
        lines.append(f"| {_md(f['name'])} | {_md_code(f['statement']['text'])} | {_md_code(f['domain']['text'])} | "
                     f"{verdict}{_md_about(f)} | {f['expected'] or ''} | {_md_code(f['method'])}{_md_confirmed(f)} | "
                     f"{f['elapsed_s']:.3f} |")
    return "\n".join(lines) + "\n"


def _index_html(models: list, total_s: float, versions: Mapping[str, str], version: int) -> str:
    counts = {k: sum(f["verdict"] == k for f, _ in models) for k in ("proved", "refuted", "unknown")}
    differ = sum(f["as_expected"] is False for f, _ in models)
    rows = [{"f": f, "v": _safe_view(v)} for f, v in models]
    body = _env().get_template("index").render(rows=rows, counts=counts, differ=differ, total=total_s,
                                               versions=versions)
    return _html_page("mathcircuits: the catalogue", body, version, wide=True)


# -- a user's claims ------------------------------------------------------------------------------
def _claims_title(entries: list) -> str:
    return "a claim" if len(entries) == 1 else f"{len(entries)} claims"


def _user_index_html(entries: list, versions: Mapping[str, str], version: int) -> str:
    """The index of a user report: every claim in the folder with its verdict (catalogue entries)."""
    counts = {k: sum(e["verdict"] == k for e in entries) for k in ("proved", "refuted", "unknown")}
    body = _env().get_template("claims").render(rows=entries, counts=counts, versions=versions, meaning=MEANING,
                                                title=_claims_title(entries))
    return _html_page(f"mathcircuits: {_claims_title(entries)}", body, version, wide=True)


def _user_index_markdown(entries: list, versions: Mapping[str, str]) -> str:
    counts = {k: sum(e["verdict"] == k for e in entries) for k in ("proved", "refuted", "unknown")}
    if len(entries) == 1:
        summary = f"Verdict: **{entries[0]['verdict']}**, {MEANING[entries[0]['verdict']]}."
    else:
        summary = f"{len(entries)} claims: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + "."
    lines = [f"# mathcircuits: {_claims_title(entries)}", "", summary + " Versions: "
             + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", "",
             "| claim | statement | domain | verdict | method | s |", "|---|---|---|---|---|---|"]
    for e in entries:
        lines.append(f"| [{_md(e['name'])}]({e['page']}.md) | {_md_code(e['statement'])} | {_md_code(e['domain'])} | "
                     f"**{e['verdict']}**: {_md(MEANING[e['verdict']])} | {_md_code(e['method'])} | {e['elapsed_s']:.3f} |")
    return "\n".join(lines) + "\n"


# -- notebooks --------------------------------------------------------------------------------------
def _scoped_css() -> str:
    """The page CSS limited to ``.mc-report`` (a notebook must not restyle itself)."""
    rules = re.findall(r"([^{}@]+)\{([^{}]*)\}", CSS.split("@media")[0])
    keep = [(sel, body) for sel, body in rules if sel.strip() not in ("body", "footer", "nav")]
    return "".join(",".join(f".mc-report {s.strip()}" for s in sel.split(",")) + "{" + body + "}" for sel, body in keep)


def _md_confirmed(f: Mapping) -> str:
    """The index's method cell: ``; confirmed by ...`` after ``--cross-check``."""
    check = f.get("cross_check")
    if not check:
        return ""
    if check["agree"]:
        return "; confirmed by " + ", ".join(check["routes"])
    return "; **routes disagree**" if check["agree"] is False else "; not confirmed"


def _md_about(f: Mapping) -> str:
    """The index's verdict cell: which network, and the trained network's own error, when not the file's."""
    out = "" if f["about"] == "the network as given" else f" (about {_md(f['about'])})"
    short = (f.get("trained") or {}).get("trained_error_short")
    return out + (f"; {_md(short)}" if short else "")
