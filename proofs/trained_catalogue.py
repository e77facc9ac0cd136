"""Catalogue rows for the shipped trained models (SEEDS trainings), read from JSON without torch."""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from networks import json_to_circuit
from networks.recipes import RECIPES, TRAINED_DIR
from proofs.theorem import Theorem
from proofs.text_to_domain import parse_domain
from proofs.text_to_expr import parse_expression
from verify.claim import Claim
from verify.domain import Domain, RealInterval
from verify.result import Verdict

PROVED, REFUTED = Verdict.PROVED, Verdict.REFUTED

#: What each shipped run is expected to give after canonical rounding (findings of
#: docs/training-findings.md under torch 2.13.0): seed 0 of negative identity and absolute value
#: is stuck in the local optimum SEEDS describes; the is_even net predicts 0 everywhere.
EXPECTED = {
    "identity_seed0": PROVED, "identity_seed1": PROVED,
    "negative_identity_seed0": REFUTED, "negative_identity_seed1": PROVED,
    "absolute_value_seed0": REFUTED, "absolute_value_seed1": PROVED,
    "addition_seed0": PROVED, "addition_seed1": PROVED,
    "subtraction_seed0": PROVED, "subtraction_seed1": PROVED,
    "minimum_seed0": PROVED, "minimum_seed1": PROVED, "minimum_seed2": PROVED,
    "min_skip_seed0": PROVED, "min_skip_seed1": PROVED,
    "is_even_seed0": REFUTED,
}
#: Stuck runs: SEEDS says they "return 0 for negative inputs"; proved on the unrounded net.
STUCK = ("negative_identity_seed0", "absolute_value_seed0")


def recipe_claim(circuit, recipe) -> Claim:
    """The claim a trained net of ``recipe`` is meant to satisfy: its target on its domain."""
    return Claim(circuit, parse_expression(recipe.target), parse_domain(recipe.domain, list(circuit.inputs)))


def trained_theorems(directory: Path = TRAINED_DIR) -> list[Theorem]:
    """One theorem per shipped weight file listed in ``EXPECTED`` (a missing file is an error)."""
    theorems = []
    for stem, expected in EXPECTED.items():
        circuit, meta = json_to_circuit.load_with_metadata(Path(directory) / f"{stem}.json")
        recipe = RECIPES[meta["recipe"]]
        claim = recipe_claim(circuit, recipe)
        source = f"SEEDS {recipe.source}: trained {recipe.name}, seed {meta['seed']}, loss {meta['final_loss']:.1e}"
        theorems.append(Theorem(f"trained_{stem}", source, claim, expected, round_first=True))
        if stem in STUCK:
            negative = Domain({circuit.inputs[0]: RealInterval(None, 0)})
            theorems.append(Theorem(f"trained_{stem}_zero_for_negative_inputs",
                                    f"SEEDS {recipe.source}: the stuck run returns 0 for negative inputs",
                                    Claim(circuit, sp.S.Zero, negative), PROVED))
    return theorems

