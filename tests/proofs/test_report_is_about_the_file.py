"""Issue 12: for every shipped and bench model, a `check --round --report` page's facts are the file's.

The weights hash is the hash of the file's network as loaded, the counterexample's network value is
the file's network evaluated exactly at the point, and the worst-case error is the file's own exact
worst case (computed here independently), whether or not a rounding satisfies the claim.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import pytest

from networks import json_to_circuit
from networks.model_files import load_model
from proofs import cli
from proofs.text_to_domain import parse_domain
from proofs.text_to_expr import parse_expression
from verify.worst_case import max_error

REPO = Path(__file__).resolve().parents[2]
TRAINED = sorted((REPO / "networks" / "trained").glob("*.json"))
BENCH = sorted((REPO.parent / "shared" / "bench" / "models").glob("*.json"))
BENCH = [p for p in BENCH if p.name != "index.json"]


def _claim_of(path: Path) -> tuple[str, str]:
    """The target and a bounded domain the model is meant for."""
    if path.parent.name == "trained":
        from networks.recipes import RECIPES

        meta = json.loads(path.read_text())["metadata"]
        recipe = RECIPES[meta["recipe"]]
        if recipe.name == "is_even":
            return recipe.target, recipe.domain
        return recipe.target, "[-1, 1]^" + str(len(recipe.inputs))
    return "min(x1, x2)", "[-1, 1]^2"


def _report_json(folder: Path) -> dict:
    pages = list((folder / "theorems").glob("*.json"))
    assert len(pages) == 1, pages
    return json.loads(pages[0].read_text())


@pytest.mark.parametrize("path", TRAINED + BENCH, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_check_report_states_the_files_own_facts(path, tmp_path, capsys):
    target, domain = _claim_of(path)
    code = cli.main(["check", str(path), "--target", target, "--domain", domain, "--round",
                     "--report", str(tmp_path / "report"), "--json", "--timeout", "60"])
    capsys.readouterr()
    assert code in (0, 1), code
    page = _report_json(tmp_path / "report")
    network = load_model(path)
    assert page["circuit"]["weights_sha256"] == hashlib.sha256(json_to_circuit.dumps(network).encode()).hexdigest()
    assert page["about"] == "the network as given"
    cex = page["counterexample"]
    if cex is not None:
        point = {k: Fraction(v) for k, v in cex["point"].items()}
        assert Fraction(cex["network_value"]) == network.evaluate(point)[0]
    expr = parse_expression(target)
    worst = max_error(network, expr, parse_domain(domain, list(network.inputs)))
    assert worst.value is not None
    assert Fraction(page["trained"]["max_error"]) == worst.value
    assert page["verdict"] == ("proved" if worst.value == 0 else "refuted")
