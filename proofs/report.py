"""Catalogue reports: a Markdown summary and a versioned JSON document, written atomically."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

from symbolic import errors

SCHEMA_VERSION = 1


def versions() -> dict[str, str]:
    """Versions of the solver and libraries behind a verdict."""
    import sympy
    import z3

    return {"python": platform.python_version(), "sympy": sympy.__version__, "z3": z3.get_version_string()}


def catalogue_json(rows, total_s: float) -> dict:
    """The catalogue run as a JSON-ready dict (schema version ``SCHEMA_VERSION``)."""
    return {
        "schema": "mathcircuits-catalogue",
        "version": SCHEMA_VERSION,
        "versions": versions(),
        "elapsed_s": round(total_s, 6),
        "all_as_expected": all(r.verdict is t.expected for t, r in rows),
        "theorems": [
            {"name": t.name, "source": t.source, "expected": t.expected.value,
             "as_expected": r.verdict is t.expected, **r.to_json()}
            for t, r in rows
        ],
    }


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def catalogue_markdown(rows, total_s: float) -> str:
    """A Markdown table of every theorem with its verdict and evidence."""
    from verify.result import exact_str

    lines = [
        "# mathcircuits: the seed catalogue",
        "",
        f"{len(rows)} theorems, {total_s:.2f} s. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        "| name | source | statement | domain | verdict | expected | method | s | evidence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t, r in rows:
        if r.counterexample:
            cex = r.counterexample
            point = ", ".join(f"{k} = {exact_str(v)}" for k, v in cex.point.items())
            evidence = f"counterexample {point}: network {exact_str(cex.network_value)}, target {exact_str(cex.target_value)}"
        else:
            evidence = r.evidence or r.reason
        cells = [t.name, t.source, f"`{t.statement()}`", f"`{t.domain()}`", f"**{r.verdict.value}**",
                 t.expected.value, r.method, f"{r.elapsed_s:.3f}", evidence]
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_catalogue(rows, total_s: float, directory: str | os.PathLike) -> list[Path]:
    """Write ``index.md`` and ``catalogue.json`` into ``directory``; return their paths."""
    out = Path(directory)
    try:
        md, js = out / "index.md", out / "catalogue.json"
        write_atomic(md, catalogue_markdown(rows, total_s))
        write_atomic(js, json.dumps(catalogue_json(rows, total_s), indent=2) + "\n")
    except OSError as exc:
        raise errors.MathCircuitsError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
    return [md.resolve(), js.resolve()]
