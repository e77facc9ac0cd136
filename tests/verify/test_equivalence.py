"""Equivalence of two networks: verdicts against exact distances, replayed counterexamples, certified
proofs on 3-input models, name hygiene of the difference circuit, and mismatched networks refused."""

from __future__ import annotations

import random
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from networks.model_files import load_model
from symbolic import errors
from symbolic.circuit import Activation, Assignment, Builder, Circuit, from_layers, to_exact, to_fraction
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_rounded import round_weights
from verify import certificate
from verify.decide import Config
from verify.domain import Domain, IntegerRange, RealInterval
from verify.equivalence import difference_circuit, equivalence, match_inputs
from verify.result import Verdict
from verify.worst_case import max_error

REPO = Path(__file__).resolve().parents[2]
SHARED_MODEL = REPO.parent / "shared" / "bench" / "models" / "mlp_w8.json"
TWO_INPUT_MODELS = [
    REPO / "networks" / "trained" / "minimum_seed0.json",
    pytest.param(SHARED_MODEL, marks=pytest.mark.skipif(not SHARED_MODEL.exists(),
                                                         reason="../shared/bench/models is not beside the repository")),
]
MIN3 = REPO / "bench" / "models" / "min3_16.json"
needs_min3 = pytest.mark.skipif(not MIN3.exists(), reason="bench/models/min3_16.json is missing")
CONFIG = Config(timeout_s=30)


def box(names, lo=-1, hi=1) -> Domain:
    return Domain({n: RealInterval(lo, hi) for n in names})


def perturbed(net: Circuit, name: str, delta: float = 1e-3) -> tuple[Circuit, F]:
    """``net`` with the first weight of ``name`` moved by ``delta``, rounded to float32 as a trained
    network would hold it; also the exact change."""
    out, change = [], None
    for a in net.assignments:
        if a.name == name:
            source, old = a.terms[0]
            new = to_exact(np.float32(float(old) + delta))
            change = to_fraction(new - old)
            a = Assignment(a.name, ((source, new), *a.terms[1:]), a.bias, a.activation)
        out.append(a)
    return Circuit(net.inputs, tuple(out), net.outputs), change


def assert_refuted_exactly(outcome, first: Circuit, second: Circuit, domain: Domain, eps: F) -> None:
    """The counterexample lies in the domain and both networks, evaluated here, differ by more than eps."""
    assert outcome.verdict is Verdict.REFUTED
    point = outcome.result.counterexample.point
    assert domain.contains(point)
    one, two = first.evaluate(point)[0], second.evaluate(point)[0]
    assert (one, two) == (outcome.first_value, outcome.second_value)
    assert abs(one - two) > eps
    assert outcome.result.counterexample.network_value == one - two


# -- a 2-input trained model against its copies and its roundings --------------------------------------
@pytest.mark.parametrize("path", TWO_INPUT_MODELS)
def test_a_trained_model_equals_its_canonical_form_and_a_renamed_copy(path):
    net = load_model(path)
    domain = box(net.inputs)
    canonical = canonicalize(net)
    outcome = equivalence(net, canonical, domain, 0, CONFIG)
    assert outcome.verdict is Verdict.PROVED and outcome.result.method == "regions"
    assert outcome.distance.value == 0
    renamed = net.renamed({a.name: f"copy_{a.name}" for a in net.assignments})
    outcome = equivalence(net, renamed, domain, 0, CONFIG)
    assert outcome.verdict is Verdict.PROVED and outcome.distance.value == 0
    assert outcome.difference.neurons == ()  # every neuron shared: d = 0


@pytest.mark.parametrize("path", TWO_INPUT_MODELS)
def test_a_rounding_is_within_its_exact_distance_and_not_within_less(path):
    net = load_model(path)
    domain = box(net.inputs)
    rounded = round_weights(canonicalize(net), 16)  # what `check --round` decides for the bound 16
    first = equivalence(net, rounded, domain, 0, CONFIG)
    distance = first.distance.value
    assert distance > 0 and first.distance.method == "regions"
    assert max_error(net, rounded, domain).value == distance  # the distance of the two networks as given
    assert_refuted_exactly(first, net, rounded, domain, F(0))
    proved = equivalence(net, rounded, domain, distance, CONFIG)
    assert proved.verdict is Verdict.PROVED and proved.result.method == "regions"
    below = distance - distance / 10**6
    refuted = equivalence(net, rounded, domain, below, CONFIG)
    assert_refuted_exactly(refuted, net, rounded, domain, below)
    assert refuted.result.method == "regions"


# -- 3 inputs: falsification and branch and bound with a certificate -----------------------------------
@needs_min3
@pytest.mark.parametrize("name", ["h1_1", "y"])
def test_a_perturbed_copy_of_a_3_input_model_is_refuted_below_and_certified_above_its_exact_effect(name):
    net = load_model(MIN3)
    copy, change = perturbed(net, name)
    domain = box(net.inputs)
    if name == "y":  # d = change * h, and max h on the box is |w|_1 + b for a first-layer ReLU
        h = net.by_name[net.assignments[-1].terms[0][0]]
        effect = abs(change) * (sum(abs(to_fraction(c)) for _, c in h.terms) + to_fraction(h.bias))
    else:  # d = v (R(z) - R(z + change * x1)): at most |v| |change|, reached where both are active
        effect = abs(change * to_fraction(net.assignments[-1].coefficient(name)))
    proved = equivalence(net, copy, domain, effect, CONFIG)
    assert proved.verdict is Verdict.PROVED, proved.result.reason
    assert proved.result.method == "bab" and proved.distance is None
    assert certificate.check(proved.result.certificate).ok
    below = effect * F(99, 100)
    refuted = equivalence(net, copy, domain, below, CONFIG)
    assert_refuted_exactly(refuted, net, copy, domain, below)
    assert refuted.result.method in ("falsification", "bab")


@needs_min3
def test_shared_neurons_leave_only_the_edited_ones_in_the_difference():
    net = load_model(MIN3)
    copy, _ = perturbed(net, "h1_1")
    shared = difference_circuit(net, copy)
    assert len(shared.neurons) == 2  # h1_1 of each network; the other 15 cancel in d
    apart = difference_circuit(net, copy, share=False)
    assert len(apart.neurons) == 32
    rng = random.Random(1)
    for _ in range(20):
        point = {n: F(rng.randint(-1000, 1000), 1000) for n in net.inputs}
        value = net.evaluate(point)[0] - copy.evaluate(point)[0]
        assert shared.evaluate(point) == apart.evaluate(point) == (value,)


@pytest.mark.parametrize("other,neurons", [
    (Assignment("h2", (("x2", 1),), 1), 2),                                    # another bias
    (Assignment("h2", (("x2", 1),), 0, Activation.LINEAR), 1),                 # another activation
    (Assignment("h2", (("x2", 2),), 0), 2),                                    # another weight
    (Assignment("h2", (("x2", 1),), 0), 0),                                    # the same neuron: shared
])
def test_only_identical_neurons_are_shared(other, neurons):
    """h1 is the same in both networks, so it cancels in d; h2 does only if it is the same too."""
    one = Circuit(("x1", "x2"), (Assignment("h1", (("x1", 1),)), Assignment("h2", (("x2", 1),)),
                                 Assignment("y", (("h1", 1), ("h2", 1)), 0, Activation.LINEAR)), ("y",))
    two = Circuit(one.inputs, (one.assignments[0], other, one.assignments[2]), ("y",))
    diff = difference_circuit(one, two)
    assert len(diff.neurons) == neurons
    for point in ({"x1": F(1), "x2": F(-1, 2)}, {"x1": F(-3), "x2": F(2)}):
        assert diff.evaluate(point)[0] == one.evaluate(point)[0] - two.evaluate(point)[0]


# -- names -----------------------------------------------------------------------------------------------
def hostile_net(inputs, names, rng: random.Random) -> Circuit:
    """A random 2-layer ReLU net whose neurons and output take the given names."""
    b = Builder(inputs)
    hidden = [b.relu({n: rng.randint(-3, 3) for n in inputs}, rng.randint(-2, 2), name=name) for name in names[:-1]]
    out = b.linear({h: rng.randint(-3, 3) for h in hidden}, rng.randint(-1, 1), name=names[-1])
    return b.build([out])


@pytest.mark.parametrize("inputs,names1,names2", [
    (("x1", "x2"), ["h1", "h2", "y"], ["h1", "h2", "y"]),                            # the same names in both
    (("n1_h1", "n2_h1"), ["h1", "h2", "y"], ["h1", "h2", "y"]),                      # inputs named like renamed neurons
    (("d", "n1_y"), ["n2_h1", "n2_y", "y"], ["n1_h1", "n1_y_", "y"]),                # prefixes of the other network
    (("n1__h", "n1_h"), ["h", "_h", "d"], ["h", "d_", "d"]),                          # growing prefixes, the output name
])
def test_the_difference_circuit_never_confuses_two_names(inputs, names1, names2):
    rng = random.Random(7)
    for _ in range(5):
        one, two = hostile_net(inputs, names1, rng), hostile_net(inputs, names2, rng)
        for share in (True, False):
            diff = difference_circuit(one, two, share)
            assert diff.inputs == inputs
            for _ in range(10):
                point = {n: F(rng.randint(-20, 20), 4) for n in inputs}
                assert diff.evaluate(point)[0] == one.evaluate(point)[0] - two.evaluate(point)[0]
        outcome = equivalence(one, two, box(inputs), 0, CONFIG)
        if outcome.verdict is Verdict.REFUTED:
            assert_refuted_exactly(outcome, one, two, box(inputs), F(0))
        assert outcome.verdict is not Verdict.UNKNOWN
        assert (outcome.verdict is Verdict.PROVED) == (outcome.distance.value == 0)


def test_inputs_with_other_names_are_matched_by_position_even_when_a_neuron_has_an_input_name():
    one = from_layers([([[1, -1], [0, 1]], None), ([[1, 1]], None)])        # R(x1 - x2) + R(x2), inputs x1, x2
    b = Builder(["a", "b"])
    x1 = b.relu({"a": 1, "b": -1}, name="x1")                               # a neuron called like N1's input
    x2 = b.relu({"b": 1}, name="x2")
    two = b.build([b.linear({x1: 1, x2: 1}, name="x1_out")])
    moved, matching = match_inputs(one, two)
    assert moved.inputs == ("x1", "x2") and matching == (("a", "x1"), ("b", "x2"))
    outcome = equivalence(one, two, box(("x1", "x2")), 0, CONFIG)
    assert outcome.verdict is Verdict.PROVED and outcome.matching == matching
    assert outcome.to_json()["inputs_matched_by_position"] == {"a": "x1", "b": "x2"}


# -- domains other than a box ------------------------------------------------------------------------------
def test_on_the_whole_plane_z3_decides_and_no_distance_is_claimed():
    absolute = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    identity = from_layers([([[1], [-1]], None), ([[1, -1]], None)])
    outcome = equivalence(absolute, identity, Domain(), F(1, 2), CONFIG)
    assert_refuted_exactly(outcome, absolute, identity, Domain(), F(1, 2))
    assert outcome.distance is None and "unbounded" in outcome.distance_note
    same = equivalence(identity, from_layers([([[1]], None)]), Domain(), 0, CONFIG)
    assert same.verdict is Verdict.PROVED


def test_an_integer_grid_is_checked_point_by_point_with_its_exact_distance():
    one = from_layers([([[1, 0], [0, 1]], None), ([[F(1, 2), F(1, 3)]], None)])
    two = from_layers([([[1, 0], [0, 1]], None), ([[F(1, 2), F(1, 4)]], None)])
    grid = Domain({"x1": IntegerRange(0, 9), "x2": IntegerRange(0, 9)})
    outcome = equivalence(one, two, grid, F(3, 4), CONFIG)  # the distance is x2 / 12 <= 9/12
    assert outcome.verdict is Verdict.PROVED and outcome.result.method == "exhaustive"
    assert outcome.distance.value == F(3, 4)
    assert_refuted_exactly(equivalence(one, two, grid, F(2, 3), CONFIG), one, two, grid, F(2, 3))


# -- what is refused ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("two,message", [
    (from_layers([([[1, 1, 1]], None)]), "reads 2 inputs (x1, x2), the second 3"),
    (from_layers([([[1, 1]], None)], inputs=["x2", "z"]), "share the input names x2"),
    (from_layers([([[1, 1], [1, -1]], None)]), "has 2 outputs (y1, y2)"),
])
def test_networks_with_other_inputs_or_several_outputs_are_refused_by_name(two, message):
    one = from_layers([([[1, -1]], None)])
    with pytest.raises(errors.ClaimError, match=message.replace("(", r"\(").replace(")", r"\)")):
        equivalence(one, two, box(one.inputs), 0, CONFIG)


def test_a_budget_spent_before_deciding_is_a_timeout_not_a_verdict():
    from symbolic.budget import Deadline

    net = from_layers([([[1, -1], [1, 1]], None), ([[1, 1]], None)])
    with pytest.raises(errors.TimeoutExpired, match="building the difference circuit"):
        equivalence(net, net, box(net.inputs), 0, Config(deadline=Deadline(1e-9, start=0.0)))


def test_symbolic_weights_and_negative_tolerances_are_refused():
    net = from_layers([([[1, -1]], None)])
    w = sp.Symbol("w")
    symbolic = Circuit(("x1", "x2"), (Assignment("y", (("x1", w),), 0, Activation.LINEAR),), ("y",))
    with pytest.raises(errors.ClaimError, match="symbolic weights"):
        equivalence(net, symbolic, box(net.inputs))
    with pytest.raises(errors.ClaimError, match="negative"):
        equivalence(net, net, box(net.inputs), F(-1, 10))
