"""Fixes a new user hit (issue 12, item 5) and numbers people can read (item 4): each test fails
without its fix."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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
#: proofs/cli_training.py is another helper's file (issue 12): its train --seed and --out have no help yet.
_NOT_MINE = {"train"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason="train --seed/--out: "
                                                                       "proofs/cli_training.py, not this task's"))
                                  if n in _NOT_MINE else n for n in _COMMANDS])
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
