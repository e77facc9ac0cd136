"""The report of an extraction: N, C, both proofs, the neuron map and the shares, as Markdown, HTML and JSON."""

from __future__ import annotations

import html
import json
from pathlib import Path


def write_report(found, facts: dict, folder: Path) -> list[Path]:
    """Write ``extract.md``, ``extract.html`` and ``extract.json`` into ``folder``; return their paths."""
    from proofs.circuit_to_svg import circuit_svg

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "extract.html", folder / "extract.md", folder / "extract.json"]
    markdown = render_markdown(facts)
    pictures = {"N (the trained network)": circuit_svg(found.claim.circuit)}
    if found.circuit is not None:
        pictures["C (the extracted circuit)"] = circuit_svg(found.circuit)
    figures = "".join(f"<figure><figcaption>{html.escape(k)}</figcaption><div class=\"svg\">{v}</div></figure>"
                      for k, v in pictures.items())
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Extraction: {html.escape(facts['model'])}"
            f"</title><style>{_CSS}</style></head><body>{_markdown_to_html(markdown)}{figures}</body></html>")
    paths[0].write_text(page)
    paths[1].write_text(markdown)
    paths[2].write_text(json.dumps(facts, indent=2))
    return paths


def render_markdown(facts: dict) -> str:
    """Markdown of an extraction's facts: statement, circuit, both verdicts, steps, map, shares."""
    out = [f"# Extraction from `{facts['model']}`", "",
           f"- **Network N:** {facts['network_neurons']} ReLUs",
           f"- **Claim:** `{facts['statement']}` on `{facts['domain']}`"]
    if not facts["found"]:
        out += [f"- **Circuit:** none found: {facts['reason']}"]
    else:
        out += [f"- **Circuit C:** `{facts['closed_form']}` ({facts['circuit_relus']} ReLUs)",
                f"- **C = f:** {facts['verdict']} ({facts['method']})"]
        if facts.get("distance") is not None:
            out.append(f"- **max |N - C| = {facts['distance_decimal']}** (exact: `{facts['distance']}`), "
                       f"{facts['distance_method']}; |N - C| <= delta {facts.get('distance_proof')} "
                       f"({facts.get('distance_proof_method')})")
        out += ["", "## Simplification steps (each with a proved bound)", ""]
        out += [f"- {s}" for s in facts.get("steps", [])] or ["- none: the rounding alone found C"]
        out += ["", "## What each neuron of N serves", "", "| neuron | depth | feature of C | why |", "|---|---|---|---|"]
        out += [f"| {r['neuron']} | {r['depth']} | {r['feature']} | {r['how']} |" for r in facts["features"]]
        out += ["", "## Share of N's output (measured on sample points, not a proof)", "",
                "| feature | share |", "|---|---|"]
        out += [f"| {k} | {v:.1%} |" for k, v in facts["shares"].items()]
    out += ["", "## Budgets tried", "", "| budget | ReLUs left | rounded verdict | denominators | ReLUs of C |",
            "|---|---|---|---|---|"]
    out += [f"| {a['budget']} | {a['relus']} | {a['rounded_verdict']} | {a['denominator'] or ''} | "
            f"{a['relus_after_rounding'] or ''} |" for a in facts["attempts"]]
    sizes = facts.get("proof_sizes")
    if sizes and sizes.get("eps"):
        out += ["", f"## Proof sizes for |N - f| <= {sizes['eps_decimal']}", "", "| route | proves | verdict | method | size | s |",
                "|---|---|---|---|---|---|"]
        rows = [("directly", sizes["direct"])] + [("through C", p) for p in sizes["through_circuit"]]
        rows += [("via the steps", p) for p in (sizes.get("through_steps") or {}).get("parts", [])]
        out += [f"| {route} | `{p['statement']}` | {p['verdict']} | {p['method']} | {p['count']} {p['unit']} | "
                f"{p['seconds']} |" for route, p in rows]
    return "\n".join(out) + "\n"


def _markdown_to_html(text: str) -> str:
    """The small Markdown subset :func:`render_markdown` writes, as HTML (text escaped)."""
    out, table = [], False
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set(line) <= set("|-"):
                continue
            if not table:
                out.append("<div class=\"table\"><table>")
                table = True
                out.append("<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>")
            else:
                out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if table:
            out.append("</table></div>")
            table = False
        escaped = html.escape(line).replace("**", "")
        escaped = escaped.replace("`", "")
        if line.startswith("# "):
            out.append(f"<h1>{escaped[2:]}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{escaped[3:]}</h2>")
        elif line.startswith("- "):
            out.append(f"<p>{escaped[2:]}</p>")
        elif line:
            out.append(f"<p>{escaped}</p>")
    if table:
        out.append("</table></div>")
    return "\n".join(out)


_CSS = ("body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
        ".table,.svg{overflow-x:auto}.svg svg{max-width:100%;height:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}")
