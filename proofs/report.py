"""Reports on disk: a catalogue, or a user's claims and checks, as self-contained HTML, Markdown
(LaTeX) and versioned JSON.

:func:`write_reports` writes ``index.html``, ``index.md``, ``catalogue.json`` and
``theorems/<name>.*``; every file is written to a temporary file and renamed, and the index last,
so a failure never leaves a half-written report in place of a good one. The JSON documents follow
``docs/report-schema.json`` (``"version": 1``). A report of user claims (rows with no expected
verdict) keeps the claims already in its folder: each has its own page, named by its content
(:func:`claim_slug`), and the index lists them all with their verdicts. Each page's model comes
from :mod:`proofs.result_to_page`, the templates from :mod:`proofs.report_templates`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from proofs.report_templates import _index_html, _index_markdown, _user_index_html, _user_index_markdown
from proofs.result_to_page import (FORMATS, SCHEMA_VERSION, UserClaim, _pages, _rows, build,  # noqa: F401
                                   catalogue_json, circuit_html, program, result_html, slugs, theorem_page,
                                   versions, weights_sha256)
from symbolic import errors
from symbolic.atomic import write_text_atomic


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)



def claim_slug(prefix: str, claim, *options: str) -> str:
    """A page name for a user's claim, from its content: ``prefix-`` and 10 hex digits of the
    SHA-256 of the network's exact weights, the statement (target and kind), the domain and
    ``options``. Two different claims get two pages; the same claim again gets its own page back.

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from verify.claim import Claim
    >>> net = from_layers([([[1]], None), ([[1]], None)])
    >>> one, two = (claim_slug("claim", Claim(net, t)) for t in (sp.Symbol('x', real=True), sp.Integer(0)))
    >>> one.startswith("claim-") and len(one) == 16 and one != two
    True
    """
    circuit = getattr(claim, "template", None) or claim.circuit
    content = [weights_sha256(circuit) or str(circuit), claim.statement(),
               claim.domain.describe(claim.variables), repr(claim.kind), *options]
    digest = hashlib.sha256(json.dumps(content).encode("utf-8")).hexdigest()[:10]
    return f"{slugs([prefix])[prefix]}-{digest}"


#: A user report's ``catalogue.json`` larger than this is not read back (its entries are dropped).
MAX_INDEX_BYTES = 50_000_000


def _kept_entries(directory: Path, new_names: set[str]) -> list[dict]:
    """The entries of an earlier user report in ``directory`` (its ``catalogue.json``) whose pages
    are still there, except those the new rows replace; nothing when there is none or it is not ours."""
    path = directory / "catalogue.json"
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            return []
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(doc, dict) or doc.get("schema") != "mathcircuits-catalogue" or \
            not isinstance(doc.get("theorems"), list):
        return []
    kept = []
    for entry in doc["theorems"]:
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("page"), str)
                and entry.get("verdict") in ("proved", "refuted", "unknown")):
            continue
        page = directory / entry["page"]
        if entry["name"] in new_names or not entry["page"].startswith("theorems/") or \
                not any(page.with_name(page.name + f".{fmt}").is_file() for fmt in FORMATS):
            continue
        kept.append(entry)
    return kept


def write_reports(rows, total_s: float, directory: str | os.PathLike,
                  formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write the catalogue report into ``directory``: ``index.html``, ``index.md``, ``catalogue.json``
    and ``theorems/<name>.{html,md,json}`` (and the Markdown's SVG figures), for ``formats``.

    ``rows`` are ``(theorem, result)`` or ``(theorem, result, extra)``. Everything is rendered
    before anything is written; each file goes through a temporary file and a rename, the index
    last. An unwritable folder is a :class:`~symbolic.errors.MathCircuitsError` (one line).
    Returns the written paths, ``index.html`` first when HTML is among ``formats``.

    Rows of user claims (no expected verdict) make a user report: the claims an earlier user
    report left in ``directory`` stay (a row with the same name replaces its page), and the index
    lists every claim with its verdict (not a catalogue's "as expected").
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise errors.MathCircuitsError(f"report formats must be among {', '.join(FORMATS)}, got {list(formats)}")
    rows = _rows(rows)
    out = Path(directory)
    user = all(t.expected is None for t, _, _ in rows)
    kept = _kept_entries(out, {t.name for t, _, _ in rows}) if user else []
    names = slugs([t.name for t, _, _ in rows], taken=[e["page"].removeprefix("theorems/") for e in kept])
    start = time.perf_counter()
    models, files = [], {}
    for facts, view, pages in _render_all(rows, names):
        models.append((facts, view))
        for key, text in pages.items():
            fmt, _, name = key.partition(":")
            if fmt in formats or (fmt == "svg" and "md" in formats):
                files[f"theorems/{name or view['slug'] + '.' + fmt}"] = text
    drawn = any(facts["figures"]["plot"] for facts, _ in models)
    pages_of = {t.name: f"theorems/{names[t.name]}" for t, _, _ in rows}
    doc = catalogue_json(rows, total_s, pages_of)
    doc["versions"] = versions(drawn)
    doc["render_s"] = round(time.perf_counter() - start, 6)
    if kept:
        doc["theorems"] = kept + doc["theorems"]
        doc["counts"] = {v: sum(e["verdict"] == v for e in doc["theorems"]) for v in ("proved", "refuted", "unknown")}
    index = {}
    if "json" in formats:
        index["catalogue.json"] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if "md" in formats:
        index["index.md"] = _user_index_markdown(doc["theorems"], versions(drawn)) if user else \
            _index_markdown(models, total_s, versions(drawn))
    if "html" in formats:
        index["index.html"] = _user_index_html(doc["theorems"], versions(drawn), SCHEMA_VERSION) if user else \
            _index_html(models, total_s, versions(drawn), SCHEMA_VERSION)
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


def _render_one(t, r, extra, slug: str) -> tuple[dict, dict, dict]:
    facts, view = build(t, r, extra)
    view["slug"] = slug
    return facts, view, _pages(facts, view, links=True)


_RENDERING: list = []  # the rows a forked rendering process reads (by index: nothing is pickled in)


def _render_index(k: int) -> tuple[dict, dict, dict]:
    t, r, extra, slug = _RENDERING[k]
    return _render_one(t, r, extra, slug)


def _render_all(rows: list, names: Mapping[str, str]) -> list:
    """Every row's ``(facts, view, pages)``, in order. A catalogue-sized run renders in forked
    processes, one per core (the figures, drawn by matplotlib, cost ~0.15 s each); the pages are the
    same either way."""
    jobs = [(t, r, extra, names[t.name]) for t, r, extra in rows]
    workers = min(os.cpu_count() or 1, 4)
    if len(jobs) < 8 or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [_render_one(*job) for job in jobs]
    _RENDERING[:] = jobs
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_render_index, range(len(jobs)), chunksize=max(1, len(jobs) // (4 * workers)))
    finally:
        _RENDERING.clear()


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


