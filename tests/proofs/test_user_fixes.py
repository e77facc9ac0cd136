"""Fixes a new user hit (issue 12, item 5) and numbers people can read (item 4): each test fails
without its fix."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from proofs import cli, cli_args

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# -- --version ----------------------------------------------------------------------------------
def test_version_prints_the_package_version_and_exits_0():
    done = subprocess.run([sys.executable, "-m", "proofs.cli", "--version"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"mathcircuits {cli.version()}" and cli.version() == "0.1.0"


# -- values that start with '-' -------------------------------------------------------------------
@pytest.mark.parametrize("argv,code,needle", [
    (["claim", "relu(-x) - relu(x)", "--target", "-x", "--domain", "x in [-1, 0]"], 0, "N(x) = -x"),
    (["claim", "-relu(-x)", "--target", "-relu(-x)"], 0, "proved"),  # a NETWORK that starts with '-'
    (["claim", "relu(x)", "--target", "x > 0", "--threshold", "-1"], 1, "> -1"),
    (["claim", "relu(x)", "--target", "x", "--domain", "-1 < x"], 1, "x in (-1, oo)"),
    (["claim", "relu(x)", "--target", "relu(x) - 1/2", "--tolerance", "1/2", "--domain", "-1/2 <= x <= 1"], 0, "proved"),
    (["claim", "relu(x)", "--targ", "-(-relu(x))"], 0, "proved"),  # an abbreviated option too
    (["claim", "-relu(h1)", "--target", "-h1", "--domain", "h1 in [0, 1]"], 0, "proved"),  # '-h1' is not -h 1
])
def test_values_may_start_with_a_minus(capsys, argv, code, needle):
    got, out, err = run(capsys, *argv)
    assert got == code, err
    assert needle in out


def test_model_commands_take_negative_targets(capsys):
    model = ROOT / "networks" / "trained" / "identity_seed0.json"
    got, out, err = run(capsys, "check", model, "--target", "-x", "--domain", "[-1, 1]", "--json")
    assert got == 1 and json.loads(out)["verdict"] == "refuted", err
    got, out, err = run(capsys, "certify", "missing.json", "--model", model, "--target", "-x")
    assert got == 2 and "no such file" not in err.split("certify")[0]  # parsed: the error is the certificate's


def test_every_option_of_every_command_takes_a_value_starting_with_a_minus(tmp_path, monkeypatch):
    """``--OPTION -x``: the value reaches the option (its type may still refuse it, by name), for
    every option that takes a value, of every command; never argparse's 'expected one argument'."""
    from symbolic import errors

    monkeypatch.chdir(tmp_path)  # folder and file options probe where they would write
    checked = 0
    for name, command in _subparsers(cli.build_parser()).items():
        for action in command._actions:
            if action.nargs is not None or not action.option_strings:
                continue
            option = max(action.option_strings, key=len)
            try:
                namespace, _ = command.parse_known_args([option, "-x1"])
                assert getattr(namespace, action.dest) in ("-x1", ["-x1"]) or action.type is not None, (name, option)
            except errors.ParseError as exc:
                message = str(exc)  # the option's own type refusing '-x1', or a required argument missing after it
                assert "expected one argument" not in message and (option in message or "required" in message), \
                    (name, option, message)
            checked += 1
    assert checked > 60


def test_an_option_is_never_taken_as_a_value(capsys):
    """``--target --json`` is a missing value (one line, exit 2), not the target '--json'."""
    got, out, err = run(capsys, "claim", "relu(x)", "--target", "--json")
    assert got == 2 and "--target: expected one argument" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as stop:  # -h still asks for help after an option's value
        cli.main(["claim", "relu(x)", "--target", "-x", "-h"])
    assert stop.value.code == 0 and "--target" in capsys.readouterr().out


# -- a missing model file -------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["check", "/nonexist.onnx", "--target", "x"],
    ["simplify", "/nonexist.onnx"],
    ["explain", "/nonexist.onnx"],
    ["vnnlib", "/nonexist.onnx", "p.vnnlib"],
    ["equiv", "/nonexist.onnx", "relu(x)", "--domain", "[-1, 1]"],
    ["certify", "c.json", "--model", "/nonexist.onnx"],
], ids=lambda argv: argv[0])
def test_a_missing_model_file_says_no_such_file(capsys, argv):
    got, out, err = run(capsys, *argv)
    assert got == 2 and out == ""
    assert err.startswith("mathcircuits: error: ") and err.count("\n") == 1, err
    assert err.rstrip().endswith("no such file: /nonexist.onnx"), err


# -- help texts ----------------------------------------------------------------------------------
_COMMANDS = sorted(_subparsers(cli.build_parser()))
@pytest.mark.parametrize("name", _COMMANDS)
def test_every_argument_has_a_help_text(name):
    command = _subparsers(cli.build_parser())[name]
    missing = [str(action.option_strings or action.dest) for action in command._actions
               if not (action.help or "").strip()]
    assert missing == []


@pytest.mark.parametrize("name", ["", *_COMMANDS])
def test_every_help_lists_the_exit_codes(name):
    """Every help ends with its exit codes: the shared block (0-4), or a command's own prose
    (equiv, extract: the codes it can return)."""
    parser = cli.build_parser()
    text = (_subparsers(parser)[name] if name else parser).format_help()
    assert "exit codes" in text and "2 bad input" in " ".join(text.split())
    if "exit codes:\n" in text:
        codes = text[text.index("exit codes:\n"):]
        assert all(f"\n  {code}  " in codes for code in "01234"), codes


# -- sympy spellings in the whitelist parser --------------------------------------------------------
@pytest.mark.parametrize("sympy_text,ours", [
    ("Piecewise((1, x < 10), (0, True))", "[x < 10]"),
    ("Piecewise((x, x > 0), (-x, True))", "if(x > 0, x, -x)"),
    ("Min(x, y) + Max(x, y)", "min(x, y) + max(x, y)"),
    ("Abs(x) - Heaviside(x)", "abs(x) - heaviside(x)"),
    ("Mod(x, 3) + floor(x) + ceiling(x)", "mod(x, 3) + floor(x) + ceil(x)"),
    ("Rational(1, 3)*x + Rational(-2)", "x/3 - 2"),
    ("Rational(3, 6)", "1/2"),
])
def test_sympy_spellings_are_accepted(sympy_text, ours):
    from proofs.text_to_expr import parse_expression

    assert parse_expression(sympy_text) == parse_expression(ours)


@pytest.mark.parametrize("text,message", [
    ("Rational(x, 3)", "Rational() takes exact numbers"),
    ("Rational(1, 0)", "division by zero"),
    ("Rational(1, 2, 3)", "takes 1 or 2 arguments"),
    ("sqrt(x)", "unknown function 'sqrt'"),
])
def test_sympy_spellings_refuse_what_is_not_exact(capsys, text, message):
    got, out, err = run(capsys, "claim", "relu(x)", "--target", text)
    assert got == 2 and message in err and err.count("\n") == 1, err


def test_a_piecewise_without_a_true_branch_is_refused_where_it_is_partial(capsys):
    """Partial targets are bad input: one line, exit 2, naming where no piece holds. On a domain
    where a piece always holds the target is total, and the claim is decided."""
    got, out, err = run(capsys, "claim", "relu(x)", "--target", "Piecewise((1, x < 10))", "--domain", "x in {0..20}")
    assert got == 2 and "undefined at x = 10" in err and err.count("\n") == 1, err
    got, out, err = run(capsys, "claim", "relu(x)", "--target", "Piecewise((x, x < 10))", "--domain", "x in {0..9}")
    assert got == 0, err


def test_the_text_parser_modules_stay_short():
    for name in ("text_to_expr", "text_to_tokens", "expr_vocabulary", "cli", "cli_check", "cli_explain"):
        assert len((ROOT / "proofs" / f"{name}.py").read_text().splitlines()) <= 400, name


# -- the exhaustive method's evidence ------------------------------------------------------------
def test_exhaustive_evidence_names_the_failing_point_by_value(capsys):
    got, out, err = run(capsys, "claim", "relu(x - 18)", "--target", "Piecewise((0, x < 19), (2, True))",
                        "--domain", "x in {0..30}", "--json")
    data = json.loads(out)
    assert got == 1 and data["method"] == "exhaustive"
    assert "fails at x = 19: N = 1, target = 2" in data["evidence"] and "failed at point" not in data["evidence"]


# -- numbers people can read ----------------------------------------------------------------------
def test_readable_numbers_show_a_decimal_and_the_exact_fraction():
    from symbolic.printing import readable

    long = Fraction(22637123456789012731, 1125812345678901234624)
    assert readable(long) == "0.02011 (22637...731/11258...624)"
    assert readable(Fraction(1, 3)) == "0.3333 (1/3)" and readable(Fraction(-7, 4)) == "-1.75 (-7/4)"
    assert readable(Fraction(5)) == "5" and readable(str(long)) == readable(long)
    assert readable(Fraction(1, 10**400)).startswith("1.000e-400 (1/10000...000)")


# -- simplify and check --round: one rounding rule ------------------------------------------------
BENCH = ROOT.parent / "shared" / "bench" / "models"
#: Bench models whose two rounding searches take 1-25 s: run with MATHCIRCUITS_ALL_BENCH=1 (all agree).
_SLOW = {"mlp_16x16.json", "mlp_32x32.json", "mlp_w64.json", "mlp_w32.json", "mlp_w16.json", "mlp_8x8.json"}
_MODELS = sorted((ROOT / "networks" / "trained").glob("*.json")) + [
    pytest.param(p, marks=pytest.mark.skipif(p.name in _SLOW and not os.environ.get("MATHCIRCUITS_ALL_BENCH"),
                                             reason="slow: MATHCIRCUITS_ALL_BENCH=1 runs it"))
    for p in sorted(BENCH.glob("*.json")) if p.name != "index.json"]


@pytest.mark.parametrize("model", _MODELS, ids=lambda p: getattr(p, "name", str(p)))
def test_simplify_and_check_round_give_the_same_circuit(capsys, model):
    """The same file and claim give the same rounding (closed form, bound, every attempt) through
    ``simplify --target`` and ``check --round``: both run verify.rounding.simplest_rounding."""
    meta = json.loads(model.read_text()).get("metadata") or {}
    claim = ["--target", meta.get("target", "min(x1, x2)"), "--domain", meta.get("domain", "[-1, 1]^2")]
    code, out, err = run(capsys, "simplify", model, *claim, "--tolerance", "0", "--json")
    simplified = json.loads(out)
    code, out, err = run(capsys, "check", model, *claim, "--round", "--json")
    checked = json.loads(out)
    for key in ("rounded_expression", "denominator", "rounding_attempts"):
        assert simplified[key] == checked[key], (key, simplified[key], checked[key])
    assert (code == 1 or checked["verdict"] == "proved") and err == ""


def test_simplify_without_a_target_proves_the_rounding_close_to_the_file(capsys):
    code, out, err = run(capsys, "simplify", ROOT / "networks" / "trained" / "minimum_seed0.json", "--json")
    data = json.loads(out)
    assert code == 0 and data["rounded_expression"] == "Min(x1, x2)" and data["denominator"] == 1
    assert data["claim"] == "|N - N_file| <= 1/100" and data["proved_by"] == "regions"
    assert 0 < Fraction(data["rounding_error"]) <= Fraction(1, 100)


# -- reports of a user's claims ----------------------------------------------------------------
def test_claim_reports_are_named_by_content_and_never_overwrite_each_other(capsys, tmp_path):
    folder = tmp_path / "r"
    first = ["claim", "relu(x)", "--target", "x", "--domain", "[-1, 1]", "--report", folder]
    second = ["claim", "relu(x)", "--target", "relu(x)", "--domain", "[-1, 1]", "--report", folder]
    assert run(capsys, *first)[0] == 1 and run(capsys, *second)[0] == 0
    pages = sorted(p.stem for p in (folder / "theorems").glob("*.html"))
    assert len(pages) == 2 and all(p.startswith("claim-") for p in pages)
    doc = json.loads((folder / "catalogue.json").read_text())
    assert sorted(e["page"] for e in doc["theorems"]) == [f"theorems/{p}" for p in pages]
    assert doc["counts"] == {"proved": 1, "refuted": 1, "unknown": 0}
    index = (folder / "index.html").read_text()
    assert all(f'href="theorems/{p}.html"' in index for p in pages) and "2 claims" in index
    assert run(capsys, *first)[0] == 1  # the same claim again: its own page, no third one
    assert len(list((folder / "theorems").glob("*.html"))) == 2
    assert len(json.loads((folder / "catalogue.json").read_text())["theorems"]) == 2


def test_a_check_index_states_the_users_verdict(capsys, tmp_path):
    model = ROOT / "networks" / "trained" / "minimum_seed0.json"
    code, out, err = run(capsys, "check", model, "--target", "min(x1, x2)", "--domain", "[-1, 1]^2",
                         "--report", tmp_path / "r")
    assert code == 1, err
    index, md = (tmp_path / "r" / "index.html").read_text(), (tmp_path / "r" / "index.md").read_text()
    for text in (index, md):
        assert "the catalogue" not in text and "as expected" not in text
        assert "refuted" in text and "the claim is violated" in text
    page = next((tmp_path / "r" / "theorems").glob("minimum_seed0-*.html")).read_text()
    assert "All claims" in page and "Catalogue" not in page


def test_report_pages_show_exact_numbers_readably(capsys, tmp_path):
    model = ROOT / "networks" / "trained" / "minimum_seed0.json"
    run(capsys, "check", model, "--target", "min(x1, x2)", "--domain", "[-1, 1]^2", "--report", tmp_path)
    stem = next((tmp_path / "theorems").glob("minimum_seed0-*.json")).stem
    facts = json.loads((tmp_path / "theorems" / f"{stem}.json").read_text())
    x2 = facts["counterexample"]["point"]["x2"]
    assert "/" in x2 and len(x2) > 20  # JSON: the exact value, unchanged
    html = (tmp_path / "theorems" / f"{stem}.html").read_text()
    assert f'<code title="{x2}">4.629e-8 (7170803/15489...888)</code>' in html
    md = (tmp_path / "theorems" / f"{stem}.md").read_text()
    assert "4.629e-8 (7170803/15489...888)" in md and "9.255e-6 (24628...887/26610...392)" in md


# -- wide diagrams fit the page ----------------------------------------------------------------------
def _drawn_extent(svg: str) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """The viewBox and the extent of every box and label drawn (text width estimated generously)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    x0, y0, w, h = (float(v) for v in root.get("viewBox").split())
    xs, ys = [], []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "rect":
            x, y, rw, rh = (float(el.get(k)) for k in ("x", "y", "width", "height"))
            xs += [x, x + rw]
            ys += [y, y + rh]
        elif tag == "text":
            size = float(el.get("font-size", 12))
            width = 0.6 * size * len(el.text or "")
            left = float(el.get("x")) - (width / 2 if el.get("text-anchor") == "middle" else 0)
            xs += [left, left + width]
            ys += [float(el.get("y")) - size, float(el.get("y")) + 3]
    return (x0, y0, x0 + w, y0 + h), (min(xs), min(ys), max(xs), max(ys))


@pytest.mark.parametrize("name", ["is_even", "is_even_8bit", "minimum_of_four", "min_via_relu", "equation_one"])
def test_the_viewbox_covers_everything_drawn(name):
    from networks import library
    from symbolic.circuit_to_svg import active_when, circuit_svg

    circuit = library.make_is_even(8) if name == "is_even_8bit" else getattr(library, f"make_{name}")()
    (vx0, vy0, vx1, vy1), (x0, y0, x1, y1) = _drawn_extent(circuit_svg(circuit, active_when(circuit)))
    assert vx0 <= x0 and vy0 <= y0 and x1 <= vx1 and y1 <= vy1, ((vx0, vy0, vx1, vy1), (x0, y0, x1, y1))


def test_a_wide_diagram_scales_to_the_page(tmp_path):
    import re

    from proofs import report
    from proofs.report_templates import CSS

    report.report_for(["is_even_4bit"], tmp_path)
    page = (tmp_path / "theorems" / "is_even_4bit.html").read_text()
    svg = re.search(r'<div class="scroll">(<svg [^>]*>)', page).group(1)
    drawn = float(re.search(r' width="([0-9.]+)"', svg).group(1))
    assert drawn > 1100  # wider than the page's text column (74rem)
    style = re.search(r'style="([^"]*)"', svg).group(1)
    assert "width:100%" in style and "height:auto" in style and f"max-width:{drawn:.0f}px" in style
    assert float(re.search(r"min-width:([0-9.]+)px", style).group(1)) < 1100  # fits a 74rem column
    assert ".scroll{overflow-x:auto" in CSS and "math[display=block]{" in CSS and "overflow-x:auto" in CSS
    standalone = (tmp_path / "theorems" / "is_even_4bit.circuit.svg").read_text()
    assert standalone.startswith("<svg xmlns=") and "viewBox=" in standalone  # the file keeps its own size


def test_long_closed_forms_wrap():
    import sympy as sp

    from proofs.result_to_page import wrapped
    from symbolic.relu import ReLU, sym

    x = sym("x")
    long = sum(sp.Rational(k, 7) * ReLU(x - k) for k in range(1, 40))
    lines = wrapped(sp.Function("N")(x), long)
    assert lines is not None and len(lines) >= 5 and lines[0].count("<mo>=</mo>") == 1
    assert wrapped(sp.Function("N")(x), ReLU(x) - x) is None  # a short one stays one formula


# -- the prove table (rich) -------------------------------------------------------------------------
def test_the_prove_table_is_plain_text_off_a_terminal_and_coloured_on_one(capsys):
    import io

    from proofs import catalogue, cli_prove
    from verify.decide import Config

    code, out, err = run(capsys, "prove", "identity", "step_on_R", "minimum_needs_three_neurons")
    assert code == 0 and "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0].split() == ["name", "statement", "domain", "verdict", "method", "s"]
    assert set(lines[1]) == {"-"}
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert "N(x) = [x < 10]" in rows["step_on_R"] and " refuted " in rows["step_on_R"]  # brackets kept
    assert lines[-1].startswith("3 theorems: 2 proved, 1 refuted, 0 unknown; all as expected")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    theorems = catalogue.select(["identity", "step_on_R"])
    rows, _ = cli_prove._run_theorems(theorems, Config(timeout_s=10), quiet=True)
    terminal = Terminal()
    cli_prove._print_table(rows, terminal)
    assert "\x1b[32mproved" in terminal.getvalue() and "\x1b[31mrefuted" in terminal.getvalue()


# -- notebook display ----------------------------------------------------------------------------
def test_a_circuit_shows_its_diagram_in_a_notebook():
    from symbolic.circuit import from_layers
    from symbolic.circuit_to_svg import MAX_NOTEBOOK_EDGES

    minimum = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)], inputs=["x1", "x2"])
    html = minimum._repr_html_()
    assert '<svg style="width:100%' in html and "R(x1 - x2)" in html and html.index("<svg") < html.index("<table>")
    wide = from_layers([([[1] * 50] * 50, None), ([[1] * 50], None)], inputs=[f"x{i}" for i in range(1, 51)])
    assert "<svg" not in wide._repr_html_() and f"more than {MAX_NOTEBOOK_EDGES}" in wide._repr_html_()


def test_symbolic_never_imports_proofs_verify_or_networks():
    """The data flows networks -> symbolic -> verify -> proofs: the drawing moved down into symbolic."""
    import ast

    for path in sorted((ROOT / "symbolic").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("proofs", "verify", "networks") for n in names), (path.name, names)
