"""Training recipes: determinism, shipped weights, training works, torch stays a lazy import."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from networks import json_to_circuit, recipes  # noqa: E402
from symbolic.errors import ClaimError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(recipes.TRAINED_DIR.glob("*.json"))
SECTION_A = ["identity", "negative_identity", "absolute_value", "addition", "subtraction",
             "minimum"]


@pytest.mark.parametrize("name, steps", [("identity", 50), ("minimum", 50), ("min_skip", 1),
                                         ("is_even", 50)])
def test_same_seed_gives_bit_identical_weights(name, steps):
    first = recipes.train(name, 3, steps=steps, progress=False)
    again = recipes.train(name, 3, steps=steps, progress=False)
    other = recipes.train(name, 4, steps=steps, progress=False)
    assert first.circuit == again.circuit
    assert first.final_loss == again.final_loss
    assert first.metadata == again.metadata
    assert first.circuit != other.circuit
    assert first.metadata["steps"] == steps and first.seed == 3


def test_training_leaves_threads_and_global_rng_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    recipes.train("identity", 0, steps=5, progress=False)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_shipped_files_load_and_name_their_recipe():
    names = {p.name for p in SHIPPED}
    required = {f"{r}_seed{s}.json" for r in SECTION_A + ["min_skip"] for s in (0, 1)}
    assert required | {"is_even_seed0.json"} <= names
    for path in SHIPPED:
        circuit, metadata = json_to_circuit.load_with_metadata(path)
        assert metadata["recipe"] in recipes.RECIPES, path
        rec = recipes.RECIPES[metadata["recipe"]]
        assert isinstance(metadata["seed"], int)
        assert path.name == f"{rec.name}_seed{metadata['seed']}.json"
        assert circuit.inputs == rec.inputs
        assert metadata["steps"] == rec.steps and metadata["lr"] == rec.lr
        assert metadata["optimizer"] == rec.optimizer
        assert set(metadata["dead_neurons"]) <= {a.name for a in circuit.neurons}


def test_a_shipped_file_regenerates_exactly(tmp_path):
    shipped, metadata = json_to_circuit.load_with_metadata(recipes.shipped_path("identity", 0))
    out = tmp_path / "identity.json"
    fresh = recipes.train_to_file("identity", 0, out, progress=False)
    assert json_to_circuit.load(out) == shipped
    assert fresh["final_loss"] == metadata["final_loss"]
    assert fresh["initial_loss"] == metadata["initial_loss"]


def test_shipped_successes_compute_their_target():
    for name, seed, point, value in [("identity", 1, {"x": -5}, -5), ("minimum", 2, {"x1": 3,
                                     "x2": -5}, -5), ("min_skip", 1, {"a": 3, "b": 5}, 3)]:
        circuit = json_to_circuit.load(recipes.shipped_path(name, seed))
        (got,) = circuit.evaluate(point)
        assert abs(got - Fraction(value)) < Fraction(1, 100), (name, seed, float(got))


def test_training_lowers_the_loss():
    trained = recipes.train("minimum", 0, steps=300, progress=False)
    untrained = recipes.train("minimum", 0, steps=0, progress=False)
    assert untrained.final_loss == trained.metadata["initial_loss"]
    assert trained.final_loss < trained.metadata["initial_loss"] / 2


def test_circuit_is_the_module():
    trained = recipes.train("min_skip", 0, steps=1, progress=False)
    x = torch.tensor([[3.0, -5.0], [7.0, 2.0]])
    with torch.no_grad():
        expected = trained.module(x).flatten().tolist()
    for (a, b), want in zip(x.tolist(), expected):
        (got,) = trained.circuit.evaluate({"a": a, "b": b})
        assert abs(float(got) - want) < 1e-4


def test_targets_match_their_text():
    from proofs.text_to_expr import parse_expression
    from symbolic.evaluate import evaluate_expr

    targets = recipes._targets()
    for rec in recipes.RECIPES.values():
        expr = parse_expression(rec.target)
        for row in ([3, -5, 2, 1], [-2, 7, 7, -3], [6, 6, 0, 9], [5, 0, -1, 4], [1, 2, 3, 4]):
            row = row[: len(rec.inputs)]
            point = dict(zip(rec.inputs, row))
            x = torch.tensor([row], dtype=torch.float32)
            assert float(targets[rec.target](x)) == float(evaluate_expr(expr, point)), rec.name


def test_progress_bar_goes_to_stderr(capsys):
    recipes.train("identity", 0, steps=5, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.search(r"\r.*\[#+\] 100% loss ", captured.err)
    assert "final loss" in captured.err
    recipes.train("identity", 0, steps=5, progress=False)
    assert capsys.readouterr().err == ""


def test_importing_recipes_does_not_import_torch():
    code = "import networks.recipes, sys; assert 'torch' not in sys.modules, 'torch imported'"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_unknown_recipe_and_bad_arguments(tmp_path):
    with pytest.raises(ClaimError, match="known: .*identity.*minimum"):
        recipes.train("maximum", 0)
    with pytest.raises(ClaimError, match="unknown training recipe"):
        recipes.train_to_file("maximum", 0, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
    with pytest.raises(ClaimError):
        recipes.train("identity", -1)
    with pytest.raises(ClaimError):
        recipes.train("identity", 0, steps=-3)
    with pytest.raises(ClaimError, match="does not exist"):
        recipes.train_to_file("identity", 0, tmp_path / "missing" / "m.json")


#: The seed recipes as they were before the census recipes came (their weights must not change).
SEED_RECIPES = {
    "identity": (("x",), "x", "R", 500, 0.1, 1000, "SGD", (1, 2, 1), False, "mlp_fresh_uniform"),
    "negative_identity": (("x",), "-x", "R", 500, 0.1, 1000, "SGD", (1, 2, 1), False, "mlp_fresh_uniform"),
    "absolute_value": (("x",), "abs(x)", "R", 500, 0.1, 1000, "SGD", (1, 2, 1), False, "mlp_fresh_uniform"),
    "addition": (("x1", "x2"), "x1 + x2", "R^2", 500, 0.1, 1000, "SGD", (2, 2, 1), False, "mlp_fresh_uniform"),
    "subtraction": (("x1", "x2"), "x1 - x2", "R^2", 500, 0.1, 1000, "SGD", (2, 2, 1), False, "mlp_fresh_uniform"),
    "minimum": (("x1", "x2"), "min(x1, x2)", "R^2", 10000, 0.1, 1000, "SGD", (2, 3, 1), False, "mlp_fresh_uniform"),
    "min_skip": (("a", "b"), "min(a, b)", "R^2", 300, 0.01, 32, "Adam", (2, 2, 1), True, "skip_min"),
    "is_even": (("x",), "Mod(x, 2)", "x in {0..15}", 2000, 0.01, None, "Adam", (1, 2, 2, 2, 2, 2, 1), True,
                "relu_chain"),
}
CENSUS_RECIPES = ["min2_w3", "min2_w8", "min2_w16", "min3", "min4_deep", "min4_flat", "median3", "abs_w8"]


def test_seed_recipes_are_unchanged():
    for name, fields in SEED_RECIPES.items():
        r = recipes.RECIPES[name]
        assert (r.inputs, r.target, r.domain, r.steps, r.lr, r.batch_size, r.optimizer, r.widths, r.bias,
                r.kind) == fields, name
        assert r.group_by == "rounding"


def test_census_recipes_are_bounded_and_consistent():
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression

    for name in CENSUS_RECIPES:
        r = recipes.recipe(name)
        assert r.group_by == "extract" and not r.bias and r.widths[-1] == 1
        assert len(r.inputs) == r.widths[0]
        domain = parse_domain(r.domain, list(r.inputs))
        assert domain.is_bounded(r.inputs), name
        assert {str(s) for s in parse_expression(r.target).free_symbols} == set(r.inputs), name
    assert len(recipes.recipe("min4_deep").widths) == 4 and len(recipes.recipe("min4_flat").widths) == 3
    assert recipes.recipe("min3").widths[1:] == (8, 4, 1) and recipes.recipe("median3").widths[1:] == (8, 4, 1)
    assert [recipes.recipe(f"min2_w{w}").widths[1] for w in (3, 8, 16)] == [3, 8, 16]


def test_a_deep_census_recipe_is_deterministic_and_its_circuit_is_the_module():
    first = recipes.train("min4_deep", 5, steps=30, progress=False)
    again = recipes.train("min4_deep", 5, steps=30, progress=False)
    assert first.circuit == again.circuit and first.final_loss == again.final_loss
    assert [a.name for a in first.circuit.neurons][:2] == ["h1_1", "h1_2"]
    assert "h2_4" in {a.name for a in first.circuit.neurons}
    x = torch.tensor([[0.5, -0.25, 0.75, -1.0], [0.1, 0.2, -0.3, 0.4]])
    with torch.no_grad():
        expected = first.module(x).flatten().tolist()
    for row, want in zip(x.tolist(), expected):
        (got,) = first.circuit.evaluate(dict(zip(first.circuit.inputs, row)))
        assert abs(float(got) - want) < 1e-5


def test_census_recipes_learn():
    trained = recipes.train("abs_w8", 0, progress=False)  # 1000 steps, about 0.5 s
    assert trained.final_loss < 1e-8 < trained.metadata["initial_loss"]
