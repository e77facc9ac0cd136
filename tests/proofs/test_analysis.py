"""Features, reconstructors, library matching, sub-circuits, ablation and editing with proofs."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import sympy as sp

from networks import library as lib
from proofs import analysis, cli
from symbolic import errors
from symbolic.circuit import from_layers
from symbolic.circuit_to_closed_form import closed_form
from symbolic.circuit_to_features import name_features, reconstructors
from symbolic.relu import sym
from verify.claim import Claim
from verify.decide import decide
from verify.result import Verdict

X1, X2 = sym("x1"), sym("x2")


@pytest.mark.parametrize("make,kinds", [
    (lib.make_minimum, ["positiveness", "negativeness", "greaterness"]),
    (lib.make_identity, ["positiveness", "negativeness"]),
    (lib.make_addition, ["detector", "detector"]),
    (lib.make_equation_one, ["greaterness", "greaterness"]),
    (lambda: lib.make_is_even(2), ["threshold", "threshold", "detector", "detector", "detector", "detector"]),
])
def test_feature_kinds_of_library_circuits(make, kinds):
    assert [f.kind for f in name_features(make())] == kinds


def test_a_neuron_matching_nothing_is_reported_unnamed():
    net = from_layers([([[1, 2]], [1]), ([[1]], None)])
    (feature,) = name_features(net)
    assert feature.kind == "unnamed" and not feature.named


def test_each_feature_name_is_a_proved_claim_about_the_trained_neuron():
    """h = c * R(direction) with c > 0, proved by z3 for a rescaled (trained-like) minimum."""
    net = from_layers([([[3, 0], [0, -0.5], [0.25, -0.25]], None), ([[1, 1, 1]], None)])
    for feature in name_features(net):
        assert feature.scale > 0
        sub = type(net)(net.inputs, tuple(a for a in net.assignments if a.name == feature.neuron), (feature.neuron,))
        assert decide(Claim(sub, feature.claim_expr())).verdict is Verdict.PROVED


def test_reconstructors_say_what_they_rebuild():
    (r,) = reconstructors(lib.make_absolute_value())
    assert r.rebuilds == sp.Abs(sym("x"))
    (r,) = reconstructors(lib.make_identity())
    assert r.rebuilds == sym("x")


def test_library_matching_finds_min_and_its_mirror():
    mirror = lib.make_min_via_relu(("x2", "x1")).renamed({})  # x2 - R(x2 - x1), inputs (x2, x1)
    names = {m.name for m in analysis.match_library(mirror)}
    assert {"minimum", "min_via_relu", "equation_one"} <= names
    assert not analysis.match_library(lib.make_wrong_minimum(("x1", "x2")))


def test_rescaled_minimum_is_same_shape_as_library_minimum():
    net = from_layers([([[2, 0], [-3, 0], [0.5, -0.5]], None), ([[0.5, Fraction(-1, 3), -2]], None)])
    (first, *_) = analysis.match_library(net)
    assert first.name == "minimum" and first.same_shape


def test_dropping_the_greaterness_detector_leaves_the_identity_on_x1():
    form, proof = analysis.explain(analysis.ablate(lib.make_minimum(), "h3"))
    assert form == X1 and proof.verdict is Verdict.PROVED


def test_editing_a_weight_gives_a_proved_new_closed_form():
    edited = analysis.edit(lib.make_minimum(), "y", "h3", 1)
    form, proof = analysis.explain(edited)
    assert proof.verdict is Verdict.PROVED
    assert decide(Claim(edited, sp.Max(X1, 2 * X1 - X2))).verdict is Verdict.PROVED
    assert closed_form(analysis.edit(lib.make_minimum(), "h3", "bias", 1)) != closed_form(lib.make_minimum())


def test_bad_edits_are_clear_errors():
    with pytest.raises(errors.InvalidCircuitError, match="not a hidden neuron"):
        analysis.ablate(lib.make_minimum(), "nope")
    with pytest.raises(errors.InvalidCircuitError, match="not defined before"):
        analysis.edit(lib.make_minimum(), "h1", "h3", 1)


def test_sub_circuits_of_minimum_of_four():
    found = analysis.sub_circuits(lib.make_minimum_of_four())
    assert any(line.startswith("Min(x1, x2) via") for line in found)
    assert any(line.startswith("Min(x3, x4) via") for line in found)


def test_explain_cli_json(capsys):
    code = cli.main(["explain", "relu(x1) - relu(-x1) - relu(x1 - x2)", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["closed_form"] == "Min(x1, x2)" and data["closed_form_verdict"] == "proved"
    assert {f["kind"] for f in data["features"]} == {"positiveness", "negativeness", "greaterness"}
    assert any(m.startswith("minimum(x1, x2)") for m in data["library_matches"])


def test_explain_cli_bad_set_is_one_line(capsys):
    assert cli.main(["explain", "relu(x)", "--set", "h1=3"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
