"""The training recipes themselves: the seed experiments and the census's wide and deep recipes.

A :class:`Recipe` says everything needed to replay one training run for a seed;
:mod:`networks.recipes` trains it. This module imports neither torch nor sympy, except inside
:func:`targets` (torch versions of the target texts).

>>> sorted(r.name for r in RECIPES.values() if r.source == "issue 14")  # doctest: +NORMALIZE_WHITESPACE
['abs_w8', 'median3', 'min2_w16', 'min2_w3', 'min2_w8', 'min3', 'min4_deep', 'min4_flat']
>>> RECIPES['min4_deep'].widths, RECIPES['min4_deep'].domain, RECIPES['min4_deep'].group_by
((4, 8, 4, 1), '[-1, 1]^4', 'extract')

The seed recipes (SEEDS A, B.2, B.3) are described in :mod:`networks.recipes`. The census
recipes of issue 14 ("universality at width") are biasless ReLU MLPs like section A's, trained on
fresh batches of 256 inputs uniform on the bounded box ``[-1, 1]^n`` that is also their domain
(so the census can measure an exact worst-case error), MSE, Adam lr 0.01:

* ``min2_w3``, ``min2_w8``, ``min2_w16``: min of 2 at hidden widths 3 (the minimum), 8 and 16;
* ``min3``: min of 3 with two hidden layers (3, 8, 4, 1); ``median3`` the median of 3, the same
  widths (both need depth: ``max`` of k numbers needs ceil(log2 k) + 1 layers);
* ``min4_deep``: min of 4 with two hidden layers (4, 8, 4, 1): room for two min circuits of 4
  neurons (``(a + b - |a - b|) / 2``) feeding a third; ``min4_flat``: one hidden layer of 16,
  which can only approximate it;
* ``abs_w8``: absolute value at hidden width 8.

``docs/training-findings.md`` gives the measured losses and times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from symbolic.errors import ClaimError

# kinds of model + data set
MLP_FRESH_UNIFORM = "mlp_fresh_uniform"  # biasless ReLU MLP, fresh uniform batches
SKIP_MIN = "skip_min"  # the B.2 article's skip-connection model on fixed integer pairs
RELU_CHAIN = "relu_chain"  # Sequential with a ReLU after every Linear, fixed integer inputs


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one seed experiment trains its network (everything needed to replay it).

    ``group_by`` says how a census groups the seeds: ``"rounding"`` by the rounded canonical
    circuit (the minimal-width seed recipes), ``"extract"`` by the circuit that
    :mod:`proofs.extract` finds inside the trained network (the wide and deep recipes).
    """

    name: str
    description: str
    inputs: tuple[str, ...]  # input names of the trained circuit
    target: str  # the target function, as text the claim parser reads
    domain: str  # the domain the trained net is meant for, as text
    steps: int  # number of batches (section A) or of epochs over the fixed data set
    lr: float
    batch_size: int | None  # samples per step; None means the whole fixed data set
    optimizer: str  # the name of a torch.optim class: "SGD", "Adam"
    widths: tuple[int, ...]  # layer widths, input first, output last
    bias: bool
    kind: str = MLP_FRESH_UNIFORM
    source: str = "SEEDS A"
    step_unit: str = "batch"  # "batch" (a fresh batch per step) or "epoch"
    group_by: str = "rounding"


def _section_a(name: str, description: str, inputs: tuple[str, ...], target: str,
               hidden: int, steps: int = 500) -> Recipe:
    return Recipe(
        name=name, description=description, inputs=inputs, target=target,
        domain="R" if len(inputs) == 1 else f"R^{len(inputs)}", steps=steps, lr=0.1,
        batch_size=1000, optimizer="SGD", widths=(len(inputs), hidden, 1), bias=False,
    )


def _wide(name: str, description: str, target: str, widths: tuple[int, ...], steps: int) -> Recipe:
    n = widths[0]
    inputs = ("x",) if n == 1 else tuple(f"x{i}" for i in range(1, n + 1))
    return Recipe(
        name=name, description=description, inputs=inputs, target=target,
        domain="[-1, 1]" if n == 1 else f"[-1, 1]^{n}", steps=steps, lr=0.01, batch_size=256,
        optimizer="Adam", widths=widths, bias=False, source="issue 14", group_by="extract",
    )


#: ``median(x1, x2, x3)`` as the claim parser reads it.
MEDIAN3 = "max(min(x1, x2), min(max(x1, x2), x3))"

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        _section_a("identity", "identity x = R(x) - R(-x), 2 hidden neurons", ("x",), "x", 2),
        _section_a("negative_identity", "negative identity -x = -R(x) + R(-x)", ("x",), "-x", 2),
        _section_a("absolute_value", "absolute value |x| = R(x) + R(-x)", ("x",), "abs(x)", 2),
        _section_a("addition", "addition x1 + x2 = R(x1 + x2) - R(-x1 - x2)", ("x1", "x2"),
                   "x1 + x2", 2),
        _section_a("subtraction", "subtraction x1 - x2 = R(x1 - x2) - R(x2 - x1)", ("x1", "x2"),
                   "x1 - x2", 2),
        _section_a("minimum", "minimum min(x1, x2) = R(x1) - R(-x1) - R(x1 - x2), 3 hidden neurons",
                   ("x1", "x2"), "min(x1, x2)", 3, steps=10_000),
        Recipe(
            name="min_skip",
            description="min(a, b) with two ReLU neurons and a skip connection (article B.2); "
            "300 epochs on 1000 integer pairs in [-50, 50), Adam lr 0.01, minibatches of 32",
            inputs=("a", "b"), target="min(a, b)", domain="R^2", steps=300, lr=0.01,
            batch_size=32, optimizer="Adam", widths=(2, 2, 1), bias=True, kind=SKIP_MIN,
            source="SEEDS B.2", step_unit="epoch",
        ),
        Recipe(
            name="is_even",
            description="parity of x in 0..15 with a ReLU after every layer (article B.3); "
            "full batch, Adam lr 0.01, 2000 epochs",
            inputs=("x",), target="Mod(x, 2)", domain="x in {0..15}", steps=2000, lr=0.01,
            batch_size=None, optimizer="Adam", widths=(1, 2, 2, 2, 2, 2, 1), bias=True,
            kind=RELU_CHAIN, source="SEEDS B.3", step_unit="epoch",
        ),
        _wide("min2_w3", "min of 2, one hidden layer of 3 (the minimal width)", "min(x1, x2)",
              (2, 3, 1), 1500),
        _wide("min2_w8", "min of 2, one hidden layer of 8", "min(x1, x2)", (2, 8, 1), 1500),
        _wide("min2_w16", "min of 2, one hidden layer of 16", "min(x1, x2)", (2, 16, 1), 1500),
        _wide("min3", "min of 3, two hidden layers (8, 4)", "min(x1, x2, x3)", (3, 8, 4, 1), 1500),
        _wide("min4_deep", "min of 4, two hidden layers (8, 4): room for min(min(a, b), min(c, d))",
              "min(x1, x2, x3, x4)", (4, 8, 4, 1), 1500),
        _wide("min4_flat", "min of 4, one hidden layer of 16 (can only approximate it)",
              "min(x1, x2, x3, x4)", (4, 16, 1), 1500),
        _wide("median3", "median of 3, two hidden layers (8, 4)", MEDIAN3, (3, 8, 4, 1), 1500),
        _wide("abs_w8", "absolute value, one hidden layer of 8", "abs(x)", (1, 8, 1), 1000),
    )
}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; an unknown name raises ``ClaimError`` listing the known ones.

    >>> recipe('abs_w8').widths
    (1, 8, 1)
    """
    if not isinstance(name, str) or name not in RECIPES:
        raise ClaimError(f"unknown training recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def targets() -> dict[str, Callable]:
    """Torch versions of the recipes' target texts (a [batch, n] tensor -> [batch, 1])."""

    def smallest(x):
        return x.min(dim=1, keepdim=True).values

    return {
        "x": lambda x: x[:, :1],
        "-x": lambda x: -x[:, :1],
        "abs(x)": lambda x: x[:, :1].abs(),
        "x1 + x2": lambda x: x[:, :1] + x[:, 1:2],
        "x1 - x2": lambda x: x[:, :1] - x[:, 1:2],
        "min(x1, x2)": smallest,
        "min(a, b)": smallest,
        "min(x1, x2, x3)": smallest,
        "min(x1, x2, x3, x4)": smallest,
        MEDIAN3: lambda x: x.median(dim=1, keepdim=True).values,
        "Mod(x, 2)": lambda x: x[:, :1].remainder(2),
    }
