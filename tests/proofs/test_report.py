"""Reports: pages for the whole catalogue, well-formed self-contained HTML, escaping, JSON schema,
atomic writes into unwritable places, unknown theorems, the circuit diagram and the figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sympy as sp

from networks import library
from proofs import catalogue, report
from symbolic.circuit_to_svg import MAX_LABELLED_EDGES, circuit_svg
from symbolic import errors
from symbolic.circuit import from_layers
from symbolic.printing import readable
from symbolic.relu import sym
from verify.claim import Claim
from verify.decide import decide
from verify.result import Verdict

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "report-schema.json"
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "mspace"}


def decide_all():
    """Every catalogue theorem with its result (and the trained-model facts where there are any)."""
    rows = []
    for t in catalogue.seed_theorems():
        if hasattr(t, "run_with_facts"):
            rows.append((t, *t.run_with_facts()))
        else:
            rows.append((t, t.run()))
    return rows


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    rows = decide_all()
    out = tmp_path_factory.mktemp("report")
    start = time.perf_counter()
    paths = report.write_catalogue(rows, 1.0, out)
    return rows, out, paths, time.perf_counter() - start


class Checker(HTMLParser):
    """Balanced tags, and the number of child elements / text of every <svg> and <math>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[list] = []
        self.done: list[tuple[str, int]] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if self.stack:
            self.stack[-1][1] += 1
        if tag not in VOID:
            self.stack.append([tag, 0])

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if self.stack:
            self.stack[-1][1] += 1

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.problems.append(f"unbalanced </{tag}> (open: {[t for t, _ in self.stack][-3:]})")
            return
        name, count = self.stack.pop()
        if name in ("svg", "math"):
            self.done.append((name, count))

    def handle_data(self, data):
        if self.stack and data.strip():
            self.stack[-1][1] += 1


def check_html(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert not checker.problems, checker.problems[:3]
    assert not checker.stack, f"unclosed: {[t for t, _ in checker.stack]}"
    empty = [name for name, count in checker.done if count == 0]
    assert not empty, f"empty elements: {empty}"
    for tag, attrs in checker.tags:  # self-contained: no script, no fetched resource
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value.startswith(("http:", "https:", "//", "javascript:")), (tag, key, value)
    return checker


def test_pages_for_the_whole_catalogue(written):
    rows, out, paths, elapsed = written
    assert paths[0] == (out / "index.html").resolve()
    assert {p.name for p in paths[:3]} == {"index.html", "index.md", "catalogue.json"}
    names = report.slugs([t.name for t, *_ in rows])
    for t, *_ in rows:
        for ext in ("html", "md", "json"):
            assert (out / "theorems" / f"{names[t.name]}.{ext}").is_file(), (t.name, ext)
    index = (out / "index.html").read_text()
    for t, *_ in rows:
        assert f'href="theorems/{names[t.name]}.html"' in index
    md = (out / "index.md").read_text()
    assert "| is_even_4bit_Z |" in md and "theorems/is_even_4bit_Z.md" in md
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    print(f"catalogue report of {len(rows)} theorems written in {elapsed:.1f} s")
    assert elapsed < 60


def test_html_is_well_formed_and_every_figure_and_formula_is_non_empty(written):
    rows, out, _, _ = written
    index = check_html((out / "index.html").read_text())
    assert sum(name == "math" for name, _ in index.done) >= 2 * len(rows)
    names = report.slugs([t.name for t, *_ in rows])
    for t, r, *_ in rows:
        page = check_html((out / "theorems" / f"{names[t.name]}.html").read_text())
        kinds = [name for name, _ in page.done]
        assert kinds.count("math") >= 1 and kinds.count("svg") >= 1, t.name
        if len(t.circuit.inputs) <= 2 and not t.circuit.parameters:
            assert kinds.count("svg") >= 2, f"{t.name}: no plot"
    for svg in (out / "theorems").glob("*.svg"):
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and len(root) > 0
        if svg.name.endswith(".plot.svg"):
            assert svg.stat().st_size < 60_000, (svg.name, svg.stat().st_size)


def test_refuted_pages_show_the_counterexample(written):
    rows, out, _, _ = written
    page = (out / "theorems" / "wrong_minimum.html").read_text()
    cex = json.loads((out / "theorems" / "wrong_minimum.json").read_text())["counterexample"]
    assert "Counterexample" in page and "counterexample:" in page  # the table and the plot's legend
    for value in [*cex["point"].values(), cex["network_value"], cex["target_value"]]:
        assert f'<code title="{value}">{readable(value)}</code>' in page  # readable, the exact value on hover
    md = (out / "theorems" / "wrong_minimum.md").read_text()
    assert "$$" in md and "\\min" in md and "![circuit diagram](wrong_minimum.circuit.svg)" in md


def test_json_validates_against_the_schema(written):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    _, out, _, _ = written
    documents = [out / "catalogue.json", *sorted((out / "theorems").glob("*.json"))]
    for path in documents:
        data = json.loads(path.read_text())
        assert data["version"] == 1
        errors_found = sorted(validator.iter_errors(data), key=str)
        assert not errors_found, f"{path.name}: {errors_found[0].message} at {list(errors_found[0].path)}"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**json.loads((out / "catalogue.json").read_text()), "version": 2})


def test_cli_json_still_validates():
    jsonschema = pytest.importorskip("jsonschema")
    rows = [(t, t.run()) for t in catalogue.select(["identity", "wrong_minimum"])]
    jsonschema.validate(report.catalogue_json(rows, 0.5), json.loads(SCHEMA.read_text()))


HOSTILE = "<script>alert(1)</script>"


def hostile_theorem():
    claim = Claim(library.make_minimum(), sp.Min(sym("x1"), sym("x2")))
    return catalogue.Theorem(HOSTILE, 'SEEDS "<img src=x onerror=alert(2)>" & co', claim, Verdict.PROVED)


def test_user_text_is_escaped(tmp_path):
    theorem = hostile_theorem()
    pages = report.theorem_page(theorem, theorem.run())
    for key in ("html", "md"):
        assert "<script" not in pages[key] and "<img" not in pages[key], key
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["html"]
    check_html(pages["html"])
    assert json.loads(pages["json"])["name"] == HOSTILE  # data stays data
    paths = report.write_reports([(theorem, theorem.run())], 0.1, tmp_path)
    assert all("<" not in str(p) and p.is_relative_to(tmp_path.resolve()) for p in paths)
    index = (tmp_path / "index.html").read_text()
    assert "<script" not in index and "&lt;script&gt;" in index
    check_html(index)


def test_a_user_claim_page_from_a_name(tmp_path):
    claim = Claim(library.make_wrong_minimum(), sp.Min(sym("x1"), sym("x2")))
    pages = report.theorem_page("my claim", decide(claim))
    data = json.loads(pages["json"])
    assert data["expected"] is None and data["verdict"] == "refuted" and data["counterexample"]
    check_html(pages["html"])
    assert any(key.startswith("svg:") and key.endswith(".plot.svg") for key in pages)


def test_unknown_theorem_is_a_clear_error(tmp_path):
    with pytest.raises(errors.ClaimError, match="no_such_theorem"):
        report.report_for(["identity", "no_such_theorem"], tmp_path / "r")
    assert not (tmp_path / "r").exists()
    with pytest.raises(errors.MathCircuitsError, match="formats"):
        report.write_reports([], 0.0, tmp_path / "r", formats=("pdf",))


def good_report(directory: Path) -> bytes:
    rows = [(t, t.run()) for t in catalogue.select(["identity", "wrong_minimum"])]
    report.write_catalogue(rows, 0.1, directory)
    return (directory / "index.html").read_bytes()


def test_writing_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(errors.MathCircuitsError) as info:
        report.write_catalogue([(t, t.run()) for t in catalogue.select(["identity"])], 0.1, blocker / "sub")
    message = str(info.value)
    assert message.startswith("cannot write the report into") and "\n" not in message


def test_a_failed_write_leaves_the_previous_report_in_place(tmp_path, monkeypatch):
    before = good_report(tmp_path)
    calls = {"n": 0}
    real = report.write_text_atomic

    def failing(path, text):
        calls["n"] += 1
        if calls["n"] == 3:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, text)

    monkeypatch.setattr(report, "write_text_atomic", failing)
    rows = [(t, t.run()) for t in catalogue.select(["identity", "wrong_minimum", "minimum"])]
    with pytest.raises(errors.MathCircuitsError, match="cannot write the report into .*Permission denied"):
        report.write_catalogue(rows, 0.1, tmp_path)
    assert (tmp_path / "index.html").read_bytes() == before
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder_is_a_clear_error_and_keeps_the_old_report(tmp_path):
    before = good_report(tmp_path)
    for folder in (tmp_path, tmp_path / "theorems"):
        folder.chmod(0o555)
    try:
        with pytest.raises(errors.MathCircuitsError, match="cannot write the report"):
            report.write_catalogue([(t, t.run()) for t in catalogue.select(["minimum"])], 0.1, tmp_path)
    finally:
        for folder in (tmp_path, tmp_path / "theorems"):
            folder.chmod(0o755)
    assert (tmp_path / "index.html").read_bytes() == before


def test_notebook_fragments():
    result = decide(Claim(library.make_minimum(), sp.Min(sym("x1"), sym("x2"))))
    html = report.result_html(result)
    assert html.startswith('<div class="mc-report">') and "<svg" in html and "<math" in html
    assert "body{" not in html  # scoped CSS only
    fragment = report.circuit_html(library.make_minimum())
    assert "<svg" in fragment and "<math" in fragment and "min" in fragment


def test_circuit_diagram_is_deterministic_and_escaped():
    svg = circuit_svg(library.make_equation_one())
    assert svg == circuit_svg(library.make_equation_one())
    root = ET.fromstring(svg)
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) >= 8
    assert "C" in svg  # skip connections are curves
    hostile = circuit_svg(library.make_minimum(), {"h1": "<b>&</b>"})
    assert "<b>" not in hostile and "&lt;b&gt;&amp;&lt;/b&gt;" in hostile
    ET.fromstring(hostile)


def test_large_circuit_omits_edge_labels_and_says_so():
    weights = [([[((i * 7 + j) % 5 - 2) / 3 for j in range(2)] for i in range(32)], [0.25] * 32),
               ([[((i + j) % 3 - 1) / 7 for j in range(32)] for i in range(32)], [0.5] * 32),
               ([[0.125] * 32], [0.0])]
    svg = circuit_svg(from_layers(weights))
    ET.fromstring(svg)
    assert "weight labels are left out" in svg and f"more than {MAX_LABELLED_EDGES}" in svg
    assert "0.143" in svg  # a float-derived weight is shown short ...
    assert re.search(r"<title>h1_\d+ -&gt; h2_\d+: weight -?\d{8,}/\d{8,}</title>", svg)  # ... and exact on hover


def test_importing_plots_does_not_import_matplotlib():
    code = "import sys, proofs.plots, proofs.report; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_plots_for_one_two_and_more_inputs():
    from proofs.plots import plot_svg

    x = sym("x")
    one = plot_svg(library.make_step(10), sp.Piecewise((1, x < 10), (0, True)), mark={"x": 9.5})
    assert one.startswith("<svg") and "<?xml" not in one
    two = plot_svg(decide(Claim(library.make_wrong_minimum(), sp.Min(sym("x1"), sym("x2")))))
    assert two.startswith("<svg") and "image" in two  # the heatmap is a raster image
    four = catalogue.select(["minimum_of_four"])[0]
    assert plot_svg(four.run()) is None
    template = catalogue.select(["identity_needs_two_neurons"])[0]
    assert plot_svg(template.run()) is None
